"""Files, the pure part: chunk hashes and the root, safe names, and a download's state machine.

A file is cut into CHUNK_SIZE chunks; each has a BLAKE2b-256 hash, and the root hash binds the
size and the list of chunk hashes (docs/protocol.md section 13). The receiver first fetches the
hash list and checks it against the root of the offer, then asks for the chunks it lacks, a few
at a time, and checks each against its hash before it counts. `Download` decides what to ask for
next, notices requests that went unanswered and a peer that keeps sending bad data; the node
does the I/O. Time comes in as `now`.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field

from p2pchat.core.file_records import CHUNK_SIZE, HASHES_PER_RECORD, FileGet, FileHashGet
from p2pchat.core.text import is_unsafe

HASH_LEN = 32
_PERSON_CHUNK = b"p2pchat-chunk-v1"
_PERSON_ROOT = b"p2pchat-froot-v1"
MAX_SAVED_NAME_BYTES = 200  # of UTF-8, leaving room for " (NN)" within a file system's 255
WINDOW = 4  # chunks asked for and not yet received, per download
# Chunks received and being hashed and written elsewhere (`take_chunk`), per download: they no
# longer count against the window, so the next one is asked for as soon as one arrives, not
# once it is on disk; this bounds what waits for the disk instead.
CHECKING = 8
REQUEST_TIMEOUT = 15.0  # seconds an asked-for chunk may take before it is asked for again
MAX_TIMEOUTS = 4  # the same chunk unanswered this many times in a row: the sender is gone
MAX_BAD_CHUNKS = 3  # chunks that fail their hash before the download fails


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_SIZE))


def chunk_len(size: int, index: int) -> int:
    """Bytes in chunk `index` of a file of `size` bytes (an empty file has one empty chunk)."""
    return min(CHUNK_SIZE, size - index * CHUNK_SIZE)


def chunk_hash(data: bytes | memoryview) -> bytes:
    # Through update(), not the constructor: CPython (3.11) releases the GIL while hashing a
    # large buffer in update() only, and chunks are hashed in a thread beside the event loop.
    h = hashlib.blake2b(digest_size=HASH_LEN, person=_PERSON_CHUNK)
    h.update(data)
    return h.digest()


def root_hash(size: int, hashes: bytes) -> bytes:
    """BLAKE2b-256 over the size (8 bytes, big-endian) and the concatenated chunk hashes."""
    return hashlib.blake2b(size.to_bytes(8, "big") + hashes, digest_size=HASH_LEN,
                           person=_PERSON_ROOT).digest()


def _bad_char(ch: str) -> bool:
    # Control and bidi characters (the chat's rule), format characters (zero-width, invisible
    # joiners, the Unicode tags) and the separators no file system takes in a name.
    return is_unsafe(ch) or unicodedata.category(ch) in ("Cf", "Zl", "Zp") \
        or ch in "/\\:\x00"


def safe_file_name(offered: str) -> str:
    """What an offered name may be saved as: no separators, no control, bidi or format
    characters, no leading dot or space, at most MAX_SAVED_NAME_BYTES of UTF-8; never empty."""
    name = unicodedata.normalize("NFC", offered)
    name = "".join("_" if ch in "/\\:" else "" if _bad_char(ch) else ch for ch in name)
    name = name.strip().lstrip(". ").rstrip(" .")
    if name in ("", ".", ".."):
        name = "file"
    if len(name.encode("utf-8")) > MAX_SAVED_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext.encode("utf-8")) <= 16 else ""
        base = stem if ext else name
        room = MAX_SAVED_NAME_BYTES - len(ext.encode("utf-8")) - (1 if ext else 0)
        base = base.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .")
        name = f"{base}.{ext}" if ext else base
    return name or "file"


def numbered(name: str, n: int) -> str:
    """The n-th name to try on a collision: "a.pdf", "a (1).pdf", "a (2).pdf"..."""
    if n == 0:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        return f"{stem} ({n}).{ext}"
    return f"{name} ({n})"


@dataclass
class Download:
    """What one download still needs, and what to ask for next (no I/O)."""

    size: int
    root: bytes
    hashes: bytes | None = None  # the verified hash list, once complete
    have: bytearray = field(default_factory=bytearray)  # one bit per chunk
    window: int = WINDOW
    pending: dict[int, float] = field(default_factory=dict)  # chunk -> when asked
    timeouts: int = 0  # consecutive unanswered requests
    bad_chunks: int = 0
    failed: str | None = None
    _parts: dict[int, bytes] = field(default_factory=dict)  # hash list pieces by first chunk
    _hash_pending: dict[int, float] = field(default_factory=dict)
    _next: int = 0  # the lowest chunk that may still be missing
    received: int = 0  # bytes verified so far (set from `have`)
    _missing: int = 0  # chunks not verified yet (set from `have`)
    _checking: set[int] = field(default_factory=set)  # handed out by take_chunk

    def __post_init__(self) -> None:
        count = chunk_count(self.size)
        if len(self.have) != (count + 7) // 8:
            self.have = bytearray((count + 7) // 8)
        self.received = sum(chunk_len(self.size, i) for i in range(count) if self.has(i))
        self._missing = sum(1 for i in range(count) if not self.has(i))

    @property
    def chunks(self) -> int:
        return chunk_count(self.size)

    def has(self, index: int) -> bool:
        return bool(self.have[index >> 3] & (1 << (index & 7)))

    @property
    def done(self) -> bool:
        return self.hashes is not None and self._missing == 0

    def requests(self, now: float, id_: bytes) -> list[FileHashGet | FileGet]:
        """What to ask the sender for now: hash list pieces, then missing chunks, up to the
        window; requests that went unanswered for REQUEST_TIMEOUT are asked again (and after
        MAX_TIMEOUTS in a row the download fails)."""
        if self.failed is not None:
            return []
        out: list[FileHashGet | FileGet] = []
        pending = self._hash_pending if self.hashes is None else self.pending
        expired = [k for k, asked in pending.items() if now - asked >= REQUEST_TIMEOUT]
        if expired:  # one round of requests went unanswered (however many were in it)
            self.timeouts += 1
            if self.timeouts >= MAX_TIMEOUTS:
                self.failed = "the sender stopped sending"
                return []
            for k in expired:
                pending[k] = now
        if self.hashes is None:
            out += [FileHashGet(id_, k, min(HASHES_PER_RECORD, self.chunks - k))
                    for k in expired]
            for first in range(0, self.chunks, HASHES_PER_RECORD):
                if len(self._hash_pending) >= self.window:
                    break
                if first not in self._parts and first not in self._hash_pending:
                    self._hash_pending[first] = now
                    out.append(FileHashGet(id_, first,
                                           min(HASHES_PER_RECORD, self.chunks - first)))
            return out
        out += [FileGet(id_, k) for k in expired]
        while self._next < self.chunks and self.has(self._next):
            self._next += 1
        index = self._next
        while len(self.pending) < self.window and len(self._checking) < CHECKING \
                and index < self.chunks:
            if not self.has(index) and index not in self.pending and index not in self._checking:
                self.pending[index] = now
                out.append(FileGet(id_, index))
            index += 1
        return out

    def reset_requests(self) -> None:
        """The link went: whatever was asked for must be asked for again on the next one."""
        self.pending.clear()
        self._hash_pending.clear()
        self.timeouts = 0

    def on_hashes(self, first: int, hashes: bytes) -> str | None:
        """A piece of the hash list; a problem (the download fails) or None. Once every piece
        is in, the list must match the root, or the download fails."""
        if first not in self._hash_pending:
            return None  # not asked for (or asked already answered): ignored
        expected = min(HASHES_PER_RECORD, self.chunks - first) * HASH_LEN
        if len(hashes) != expected:
            self.failed = "the sender's hash list has the wrong length"
            return self.failed
        del self._hash_pending[first]
        self._parts[first] = hashes
        self.timeouts = 0
        if len(self._parts) * HASHES_PER_RECORD >= self.chunks:
            joined = b"".join(self._parts[k] for k in sorted(self._parts))
            self._parts.clear()
            if root_hash(self.size, joined) != self.root:
                self.failed = "the sender's hash list does not match the offer"
                return self.failed
            self.hashes = joined
        return None

    def check_chunk(self, index: int, data: bytes | memoryview) -> str | None:
        """Whether chunk `index` may be written: None if it verifies, else why not. A chunk
        not asked for is "unasked" (ignored); a bad one is asked for again, and the
        MAX_BAD_CHUNKS-th fails the download."""
        if self.hashes is None or index not in self.pending or index >= self.chunks:
            return "unasked"
        if len(data) != chunk_len(self.size, index) or \
                chunk_hash(data) != self.hashes[index * HASH_LEN:(index + 1) * HASH_LEN]:
            return self._bad(index)
        return None

    def take_chunk(self, index: int, data: bytes | memoryview) -> bytes | str:
        """The first half of `check_chunk`, for a caller that hashes elsewhere (a thread):
        "unasked" (ignore it), "bad" (as in check_chunk), or the hash the chunk must have;
        it is then being checked (no longer pending: the window has room for the next
        request), and `checked` says how that went."""
        if self.hashes is None or index not in self.pending or index in self._checking \
                or index >= self.chunks:
            return "unasked"
        if len(data) != chunk_len(self.size, index):
            return self._bad(index)
        self._checking.add(index)
        del self.pending[index]
        self.timeouts = 0
        return self.hashes[index * HASH_LEN:(index + 1) * HASH_LEN]

    def checked(self, index: int, good: bool) -> str | None:
        """The chunk `take_chunk` handed out verified and was written (None), or was "bad"."""
        self._checking.discard(index)
        if good:
            self.mark(index)
            return None
        return self._bad(index)

    def _bad(self, index: int) -> str:
        self.bad_chunks += 1
        self.pending.pop(index, None)  # asked again by the next requests()
        if self.bad_chunks >= MAX_BAD_CHUNKS:
            self.failed = f"the sender sent {self.bad_chunks} chunks that fail their hash"
        return "bad"

    def mark(self, index: int) -> None:
        """Chunk `index` verified and written."""
        self.pending.pop(index, None)
        if not self.has(index):
            self.received += chunk_len(self.size, index)
            self._missing -= 1
        self.have[index >> 3] |= 1 << (index & 7)
        self.timeouts = 0
