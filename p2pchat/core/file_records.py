"""The records of a file transfer (docs/protocol.md section 13) and their codec.

They share the shape of every other record (`[type, field, ...]`, canonical msgpack), but a
chunk is far bigger than a chat record may be, so they have their own type codes (48..53) and
their own decoder with its own limits. `file_record_code` tells the node, from the first two
bytes, that a record is one of these before anything else parses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError

__all__ = [
    "ANSWER_CANCELLED",
    "ANSWER_DECLINED",
    "ANSWER_DONE",
    "ANSWER_FAILED",
    "CHUNK_SIZE",
    "FILE_ID_LEN",
    "HASHES_PER_RECORD",
    "MAX_FILE_NAME_BYTES",
    "MAX_WIRE_FILE_SIZE",
    "FileAnswer",
    "FileChunk",
    "FileGet",
    "FileHashGet",
    "FileHashes",
    "FileOffer",
    "FileRecord",
    "decode_file_body",
    "decode_file_record",
    "encode_file_body",
    "encode_file_record",
    "file_record_code",
]

REVISION = 3  # the protocol revision that added these records (protocol.md 12)
CHUNK_SIZE = 256 * 1024  # every chunk but a file's last is exactly this long
FILE_ID_LEN = 16
HASH_LEN = 32
# 64 GiB: 262144 chunks, a hash list of 8 MiB. A node may accept less (its own setting).
MAX_WIRE_FILE_SIZE = 64 * 1024**3
MAX_CHUNKS = MAX_WIRE_FILE_SIZE // CHUNK_SIZE
HASHES_PER_RECORD = 8192  # 256 KiB of hashes in one FileHashes
MAX_FILE_NAME_BYTES = 1020  # UTF-8 bytes of an offered name, before the receiver cleans it
# A sender's reason a transfer ended, or the receiver's: carried by FileAnswer.
ANSWER_DECLINED = 2
ANSWER_CANCELLED = 3
ANSWER_DONE = 4
ANSWER_FAILED = 5
# A fellow group member asked for hashes or a chunk of a group's file that we do not hold:
# ask another member.
ANSWER_NOT_HERE = 6
_ANSWERS = (ANSWER_DECLINED, ANSWER_CANCELLED, ANSWER_DONE, ANSWER_FAILED, ANSWER_NOT_HERE)
_MAX_RECORD = CHUNK_SIZE + 256


def _int(what: str, value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{what}: expected an int in [{low}, {high}]")
    return value


def _bin(what: str, value: object, *, exact: int | None = None, maximum: int = 0) -> bytes:
    if type(value) is not bytes:
        raise ProtocolError(f"{what}: expected bytes")
    if exact is not None and len(value) != exact:
        raise ProtocolError(f"{what}: expected {exact} bytes, got {len(value)}")
    if exact is None and len(value) > maximum:
        raise ProtocolError(f"{what}: {len(value)} bytes exceeds the limit of {maximum}")
    return value


@dataclass(frozen=True, slots=True)
class FileOffer:
    """The sender's offer: a name (hostile until cleaned), a size and the root hash."""

    CODE: ClassVar[int] = 48
    id: bytes
    name: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        _bin("FileOffer.id", self.id, exact=FILE_ID_LEN)
        if type(self.name) is not str or not self.name:
            raise ProtocolError("FileOffer.name: expected a non-empty str")
        try:
            if len(self.name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
                raise ProtocolError(f"FileOffer.name: over {MAX_FILE_NAME_BYTES} bytes")
        except UnicodeEncodeError:
            raise ProtocolError("FileOffer.name: not valid Unicode") from None
        _int("FileOffer.size", self.size, 0, MAX_WIRE_FILE_SIZE)
        _bin("FileOffer.root", self.root, exact=HASH_LEN)

    def _fields(self) -> list[object]:
        return [self.id, self.name, self.size, self.root]


@dataclass(frozen=True, slots=True)
class FileAnswer:
    """Either side: the transfer ended (declined, cancelled, done, failed)."""

    CODE: ClassVar[int] = 49
    id: bytes
    answer: int

    def __post_init__(self) -> None:
        _bin("FileAnswer.id", self.id, exact=FILE_ID_LEN)
        if self.answer not in _ANSWERS or type(self.answer) is not int:
            raise ProtocolError("FileAnswer.answer: unknown answer")

    def _fields(self) -> list[object]:
        return [self.id, self.answer]


@dataclass(frozen=True, slots=True)
class FileHashGet:
    """The receiver asks for `count` chunk hashes from chunk `first` on."""

    CODE: ClassVar[int] = 50
    id: bytes
    first: int
    count: int

    def __post_init__(self) -> None:
        _bin("FileHashGet.id", self.id, exact=FILE_ID_LEN)
        _int("FileHashGet.first", self.first, 0, MAX_CHUNKS - 1)
        _int("FileHashGet.count", self.count, 1, HASHES_PER_RECORD)

    def _fields(self) -> list[object]:
        return [self.id, self.first, self.count]


@dataclass(frozen=True, slots=True)
class FileHashes:
    """The sender's answer: the hashes of chunks `first`.., 32 bytes each, concatenated."""

    CODE: ClassVar[int] = 51
    id: bytes
    first: int
    hashes: bytes

    def __post_init__(self) -> None:
        _bin("FileHashes.id", self.id, exact=FILE_ID_LEN)
        _int("FileHashes.first", self.first, 0, MAX_CHUNKS - 1)
        _bin("FileHashes.hashes", self.hashes, maximum=HASHES_PER_RECORD * HASH_LEN)
        if not self.hashes or len(self.hashes) % HASH_LEN:
            raise ProtocolError("FileHashes.hashes: expected a non-empty multiple of 32 bytes")

    def _fields(self) -> list[object]:
        return [self.id, self.first, self.hashes]


@dataclass(frozen=True, slots=True)
class FileGet:
    """The receiver asks for one chunk."""

    CODE: ClassVar[int] = 52
    id: bytes
    index: int

    def __post_init__(self) -> None:
        _bin("FileGet.id", self.id, exact=FILE_ID_LEN)
        _int("FileGet.index", self.index, 0, MAX_CHUNKS - 1)

    def _fields(self) -> list[object]:
        return [self.id, self.index]


@dataclass(frozen=True, slots=True)
class FileChunk:
    """One chunk's bytes (CHUNK_SIZE, or fewer for the file's last). A decoded chunk's `data`
    is a read-only view of the record it came in (no copy of 256 KiB)."""

    CODE: ClassVar[int] = 53
    id: bytes
    index: int
    data: bytes | memoryview

    def __post_init__(self) -> None:
        _bin("FileChunk.id", self.id, exact=FILE_ID_LEN)
        _int("FileChunk.index", self.index, 0, MAX_CHUNKS - 1)
        if type(self.data) is memoryview:
            if len(self.data) > CHUNK_SIZE:
                raise ProtocolError(f"FileChunk.data: {len(self.data)} bytes exceeds the "
                                    f"limit of {CHUNK_SIZE}")
        else:
            _bin("FileChunk.data", self.data, maximum=CHUNK_SIZE)

    def _fields(self) -> list[object]:
        return [self.id, self.index, self.data]


FileRecord: TypeAlias = FileOffer | FileAnswer | FileHashGet | FileHashes | FileGet | FileChunk

_TYPES: dict[int, tuple[type[FileRecord], int]] = {
    cls.CODE: (cls, arity) for cls, arity in (
        (FileOffer, 4), (FileAnswer, 2), (FileHashGet, 3), (FileHashes, 3), (FileGet, 2),
        (FileChunk, 3),
    )
}


def _bin_header(n: int) -> bytes:
    """msgpack's shortest bin header for n bytes."""
    if n < 256:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 65536:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def file_record_code(data: bytes) -> int | None:
    """The type code when `data` is a file record (a msgpack fixarray whose first element is a
    positive fixint 48..63), else None: the node routes it here instead of `decode_record`."""
    if len(data) >= 2 and 0x91 <= data[0] <= 0x9F and 48 <= data[1] <= 63:
        return data[1]
    return None


def encode_file_record(record: FileRecord) -> bytes:
    return pack([record.CODE, *record._fields()])


_INT_SIZES = {0xCC: 1, 0xCD: 2, 0xCE: 4}
_BIN_SIZES = {0xC4: 1, 0xC5: 2, 0xC6: 4}


def _chunk_view(data: bytes) -> FileChunk | None:
    """A FileChunk record read without copying its data (which stays a view of `data`), or
    None to let the general decoder judge it. Only a record whose head is exactly the
    canonical encoding of the fields read from it is taken, so it is the record the general
    decoder would accept, field for field."""
    if len(data) < 23 or data[0] != 0x94 or data[1] != FileChunk.CODE or data[2:4] != b"\xc4\x10":
        return None
    pos = 20
    marker = data[pos]
    if marker < 0x80:
        index, pos = marker, pos + 1
    elif marker in _INT_SIZES:
        size = _INT_SIZES[marker]
        index, pos = int.from_bytes(data[pos + 1:pos + 1 + size], "big"), pos + 1 + size
    else:
        return None
    bin_size = _BIN_SIZES.get(data[pos]) if pos < len(data) else None
    if bin_size is None:
        return None
    length = int.from_bytes(data[pos + 1:pos + 1 + bin_size], "big")
    start = pos + 1 + bin_size
    if start + length != len(data) or length > CHUNK_SIZE or index >= MAX_CHUNKS:
        return None
    head = pack([FileChunk.CODE, data[4:20], index, b""])[:-2] + _bin_header(length)
    if data[:start] != head:
        return None
    return FileChunk(data[4:20], index, memoryview(data).toreadonly()[start:])


def decode_file_record(data: bytes) -> FileRecord:
    """Parse one file record; anything malformed (or an unknown code 48..63) is ProtocolError."""
    chunk = _chunk_view(data)
    if chunk is not None:
        return chunk
    obj = unpack(data, max_len=_MAX_RECORD, max_str=MAX_FILE_NAME_BYTES, max_bin=CHUNK_SIZE,
                 max_array=8, max_map=0, what="file record")
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise ProtocolError("file record: expected [type, fields...]")
    known = _TYPES.get(obj[0])
    if known is None:
        raise ProtocolError(f"file record: unknown type code {obj[0]}")
    cls, arity = known
    if len(obj) - 1 != arity:
        raise ProtocolError(f"{cls.__name__}: expected {arity} fields, got {len(obj) - 1}")
    record = cls(*obj[1:])
    if type(record) is FileChunk:
        # The parse consumed every byte and the chunk's bytes end the record, so comparing
        # everything before them with their canonical form checks the whole record without
        # copying 256 KiB once more.
        head = pack([record.CODE, record.id, record.index, b""])[:-2] + \
            _bin_header(len(record.data))
        if data[:len(head)] != head or len(data) != len(head) + len(record.data):
            raise ProtocolError("FileChunk: non-canonical encoding")
    elif encode_file_record(record) != data:
        raise ProtocolError(f"{cls.__name__}: non-canonical encoding")
    return record


# --- a file offered in a group: the body of a group message -------------------------------------


def encode_file_body(offer: FileOffer, text: str) -> bytes:
    """A group message that offers a file: the map {"file": [id, name, size, root], "text":
    what a node that does not know files shows}."""
    return pack({"file": [offer.id, offer.name, offer.size, offer.root], "text": text})


def decode_file_body(body: bytes) -> FileOffer | None:
    """The offer a message body carries, or None (a plain text, or anything malformed)."""
    try:
        obj = unpack(body, max_len=MAX_FILE_NAME_BYTES + 16 * 1024 + 128,
                     max_str=16 * 1024, max_bin=HASH_LEN, max_array=4, max_map=2,
                     what="file body")
    except ProtocolError:
        return None
    if type(obj) is not dict or list(obj) != ["file", "text"]:
        return None
    fields = obj["file"]
    if type(fields) is not list or len(fields) != 4:
        return None
    try:
        return FileOffer(*fields)
    except ProtocolError:
        return None
