"""The records a relay and its clients exchange inside their Noise session (docs/protocol.md §9).

Wire shape, as for peer records: one msgpack array ``[type_code, field, ..., pad]``, positional.
Every relay record ends with ``pad``, a byte string of zeros that brings the record to one of a few
bucket sizes (`BUCKETS`), so that someone watching the Wi-Fi sees only the bucket of each frame,
never its exact size. The encoder always writes ``pad`` as msgpack bin 16 (three header bytes
whatever its length), which makes every size from the unpadded one up to the bucket reachable;
receivers accept any bin encoding for it and ignore its contents.

Type codes start at 64, away from the peer records of `messages.py` (1..18): a node that dials a
relay by mistake, or a relay client that reaches a node, fails on the first record with
"unknown type code" instead of misreading anything.

These records are not hashed or signed, so unlike `messages.py` the decoder does not insist on a
canonical encoding; it checks every type, size and count.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, TypeAlias

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.relay_limits import DATA_OVERHEAD as _DATA_OVERHEAD
from p2pchat.core.relay_limits import KEY_LEN, MAX_DATA, MAX_RATE, MAX_RELAY_RECORD

__all__ = [
    "BUCKETS",
    "KEY_LEN",
    "MAX_DATA",
    "MAX_RELAY_RECORD",
    "MAX_STREAM",
    "REFUSED_QUEUE_FULL",
    "Attach",
    "Attached",
    "Deliver",
    "NotHere",
    "Refused",
    "RelayRecord",
    "Send",
    "bucket_for",
    "decode_relay_record",
    "encode_deliver",
    "encode_relay_record",
    "encode_send",
    "wire_cost",
]

# Record sizes a padded record takes. Small chat traffic lands in the first two; bulk in the last.
BUCKETS: Final = (256, 1024, 4096, 16384, MAX_RELAY_RECORD)
MAX_STREAM: Final = 2**32 - 1

# Refused reasons.
REFUSED_QUEUE_FULL: Final = 1  # the receiver is not keeping up; this frame was dropped

_PAD_HEADER: Final = struct.Struct(">BH")  # bin 16: 0xc5, length
_BIN16: Final = 0xC5


def _key(what: str, value: object) -> bytes:
    if type(value) is not bytes or len(value) != KEY_LEN:
        raise ProtocolError(f"{what}: expected a {KEY_LEN}-byte key")
    return value


def _count(what: str, value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{what}: expected an int in {low}..{high}")
    return value


def _data(what: str, value: object) -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_DATA:
        raise ProtocolError(f"{what}: expected 1..{MAX_DATA} bytes")
    return value


@dataclass(frozen=True, slots=True)
class Attach:
    """Client -> relay, the first record: attach me under the key my handshake proved."""

    CODE: ClassVar[int] = 64

    def _fields(self) -> list[object]:
        return []


@dataclass(frozen=True, slots=True)
class Attached:
    """Relay -> client: you are attached; these are the limits (bytes/s and frames/s)."""

    CODE: ClassVar[int] = 65
    max_data: int
    byte_rate: int
    frame_rate: int

    def __post_init__(self) -> None:
        _count("Attached.max_data", self.max_data, 1, MAX_DATA)
        _count("Attached.byte_rate", self.byte_rate, 1, MAX_RATE)
        _count("Attached.frame_rate", self.frame_rate, 1, MAX_RATE)

    def _fields(self) -> list[object]:
        return [self.max_data, self.byte_rate, self.frame_rate]


@dataclass(frozen=True, slots=True)
class Send:
    """Client -> relay: forward `data` of `stream` to the client attached with key `to`.

    `stream` is the sender's number for one end-to-end session with `to` (what a TCP
    connection is between two nodes); the relay passes it on and never looks inside `data`.
    """

    CODE: ClassVar[int] = 66
    to: bytes
    stream: int
    data: bytes

    def __post_init__(self) -> None:
        _key("Send.to", self.to)
        _count("Send.stream", self.stream, 0, MAX_STREAM)
        _data("Send.data", self.data)

    def _fields(self) -> list[object]:
        return [self.to, self.stream, self.data]


@dataclass(frozen=True, slots=True)
class Deliver:
    """Relay -> client: `data` of `stream` from the client attached with key `sender` (proven
    by its handshake with the relay; the end-to-end session inside `data` proves it again)."""

    CODE: ClassVar[int] = 67
    sender: bytes
    stream: int
    data: bytes

    def __post_init__(self) -> None:
        _key("Deliver.sender", self.sender)
        _count("Deliver.stream", self.stream, 0, MAX_STREAM)
        _data("Deliver.data", self.data)

    def _fields(self) -> list[object]:
        return [self.sender, self.stream, self.data]


@dataclass(frozen=True, slots=True)
class NotHere:
    """Relay -> client: nobody is attached with key `to`; the frame of `stream` was dropped."""

    CODE: ClassVar[int] = 68
    to: bytes
    stream: int

    def __post_init__(self) -> None:
        _key("NotHere.to", self.to)
        _count("NotHere.stream", self.stream, 0, MAX_STREAM)

    def _fields(self) -> list[object]:
        return [self.to, self.stream]


@dataclass(frozen=True, slots=True)
class Refused:
    """Relay -> client: a frame of `stream` to `to` was dropped, for `reason` (REFUSED_*)."""

    CODE: ClassVar[int] = 69
    to: bytes
    stream: int
    reason: int

    def __post_init__(self) -> None:
        _key("Refused.to", self.to)
        _count("Refused.stream", self.stream, 0, MAX_STREAM)
        _count("Refused.reason", self.reason, 0, 255)

    def _fields(self) -> list[object]:
        return [self.to, self.stream, self.reason]


RelayRecord: TypeAlias = Attach | Attached | Send | Deliver | NotHere | Refused

_TYPES: dict[int, type[RelayRecord]] = {
    cls.CODE: cls for cls in (Attach, Attached, Send, Deliver, NotHere, Refused)
}
_ARITY: dict[int, int] = {
    Attach.CODE: 0, Attached.CODE: 3, Send.CODE: 3, Deliver.CODE: 3, NotHere.CODE: 2,
    Refused.CODE: 3,
}


def wire_cost(data_len: int) -> int:
    """Bytes a Send or Deliver of `data_len` data bytes takes on the wire at most: padded
    record, the transport message's type byte and tag, and the 2-byte length."""
    return bucket_for(data_len + _DATA_OVERHEAD) + 1 + 16 + 2


def bucket_for(size: int) -> int:
    """The smallest bucket that holds a record of `size` bytes."""
    for bucket in BUCKETS:
        if size <= bucket:
            return bucket
    raise ProtocolError(f"relay record of {size} bytes exceeds {MAX_RELAY_RECORD}")


def _bin_header(size: int) -> bytes:
    """msgpack's own (shortest) header for a byte string of `size` bytes."""
    if size < 0x100:
        return bytes((0xC4, size))
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def encode_relay_record(record: RelayRecord) -> bytes:
    """The record, padded with zeros to its bucket (see the module docstring)."""
    return _encode(record.CODE, record._fields())


def encode_deliver(sender: bytes, stream: int, data: bytes) -> bytes:
    """`encode_relay_record(Deliver(sender, stream, data))` for fields already checked (the
    relay's per-frame path: they come from a decoded Send and an attached client's key)."""
    return _encode(Deliver.CODE, [sender, stream, data])


def encode_send(to: bytes, stream: int, data: bytes | memoryview) -> bytes:
    """`encode_relay_record(Send(to, stream, data))` for fields the client already holds checked
    (a stream's own peer key and number; `data` a slice of its bytes of 1..MAX_DATA, which may
    be a memoryview so the slice is not copied before the record is): a client's bulk path."""
    if not 0 < len(data) <= MAX_DATA:
        raise ValueError(f"Send data of {len(data)} bytes: expected 1..{MAX_DATA}")
    return _encode(Send.CODE, [to, stream, data])


def _encode(code: int, fields: list[object]) -> bytes:
    # A fixarray header (at most 15 elements), then each element as msgpack writes it: the same
    # bytes msgpack gives for the whole array, built by hand to control pad's header (and to
    # copy each data field once: this is the relay's per-frame path).
    parts: list[bytes | memoryview] = [bytes((0x90 | (len(fields) + 2), code))]  # fixint
    for value in fields:
        if type(value) is bytes or type(value) is memoryview:
            parts += (_bin_header(len(value)), value)
        else:
            parts.append(pack(value))
    size = sum(map(len, parts)) + _PAD_HEADER.size
    pad = bucket_for(size) - size
    parts += (_PAD_HEADER.pack(_BIN16, pad), bytes(pad))
    return b"".join(parts)


def decode_relay_record(data: bytes) -> RelayRecord:
    """Parse one relay record; anything malformed raises ProtocolError and nothing else."""
    obj = unpack(data, max_len=MAX_RELAY_RECORD, max_str=0, max_bin=MAX_RELAY_RECORD,
                 max_array=8, max_map=0, what="relay record")
    if type(obj) is not list or len(obj) < 2:
        raise ProtocolError("relay record: expected an array [type, fields..., pad]")
    code = obj[0]
    if type(code) is not int:
        raise ProtocolError("relay record: the type code is not an int")
    cls = _TYPES.get(code)
    if cls is None:
        raise ProtocolError(f"relay record: unknown type code {code}")
    if type(obj[-1]) is not bytes:
        raise ProtocolError(f"{cls.__name__}: the last field (pad) must be bytes")
    fields = obj[1:-1]
    if len(fields) != _ARITY[code]:
        raise ProtocolError(f"{cls.__name__}: expected {_ARITY[code]} fields, got {len(fields)}")
    record = cls(*fields)  # __post_init__ validates every field, raising ProtocolError
    if len(data) not in BUCKETS:  # padding is a rule, not a convention (protocol.md 9.3)
        raise ProtocolError(f"{cls.__name__}: a record of {len(data)} bytes is not one of the"
                            f" bucket sizes {', '.join(map(str, BUCKETS))}")
    return record
