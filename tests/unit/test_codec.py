"""The one binary codec (core/codec.py): what it refuses, whatever the caller's limits."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.session import _decode_payload

LIMITS = {"max_len": 4096, "max_str": 1024, "max_bin": 1024, "max_array": 64, "max_map": 64}


@given(st.integers(-128, 127))
def test_an_empty_extension_value_is_refused(code: int) -> None:
    # ext 8 with length 0: max_ext_len=0 alone lets it through (msgpack checks length > limit).
    empty = b"\xc7\x00" + code.to_bytes(1, "big", signed=True)
    with pytest.raises(ProtocolError):  # type -1 (timestamp) is refused for its length
        unpack(empty, what="record", **LIMITS)
    with pytest.raises(ProtocolError):
        unpack(b"\x81" + pack("x") + empty, what="record", **LIMITS)  # {"x": ext}


def test_a_handshake_payload_with_an_extension_under_an_unknown_key_is_refused() -> None:
    # docs/protocol.md 3.3: a payload that uses a msgpack extension type is a protocol error,
    # even where unknown keys are otherwise ignored.
    payload = b"\x82" + pack("v") + pack(1) + pack("x") + b"\xc7\x00\x05"  # "x": empty ext 5
    assert msgpack.unpackb(payload)["x"] == msgpack.ExtType(5, b"")  # what a lax reader sees
    with pytest.raises(ProtocolError):
        _decode_payload(payload)


def test_longer_extension_values_are_refused_too() -> None:
    for data in (b"\xd4\x05\x00", b"\xd6\xff\x00\x00\x00\x00", b"\xc7\x01\x05\x00"):
        with pytest.raises(ProtocolError):
            unpack(data, what="record", **LIMITS)


def test_plain_values_still_decode() -> None:
    value = {"a": [1, 2**40, -3], "b": b"\x00" * 16, "c": "text", "d": None, "e": True}
    assert unpack(pack(value), what="record", **LIMITS) == value
