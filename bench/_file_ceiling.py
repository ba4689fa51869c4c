"""The crypto ceiling of a file transfer: what any implementation of protocol section 13 could
reach on this machine, measured in the same run as the raw pipe and the nodes.

Two processes and a TCP connection on 127.0.0.1, doing only what the protocol obliges, in the
leanest structure we know:

* sender: read the file in 256 KiB chunks; each chunk, behind its FileChunk record head, cut
  into transport messages (an inner type byte and at most 65518 record bytes), each sealed with
  ChaCha20-Poly1305 (the Noise cipher, libsodium through PyNaCl's cffi module, nonce counting
  up) and framed with its 2-byte length; one thread seals while another sends;
* receiver: one thread reads and opens the frames straight into the record's buffer, another
  hashes each chunk (BLAKE2b-256, hashlib), compares it with the hash list's and writes it at
  its offset; the file is fsynced at the end.

No msgpack parse, no event loop, no SQLite, no requests: a real node does all of that too, so
its rate can only be below this one. cffi and hashlib release the GIL on large buffers, so the
threads really overlap (on two cores shared with the other process).
"""

from __future__ import annotations

import os
import queue
import socket
import struct
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from nacl._sodium import ffi, lib

from p2pchat.core.file_records import CHUNK_SIZE, FileChunk, encode_file_record
from p2pchat.core.files import HASH_LEN, chunk_hash
from p2pchat.core.framing import MAX_CHUNK, TAG_LEN

# libsodium picks its SIMD implementations in sodium_init (PyNaCl calls it when nacl.bindings
# is imported, as the node does); without it ChaCha20 runs the portable code at half the speed.
if lib.sodium_init() < 0:
    raise RuntimeError("libsodium failed to initialise")

KEY = bytes(range(32))
_NONCE = struct.Struct("<4xQ").pack
_HEADER = struct.Struct(">H")
T_DATA_MORE, T_DATA_FINAL = 0x10, 0x11  # the inner type bytes' role; values do not matter here
_ID = bytes(16)
QUEUE_DEPTH = 8  # records sealed or read ahead of the socket / of the workers
SEAL_WORKERS = 1  # threads sealing records
OPEN_WORKERS = 1  # threads opening, hashing and writing records (2 were no faster here)


def record_head(index: int, size: int) -> bytes:
    """The FileChunk record's bytes before its data (canonical msgpack)."""
    return encode_file_record(FileChunk(_ID, index, bytes(size)))[:-size or None]


def hash_list(path: Path) -> bytes:
    out = bytearray()
    with path.open("rb") as handle:
        while data := handle.read(CHUNK_SIZE):  # bounded by the file's size
            out += chunk_hash(data)
    return bytes(out)


def _seal_record(record: memoryview, counter: list[int]) -> bytearray:
    """Every transport frame of one record: [len][ChaChaPoly(inner byte || piece)]..."""
    pieces = max(1, -(-len(record) // MAX_CHUNK))
    out = bytearray(len(record) + pieces * (2 + 1 + TAG_LEN))
    plain = bytearray(1 + MAX_CHUNK)
    out_c = ffi.from_buffer(out)
    pos = 0
    for i in range(pieces):
        piece = record[i * MAX_CHUNK:(i + 1) * MAX_CHUNK]
        plain[0] = T_DATA_FINAL if i == pieces - 1 else T_DATA_MORE
        plain[1:1 + len(piece)] = piece
        n = 1 + len(piece)
        _HEADER.pack_into(out, pos, n + TAG_LEN)
        lib.crypto_aead_chacha20poly1305_ietf_encrypt(
            out_c + pos + 2, ffi.NULL, ffi.from_buffer(plain), n, ffi.NULL, 0, ffi.NULL,
            _NONCE(counter[0]), KEY)
        counter[0] += 1
        pos += 2 + n + TAG_LEN
    return out


def _wire_size(record_len: int) -> int:
    pieces = max(1, -(-record_len // MAX_CHUNK))
    return record_len + pieces * (2 + 1 + TAG_LEN)


def _pieces(record_len: int) -> int:
    return max(1, -(-record_len // MAX_CHUNK))


def _layer_lengths(record_len: int, layers: int) -> list[int]:
    """The bytes each layer seals, innermost first: the record, then its frames (a relay hop
    carries the inner session's frames as the data of its own records)."""
    lengths = [record_len]
    for _ in range(layers - 1):
        lengths.append(_wire_size(lengths[-1]))
    return lengths


def _seal_layers(record: memoryview, counters: list[int]) -> bytearray:
    """Seal `record` once per layer, innermost first, layer i's nonces from counters[i]."""
    wire = bytearray()
    for layer, first in enumerate(counters):
        wire = _seal_record(record if layer == 0 else memoryview(wire), [first])
    return wire


def send(sock: socket.socket, path: Path, layers: int = 1) -> None:
    """Read each chunk into its record; SEAL_WORKERS threads seal records (each knowing its first
    nonce), this thread hands them, in order, to another that writes them to the socket.
    `layers` 2: each record sealed again as the data of a relay hop's records."""
    sealed: queue.Queue[Future[bytearray] | None] = queue.Queue(QUEUE_DEPTH)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (item := sealed.get()) is not None:  # ends with the None sent last
                sock.sendall(item.result())
        except BaseException as exc:  # reported by the reading thread
            failure.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    size = path.stat().st_size
    index = 0
    counters = [0] * layers
    with ThreadPoolExecutor(SEAL_WORKERS) as pool, path.open("rb", buffering=0) as handle:
        while index * CHUNK_SIZE < size and not failure:  # bounded by the file's size
            length = min(CHUNK_SIZE, size - index * CHUNK_SIZE)
            head = record_head(index, length)
            record = bytearray(len(head) + length)
            record[:len(head)] = head
            handle.readinto(memoryview(record)[len(head):])
            sealed.put(pool.submit(_seal_layers, memoryview(record), list(counters)))
            for layer, n in enumerate(_layer_lengths(len(record), layers)):
                counters[layer] += _pieces(n)
            index += 1
        sealed.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _open_record(wire: bytearray, counter: int, record_len: int) -> bytearray:
    """A record from its frames (opened in place, one spare byte in front: each piece is opened
    one byte before where it goes, its inner type byte landing on the previous piece's last
    byte, which is put back)."""
    record = bytearray(1 + record_len)
    rec_c = ffi.from_buffer(record)
    wire_c = ffi.from_buffer(wire)
    pos = filled = 0
    while pos < len(wire):  # bounded: one record's frames
        n = _HEADER.unpack_from(wire, pos)[0]
        keep = record[filled]
        if lib.crypto_aead_chacha20poly1305_ietf_decrypt(
                rec_c + filled, ffi.NULL, ffi.NULL, wire_c + pos + 2, n, ffi.NULL, 0,
                _NONCE(counter), KEY) != 0:
            raise RuntimeError("a frame fails its tag")
        counter += 1
        record[filled] = keep
        filled += n - TAG_LEN - 1
        pos += 2 + n
    if filled != record_len:
        raise RuntimeError("a record of the wrong length")
    return record


def _open_layers(wire: bytearray | memoryview, counters: list[int],
                 lengths: list[int]) -> memoryview:
    """A record from its frames sealed once per layer (outermost opened first)."""
    for first, length in zip(reversed(counters), reversed(lengths), strict=True):
        wire = memoryview(_open_record(wire, first, length))[1:]
    return wire


def _recv_exactly(conn: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:  # bounded: n bytes
        step = conn.recv_into(view[got:])
        if not step:
            raise RuntimeError("the sender closed early")
        got += step
    return buf


def _record_lengths(size: int) -> list[int]:
    count = max(1, -(-size // CHUNK_SIZE))
    return [len(record_head(i, min(CHUNK_SIZE, size - i * CHUNK_SIZE)))
            + min(CHUNK_SIZE, size - i * CHUNK_SIZE) for i in range(count)]


def forward(inbound: socket.socket, outbound: socket.socket, size: int) -> None:
    """A relay hop: open each record of the sender's hop (its data: the inner session's
    frames) and seal it again for the receiver's hop, in a worker thread; a writer thread
    sends. What a relay must do with every byte, and nothing more."""
    sealed: queue.Queue[Future[bytearray] | None] = queue.Queue(QUEUE_DEPTH)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (item := sealed.get()) is not None:  # ends with the None sent last
                outbound.sendall(item.result())
        except BaseException as exc:  # reported by the reading thread
            failure.append(exc)

    def hop(wire: bytearray, counter: int, inner_len: int) -> bytearray:
        return _seal_record(memoryview(_open_record(wire, counter, inner_len))[1:], [counter])

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    counter = 0
    with ThreadPoolExecutor(SEAL_WORKERS) as pool:
        for record_len in _record_lengths(size):
            if failure:
                break
            inner_len = _wire_size(record_len)
            wire = _recv_exactly(inbound, _wire_size(inner_len))
            sealed.put(pool.submit(hop, wire, counter, inner_len))
            counter += _pieces(inner_len)
        sealed.put(None)
        thread.join()
    if failure:
        raise failure[0]


def receive(conn: socket.socket, dest: str, size: int, hashes: bytes, layers: int = 1) -> None:
    """Read each record's frames (this thread); OPEN_WORKERS threads open the frames (once per
    layer), hash the chunk, compare it with the hash list's and write it at its offset; fsync
    at the end."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    def work(wire: bytearray, counters: list[int], lengths: list[int], index: int) -> None:
        record = _open_layers(wire, counters, lengths)
        data = record[lengths[0] - min(CHUNK_SIZE, size - index * CHUNK_SIZE):]
        if chunk_hash(data) != hashes[index * HASH_LEN:(index + 1) * HASH_LEN]:
            raise RuntimeError(f"chunk {index} fails its hash")
        os.pwrite(fd, data, index * CHUNK_SIZE)

    pending: deque[Future[None]] = deque()
    counters = [0] * layers
    with ThreadPoolExecutor(OPEN_WORKERS) as pool:
        for index, record_len in enumerate(_record_lengths(size)):
            # The receiver learns a record's length from its frames' headers; here it knows
            # them in advance, which saves nothing that matters (a header is 2 bytes).
            lengths = _layer_lengths(record_len, layers)
            wire = _recv_exactly(conn, _wire_size(lengths[-1]))
            pending.append(pool.submit(work, wire, list(counters), lengths, index))
            for layer, n in enumerate(lengths):
                counters[layer] += _pieces(n)
            while len(pending) > QUEUE_DEPTH or (pending and pending[0].done()):
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    os.fsync(fd)
    os.close(fd)


def primitives_cpu_s_per_gib(mib: int = 64) -> float:
    """CPU seconds per GiB of the three primitives alone, one thread, no I/O: seal and open
    every transport message of a chunk and hash the chunk (the floor under any structure)."""
    record = bytearray(os.urandom(CHUNK_SIZE + 24))
    view = memoryview(record)
    started = time.process_time()
    for i in range(mib * 4):  # 4 chunks a MiB
        wire = _seal_record(view, [i * 5])
        opened = _open_record(wire, i * 5, len(record))
        chunk_hash(memoryview(opened)[25:])
    return (time.process_time() - started) / mib * 1024
