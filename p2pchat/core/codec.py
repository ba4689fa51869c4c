"""The one binary codec: msgpack, encoded one way and decoded under explicit limits.

Everything that parses bytes from a peer goes through `unpack`, so every size is bounded before
anything is allocated and every kind of malformed input becomes a ProtocolError.
"""

from __future__ import annotations

import msgpack

from p2pchat.core.errors import ProtocolError


def pack(obj: object) -> bytes:
    packed = msgpack.packb(obj, use_bin_type=True)
    assert isinstance(packed, bytes)  # packb without a stream always returns bytes
    return packed


def _refuse_extension(code: int, data: bytes) -> object:
    raise ValueError(f"extension type {code} is not part of the protocol")


def unpack(
    data: bytes,
    *,
    max_len: int,
    max_str: int,
    max_bin: int,
    max_array: int,
    max_map: int,
    what: str,
    max_containers: int | None = None,
) -> object:
    """Exactly one msgpack value from ``data``, refused (ProtocolError) past any limit.

    `what` names the thing being parsed in the error message ("record", "handshake payload").
    `max_containers` bounds the arrays and maps in all (each costs far more memory decoded than
    its one byte on the wire).
    """
    if type(data) is not bytes:
        raise ProtocolError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > max_len:
        raise ProtocolError(f"{what}: {len(data)} bytes exceeds the limit of {max_len}")
    hooks: dict[str, object] = {}
    if max_containers is not None:
        count = [0]

        def counted(value: object) -> object:
            count[0] += 1
            if count[0] > max_containers:
                raise ValueError(f"more than {max_containers} arrays and maps")
            return value

        hooks = {"list_hook": counted, "object_hook": counted}
    unpacker = msgpack.Unpacker(
        None,
        max_buffer_size=max_len,
        raw=False,
        use_list=True,
        strict_map_key=True,
        max_str_len=max_str,
        max_bin_len=max_bin,
        max_array_len=max_array,
        max_map_len=max_map,
        max_ext_len=0,  # the protocol uses no msgpack extension types
        ext_hook=_refuse_extension,  # max_ext_len alone lets an empty one through
        **hooks,
    )
    try:
        unpacker.feed(data)
        obj = unpacker.unpack()
        consumed = unpacker.tell()
    # The C unpacker signals malformed input with a spread of types (OutOfData, FormatError,
    # StackError, ValueError, UnicodeDecodeError, TypeError for bad map keys, ...). All of them
    # mean the same thing to us: the peer sent garbage.
    except Exception as exc:
        raise ProtocolError(f"{what}: malformed msgpack ({exc})") from None
    if consumed != len(data):
        raise ProtocolError(f"{what}: {len(data) - consumed} trailing bytes")
    return obj
