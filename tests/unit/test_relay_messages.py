"""Relay records: round trips, padding to buckets, hostile bytes."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pchat.core.errors import ProtocolError
from p2pchat.core.relay_messages import (
    BUCKETS,
    MAX_DATA,
    MAX_RELAY_RECORD,
    MAX_STREAM,
    REFUSED_QUEUE_FULL,
    Attach,
    Attached,
    Deliver,
    NotHere,
    Refused,
    RelayRecord,
    Send,
    bucket_for,
    decode_relay_record,
    encode_deliver,
    encode_relay_record,
    encode_send,
    wire_cost,
)

keys = st.binary(min_size=32, max_size=32)
datas = st.binary(min_size=1, max_size=MAX_DATA)
streams = st.integers(0, MAX_STREAM)
records: st.SearchStrategy[RelayRecord] = st.one_of(
    st.just(Attach()),
    st.builds(Attached, st.integers(1, MAX_DATA), st.integers(1, 2**32 - 1),
              st.integers(1, 2**32 - 1)),
    st.builds(Send, keys, streams, datas),
    st.builds(Deliver, keys, streams, datas),
    st.builds(NotHere, keys, streams),
    st.builds(Refused, keys, streams, st.integers(0, 255)),
)


@given(records)
def test_round_trip_and_every_record_is_exactly_a_bucket(record: RelayRecord) -> None:
    encoded = encode_relay_record(record)
    assert len(encoded) in BUCKETS
    assert decode_relay_record(encoded) == record


@given(st.integers(1, MAX_DATA), streams)
def test_data_size_maps_to_the_smallest_bucket_that_holds_it(size: int, stream: int) -> None:
    encoded = encode_relay_record(Deliver(bytes(32), stream, bytes(size)))
    unpadded = len(msgpack.packb([67, bytes(32), stream, bytes(size), b""])) + 1  # pad: bin 16
    assert len(encoded) == min(b for b in BUCKETS if b >= unpadded)
    assert wire_cost(size) >= len(encoded) + 19  # type byte, tag, length prefix


def test_the_largest_frame_fills_one_transport_message_exactly() -> None:
    biggest = Send(bytes(32), MAX_STREAM, bytes(MAX_DATA))
    assert len(encode_relay_record(biggest)) == MAX_RELAY_RECORD
    with pytest.raises(ProtocolError):
        Send(bytes(32), 0, bytes(MAX_DATA + 1))


def test_the_layout_is_the_documented_one() -> None:
    # docs/protocol.md §8.3: [66, to, stream, data, pad], pad always bin 16.
    encoded = encode_relay_record(Send(b"k" * 32, 5, b"hi"))
    assert len(encoded) == 256
    assert encoded[:2] == b"\x95\x42"
    assert encoded[2:36] == b"\xc4\x20" + b"k" * 32
    assert encoded[36:41] == b"\x05\xc4\x02hi"
    pad = len(encoded) - 44
    assert encoded[41:44] == b"\xc5" + pad.to_bytes(2, "big") and encoded[44:] == bytes(pad)
    assert encoded == msgpack.packb([66, b"k" * 32, 5, b"hi", bytes(pad)])[:41] + encoded[41:]
    # A peer that pads with a short bin header is understood too.
    short = padded([66, b"k" * 32, 5, b"hi", b""])
    assert len(short) == 256 and short[41] == 0xC4  # bin 8
    assert decode_relay_record(short) == Send(b"k" * 32, 5, b"hi")


def packed_to(obj: list[object], size: int) -> bytes:
    """`obj` packed with its last field (pad) grown so that the record has `size` bytes."""
    base = len(msgpack.packb([*obj[:-1], b""]))
    for n in range(max(0, size - base - 3), size - base + 1):  # bin headers take 2-3 bytes
        data: bytes = msgpack.packb([*obj[:-1], bytes(n)])
        if len(data) == size:
            return data
    raise AssertionError(f"no padding makes {size} bytes")


def padded(obj: list[object]) -> bytes:
    """`obj` packed with its pad grown to the bucket size (any bin header)."""
    return packed_to(obj, bucket_for(len(msgpack.packb([*obj[:-1], b""]))))


@pytest.mark.parametrize("size", [43, 255, 257, 1023, 2000, 65517])
def test_a_record_that_is_not_a_bucket_size_is_refused(size: int) -> None:
    """Padding is enforced: a well-formed record of any other size is a protocol error."""
    record = packed_to([66, b"k" * 32, 5, b"hi", b""], size)
    with pytest.raises(ProtocolError, match="not one of the bucket sizes"):
        decode_relay_record(record)


@pytest.mark.parametrize("obj, problem", [
    ([66, b"k" * 32, 1, b"hi"], "expected 3 fields"),  # no pad: data taken for pad
    ([66, b"k" * 31, 1, b"hi", b""], "32-byte key"),
    ([66, b"k" * 32, 1, b"", b""], "1.."),
    ([66, b"k" * 32, -1, b"hi", b""], "stream"),
    ([66, b"k" * 32, 2**32, b"hi", b""], "stream"),
    ([66, b"k" * 32, 1, "text", b""], "malformed"),  # no strings in relay records
    ([66, b"k" * 32, 1, b"hi", 7], "pad"),
    ([1, b""], "unknown type code 1"),
    ([True, b""], "not an int"),
    ([69, b"k" * 32, 1, 256, b""], "0..255"),
    ([65, 0, 1, 1, b""], "max_data"),
    ({"a": 1}, "malformed"),  # no maps either
    ([64], "expected an array"),
])
def test_malformed_records_are_refused(obj: object, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        decode_relay_record(msgpack.packb(obj))


@given(st.binary(max_size=300))
def test_hostile_bytes_raise_only_protocol_error(data: bytes) -> None:
    try:
        record = decode_relay_record(data)
    except ProtocolError:
        return
    assert decode_relay_record(encode_relay_record(record)) == record


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_relay_record(bytes(MAX_RELAY_RECORD + 1))


def test_refused_reason_constant() -> None:
    assert Refused(bytes(32), 0, REFUSED_QUEUE_FULL).reason == 1


@given(keys, streams, datas)
def test_the_relays_fast_deliver_encoding_is_the_records(key: bytes, stream: int,
                                                         data: bytes) -> None:
    assert encode_deliver(key, stream, data) == encode_relay_record(Deliver(key, stream, data))


@given(keys, streams, st.binary(min_size=1, max_size=MAX_DATA + 100), st.integers(0, 99))
def test_the_clients_fast_send_encoding_is_the_records_from_a_slice(
        key: bytes, stream: int, data: bytes, skip: int) -> None:
    """What `RelayConnection.send` writes: a memoryview slice of a stream's bytes, encoded
    without a copy of the slice first, is the same record a `Send` of those bytes encodes to."""
    with memoryview(data) as view:
        piece = view[min(skip, len(data) - 1):][:MAX_DATA]
        record = encode_send(key, stream, piece)
        assert record == encode_relay_record(Send(key, stream, bytes(piece)))
        del piece
    assert decode_relay_record(record) == Send(key, stream, data[min(skip, len(data) - 1):][
        :MAX_DATA])


@pytest.mark.parametrize("size", [0, MAX_DATA + 1])
def test_the_fast_send_encoding_refuses_data_no_send_may_hold(size: int) -> None:
    with pytest.raises(ValueError):
        encode_send(bytes(32), 1, bytes(size))
