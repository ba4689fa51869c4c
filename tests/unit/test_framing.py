"""Length-prefixed framing: any split of the stream, limits, garbage, the buffering bound."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import ProtocolError
from p2pchat.core.framing import MAX_FRAME, FrameDecoder, encode_frame, frame_header

SETTINGS = settings(derandomize=True, deadline=None, max_examples=200)

payloads = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


def split_stream(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in pairwise(points)]


def decode(decoder: FrameDecoder, chunks: list[bytes]) -> list[bytes]:
    """Feed chunks the way a connection does: drain after every read."""
    frames = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        while (frame := decoder.next_frame()) is not None:
            frames.append(frame)
    return frames


@SETTINGS
@given(frames=payloads, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_split_gives_the_same_frames(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    assert decode(decoder, split_stream(stream, cuts)) == frames
    assert decoder.buffered == 0
    decoder.receive_eof()


@SETTINGS
@given(frames=payloads)
def test_byte_by_byte(frames: list[bytes]) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert decode(FrameDecoder(), chunks) == frames


def test_encode_format() -> None:
    assert encode_frame(b"abc") == b"\x00\x03abc"
    assert encode_frame(bytes(MAX_FRAME))[:2] == b"\xff\xff"
    assert frame_header(3) == b"\x00\x03" and frame_header(MAX_FRAME) == b"\xff\xff"
    for size in (0, MAX_FRAME + 1):  # the session appends header and payload itself
        with pytest.raises(ProtocolError, match=r"1\.\.65535"):
            frame_header(size)


def test_large_frames_in_pieces() -> None:
    frames = [bytes([i]) * MAX_FRAME for i in range(3)] + [b"x"]
    stream = b"".join(encode_frame(f) for f in frames)
    chunks = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    assert decode(FrameDecoder(), chunks) == frames


def test_many_frames_in_one_read() -> None:
    frames = [i.to_bytes(4, "big") for i in range(20000)]
    decoder = FrameDecoder()
    assert decode(decoder, [b"".join(encode_frame(f) for f in frames)]) == frames
    assert decoder.buffered == 0


def test_bytes_like_input() -> None:
    stream = encode_frame(b"hello") + encode_frame(b"world")
    assert decode(FrameDecoder(), [bytearray(stream[:4]), memoryview(stream)[4:]]) == [
        b"hello", b"world"]


def test_zero_length_frame_refused() -> None:
    with pytest.raises(ProtocolError, match=r"1\.\.65535"):
        encode_frame(b"")
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(b"ok") + b"\x00\x00rest")
    assert decoder.next_frame() == b"ok"
    with pytest.raises(ProtocolError, match="zero-length"):
        decoder.next_frame()


def test_oversize_frame_refused() -> None:
    with pytest.raises(ProtocolError, match="cannot frame 65536"):
        encode_frame(bytes(MAX_FRAME + 1))
    decoder = FrameDecoder(max_frame=100)
    decoder.receive_data(encode_frame(bytes(100)))
    assert decoder.next_frame() == bytes(100)
    decoder.receive_data(b"\x00\x65")  # 101, refused from the header alone
    with pytest.raises(ProtocolError, match="101 bytes exceeds the limit of 100"):
        decoder.next_frame()


def test_bad_header_refused_on_receive_too() -> None:
    decoder = FrameDecoder(max_frame=10)
    decoder.receive_data(b"\x00\x0b")
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.receive_data(b"more")


@pytest.mark.parametrize("max_frame", [0, -1, MAX_FRAME + 1])
def test_bad_limit(max_frame: int) -> None:
    with pytest.raises(ValueError):
        FrameDecoder(max_frame)


def test_eof_inside_a_frame() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(b"complete") + b"\x00\x05ab")
    assert decoder.next_frame() == b"complete"
    assert decoder.next_frame() is None
    with pytest.raises(ProtocolError, match="4 bytes pending"):
        decoder.receive_eof()


@SETTINGS
@given(chunks=st.lists(st.binary(max_size=100), max_size=20), max_frame=st.integers(1, 300))
def test_random_bytes_raise_only_protocol_error(chunks: list[bytes], max_frame: int) -> None:
    decoder = FrameDecoder(max_frame)
    try:
        for frame in decode(decoder, chunks):
            assert 0 < len(frame) <= max_frame
        decoder.receive_eof()
    except ProtocolError:
        pass


@SETTINGS
@given(
    frames=st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=20),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
    max_frame=st.integers(200, 400),
)
def test_buffering_bound(frames: list[bytes], cuts: list[int], max_frame: int) -> None:
    decoder = FrameDecoder(max_frame)
    for chunk in split_stream(b"".join(encode_frame(f) for f in frames), cuts):
        before = decoder.buffered
        decoder.receive_data(chunk)
        # Held: at most one incomplete frame (header + max_frame - 1) plus this read.
        assert before <= 1 + max_frame
        assert decoder.buffered <= 1 + max_frame + len(chunk)
        while decoder.next_frame() is not None:
            pass
        assert decoder.buffered <= 1 + max_frame


def test_receive_without_draining_is_refused() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b"\x00\x03a")
    decoder.receive_data(b"b")  # still incomplete: fine
    decoder.receive_data(b"c\x00")  # completes the frame and starts the next: fine
    with pytest.raises(ProtocolError, match="drain next_frame"):
        decoder.receive_data(b"more")  # a complete frame is waiting
    assert decoder.next_frame() == b"abc"
    decoder.receive_data(b"\x02xy")  # drained: accepted again
    assert decoder.next_frame() == b"xy"
    assert decoder.next_frame() is None
