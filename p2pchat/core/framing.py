"""Length-prefixed framing: every Noise message on the wire is `len (2 bytes, big-endian) || msg`.

A frame is 1..65535 bytes (a Noise message is never empty and never longer, spec section 3).
`FrameDecoder` is sans-IO: feed it whatever the socket returned, take frames out.

Contract (what bounds the memory a peer can make us hold): after each `receive_data()` the
caller drains `next_frame()` until it returns None. The decoder then holds at most one
incomplete frame, and `receive_data()` refuses to add bytes while a complete frame is still
waiting, so it never holds more than one frame plus one read.
"""

from __future__ import annotations

import struct

from p2pchat.core.errors import ProtocolError

__all__ = ["HEADER_LEN", "MAX_CHUNK", "MAX_FRAME", "TAG_LEN", "FrameDecoder", "encode_frame",
           "frame_header"]

HEADER_LEN = 2
MAX_FRAME = 65535  # Noise's largest message (section 3), and exactly what a 2-byte length holds
TAG_LEN = 16  # ChaChaPoly tag on every transport message
# Record bytes one transport frame carries: the largest message less its tag and inner-type byte.
MAX_CHUNK = MAX_FRAME - TAG_LEN - 1  # 65518
_HEADER = struct.Struct(">H")


def encode_frame(payload: bytes) -> bytes:
    """`payload` with its 2-byte big-endian length in front."""
    return frame_header(len(payload)) + payload


def frame_header(size: int) -> bytes:
    """The 2-byte header of a frame of `size` bytes: for a caller that appends header and payload
    to its own buffer, sparing `encode_frame`'s copy of the payload."""
    if not 0 < size <= MAX_FRAME:
        raise ProtocolError(f"cannot frame {size} bytes: a frame holds 1..{MAX_FRAME} bytes")
    return _HEADER.pack(size)


class FrameDecoder:
    """Incremental decoder: the same frames come out whatever the split of the stream."""

    __slots__ = ("_buf", "_max_frame", "_pos")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if not 0 < max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be 1..{MAX_FRAME}")
        self._max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0  # start of the unread bytes in _buf: reads never shift the buffer

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos

    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the stream.

        Raises ProtocolError if the pending header is invalid, or if a complete frame is still
        waiting (the caller did not drain `next_frame()`: that would let buffering grow).
        """
        size = self._pending_frame_size()
        if size is not None and self.buffered >= HEADER_LEN + size:
            raise ProtocolError(
                "receive_data() while a complete frame is pending: drain next_frame() first"
            )
        if self._pos:
            # What is left is less than one frame; dropping the consumed prefix is cheap
            # (CPython's bytearray deletes a prefix without moving the rest).
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or None until more data arrives."""
        size = self._pending_frame_size()
        if size is None:
            return None
        start = self._pos + HEADER_LEN
        end = start + size
        if end > len(self._buf):
            return None
        with memoryview(self._buf) as view:  # one copy, straight into the returned bytes
            frame = view[start:end].tobytes()
        if end == len(self._buf):
            self._buf.clear()
            self._pos = 0
        else:
            self._pos = end
        return frame

    def receive_eof(self) -> None:
        """The stream ended: fine between frames, a ProtocolError in the middle of one."""
        if self.buffered:
            raise ProtocolError(f"stream ended inside a frame ({self.buffered} bytes pending)")

    def _pending_frame_size(self) -> int | None:
        """Length declared by the next header (validated), or None if it has not arrived."""
        pos = self._pos
        if len(self._buf) - pos < HEADER_LEN:
            return None
        (size,) = _HEADER.unpack_from(self._buf, pos)
        if size == 0:
            raise ProtocolError("zero-length frame")
        if size > self._max_frame:
            raise ProtocolError(f"frame of {size} bytes exceeds the limit of {self._max_frame}")
        return int(size)
