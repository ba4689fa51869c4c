"""The pure part of files: hashes, records, safe names and a download's state machine."""

from __future__ import annotations

import os

import pytest

from p2pchat.core.errors import ProtocolError
from p2pchat.core.file_records import (
    CHUNK_SIZE,
    HASHES_PER_RECORD,
    FileAnswer,
    FileChunk,
    FileGet,
    FileHashes,
    FileHashGet,
    FileOffer,
    decode_file_record,
    encode_file_record,
    file_record_code,
)
from p2pchat.core.files import (
    CHECKING,
    MAX_BAD_CHUNKS,
    MAX_TIMEOUTS,
    REQUEST_TIMEOUT,
    WINDOW,
    Download,
    chunk_count,
    chunk_hash,
    numbered,
    root_hash,
    safe_file_name,
)
from p2pchat.core.messages import Hello, encode_record

ID = bytes(range(16))


def test_known_answers() -> None:
    # The values docs/protocol.md section 13 gives.
    assert chunk_hash(b"abc").hex() == \
        "337346e9fd626592ca6aadcd0109d6131f1848acea826f48d7ae8da766355dbb"
    assert root_hash(3, chunk_hash(b"abc")).hex() == \
        "7e9ae2c7c16f526778f1394168bd5cfe5a3c4ec58ef7c959e902818c4b9011e2"
    assert chunk_hash(b"").hex() == \
        "0e9d267e4b14381a21001dc6dec72f43c7a82d8cf24b4ed4dfae27fc7d42cf13"
    assert root_hash(4, chunk_hash(b"abc")) != root_hash(3, chunk_hash(b"abc"))


@pytest.mark.parametrize("record", [
    FileOffer(ID, "a.pdf", 10, bytes(32)),
    FileOffer(ID, "x\u202e../", 0, bytes(32)),
    FileAnswer(ID, 4),
    FileHashGet(ID, 0, HASHES_PER_RECORD),
    FileHashes(ID, 3, bytes(64)),
    FileGet(ID, 7),
    FileChunk(ID, 1, os.urandom(CHUNK_SIZE)),
    FileChunk(ID, 0, b""),
])
def test_records_round_trip_and_are_told_apart(record: object) -> None:
    data = encode_file_record(record)  # type: ignore[arg-type]
    assert file_record_code(data) == record.CODE  # type: ignore[attr-defined]
    assert decode_file_record(data) == record


def test_chat_records_are_not_file_records() -> None:
    assert file_record_code(encode_record(Hello(name="a", software="b"))) is None


@pytest.mark.parametrize("data", [
    b"\x92\x34\xc4\x10" + ID,  # FileGet with one field of two
    encode_file_record(FileGet(ID, 1))[:-1] + b"\xcc\x01",  # non-minimal int
    b"\x92\x3f\x00",  # unknown code 63
    encode_file_record(FileChunk(ID, 0, b"abc")) + b"x",  # trailing byte
])
def test_malformed_records_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_file_record(data)


def test_a_chunk_is_decoded_as_a_view_of_its_record_and_only_in_canonical_form() -> None:
    data = os.urandom(CHUNK_SIZE)
    wire = encode_file_record(FileChunk(ID, 70000, data))
    got = decode_file_record(wire)
    assert isinstance(got, FileChunk) and got.index == 70000 and got.data == data
    assert isinstance(got.data, memoryview) and got.data.readonly and got.data.obj is wire
    head = b"\x94\x35\xc4\x10" + ID
    for bad in (head + b"\xcc\x05" + b"\xc4\x03abc",  # an index not in its shortest form
                head + b"\x05" + b"\xc5\x00\x03abc",  # a length not in its shortest form
                head + b"\x05" + b"\xc4\x04abc",  # shorter than it says
                head + b"\xce" + (1 << 20).to_bytes(4, "big") + b"\xc4\x01a",  # index too big
                head + b"\x05" + b"\xc6" + (CHUNK_SIZE + 1).to_bytes(4, "big")
                + bytes(CHUNK_SIZE + 1)):  # data too long
        with pytest.raises(ProtocolError):
            decode_file_record(bad)
    assert decode_file_record(head + b"\x05\xc4\x03abc") == FileChunk(ID, 5, b"abc")


def test_records_refuse_bad_fields() -> None:
    with pytest.raises(ProtocolError):
        FileAnswer(ID, 1)
    with pytest.raises(ProtocolError):
        FileHashes(ID, 0, bytes(33))
    with pytest.raises(ProtocolError):
        FileOffer(ID, "", 1, bytes(32))
    with pytest.raises(ProtocolError):
        FileChunk(ID, 0, bytes(CHUNK_SIZE + 1))


@pytest.mark.parametrize("offered, saved", [
    ("report.pdf", "report.pdf"),
    ("../../x", "_.._x"),
    ("\u202eevil", "evil"),
    ("...", "file"),
    ("\x00\x01", "file"),
    (" .hidden ", "hidden"),
    ("e\u0301.txt", "\u00e9.txt"),  # NFC
])
def test_safe_file_name(offered: str, saved: str) -> None:
    assert safe_file_name(offered) == saved


def test_long_names_keep_their_extension_within_the_bound() -> None:
    name = safe_file_name("é" * 300 + ".jpeg")
    assert name.endswith(".jpeg") and len(name.encode()) <= 200


def test_numbered_names() -> None:
    assert [numbered("a.pdf", n) for n in range(3)] == ["a.pdf", "a (1).pdf", "a (2).pdf"]
    assert numbered("README", 2) == "README (2)"


def make(size: int) -> tuple[Download, list[bytes], bytes]:
    data = os.urandom(size)
    chunks = [data[i:i + CHUNK_SIZE] for i in range(0, size, CHUNK_SIZE)] or [b""]
    hashes = b"".join(chunk_hash(c) for c in chunks)
    return Download(size, root_hash(size, hashes)), chunks, hashes


def test_a_download_asks_for_hashes_then_a_window_of_chunks() -> None:
    dl, chunks, hashes = make(CHUNK_SIZE * 10 + 1)
    assert dl.requests(0.0, ID) == [FileHashGet(ID, 0, 11)]
    assert dl.requests(1.0, ID) == []  # still waiting
    assert dl.on_hashes(0, hashes) is None and dl.hashes == hashes
    asked = dl.requests(2.0, ID)
    assert asked == [FileGet(ID, i) for i in range(WINDOW)]
    for get in asked:
        assert isinstance(get, FileGet)
        assert dl.check_chunk(get.index, chunks[get.index]) is None
        dl.mark(get.index)
    assert dl.received == WINDOW * CHUNK_SIZE
    assert dl.requests(3.0, ID) == [FileGet(ID, i) for i in range(WINDOW, 2 * WINDOW)]


def test_a_chunk_not_asked_for_is_ignored_and_bad_ones_fail_the_download() -> None:
    dl, chunks, hashes = make(CHUNK_SIZE * 3)
    dl.requests(0.0, ID)
    dl.on_hashes(0, hashes)
    assert dl.check_chunk(2, chunks[2]) == "unasked"
    dl.requests(0.0, ID)
    for n in range(MAX_BAD_CHUNKS):
        assert dl.check_chunk(0, b"bad" * 10) == "bad"
        dl.requests(float(n), ID)
    assert dl.failed is not None and dl.requests(9.0, ID) == []


def test_a_wrong_hash_list_fails() -> None:
    dl, _, hashes = make(CHUNK_SIZE * 2)
    dl.requests(0.0, ID)
    assert dl.on_hashes(0, bytes(len(hashes))) is not None and dl.failed


def test_unanswered_requests_are_asked_again_then_given_up() -> None:
    dl, _, hashes = make(CHUNK_SIZE * 2)
    dl.requests(0.0, ID)
    dl.on_hashes(0, hashes)
    dl.requests(0.0, ID)
    now = 0.0
    for _ in range(MAX_TIMEOUTS - 1):
        now += REQUEST_TIMEOUT
        assert FileGet(ID, 0) in dl.requests(now, ID)
    now += REQUEST_TIMEOUT
    assert dl.requests(now, ID) == [] and dl.failed == "the sender stopped sending"


def test_resume_starts_from_the_marked_chunks() -> None:
    dl, _chunks, hashes = make(CHUNK_SIZE * 5)
    have = bytearray([0b00000111])
    resumed = Download(dl.size, dl.root, hashes=hashes, have=have)
    assert resumed.received == 3 * CHUNK_SIZE
    assert resumed.requests(0.0, ID) == [FileGet(ID, 3), FileGet(ID, 4)]
    assert chunk_count(0) == 1


def test_a_chunk_hashed_elsewhere_is_taken_once_and_checked() -> None:
    dl, chunks, hashes = make(CHUNK_SIZE * 2)
    dl.requests(0.0, ID)
    dl.on_hashes(0, hashes)
    dl.requests(0.0, ID)
    expected = dl.take_chunk(0, chunks[0])
    assert expected == chunk_hash(chunks[0])
    assert dl.take_chunk(0, chunks[0]) == "unasked"  # already being checked
    assert dl.take_chunk(1, b"short") == "bad"
    assert dl.checked(0, True) is None and dl.received == CHUNK_SIZE and not dl.done
    assert dl.take_chunk(1, chunks[1]) == "unasked"  # the bad one is asked again first
    assert FileGet(ID, 1) in dl.requests(1.0, ID)
    assert dl.take_chunk(1, chunks[1]) == chunk_hash(chunks[1])
    assert dl.checked(1, False) == "bad" and dl.bad_chunks == 2


def test_a_chunk_taken_for_checking_makes_room_for_the_next_request_within_a_bound() -> None:
    # The next chunk is asked for as soon as one arrives (while it is hashed and written),
    # so the window counts chunks on the wire; at most CHECKING wait to be checked.
    dl, chunks, hashes = make(CHUNK_SIZE * 40)
    dl.requests(0.0, ID)
    dl.on_hashes(0, hashes)
    assert dl.requests(0.0, ID) == [FileGet(ID, i) for i in range(WINDOW)]
    assert dl.take_chunk(0, chunks[0]) == chunk_hash(chunks[0])
    assert dl.requests(0.1, ID) == [FileGet(ID, WINDOW)]  # chunk 0 is not asked again
    for i in range(1, CHECKING - 1):
        assert dl.take_chunk(i, chunks[i]) == chunk_hash(chunks[i])
        assert dl.requests(0.2, ID) == [FileGet(ID, i + WINDOW)]
    last = CHECKING - 1
    assert dl.take_chunk(last, chunks[last]) == chunk_hash(chunks[last])
    assert dl.requests(0.3, ID) == []  # CHECKING chunks wait for the disk: nothing more
    assert dl.checked(0, True) is None and dl.received == CHUNK_SIZE
    assert dl.requests(0.4, ID) == [FileGet(ID, last + WINDOW)]
