"""Typed application records and their codec.

A session hands us opaque, already-authenticated record bytes; this module turns them into frozen
dataclasses and back. Wire shape: one msgpack array ``[type_code, field1, field2, ...]``, fields
positional (compact, and there is exactly one way to lay a record out).

Canonical encoding: the decoder re-encodes every record it parses and refuses input whose bytes
differ. So the bytes that travelled are always ``encode_record(decoded)``, which is what makes
``envelope_hash`` and ``Envelope.signing_bytes`` cover the exact received bytes without anyone
keeping them around (DESIGN: "nothing is re-encoded before verifying" — here re-encoding is
provably the identity). It also rejects non-minimal ints, duplicate or unsorted map keys and
trailing bytes in one stroke.

The group records live in `core/group_messages.py` and the fields' limits and checks in
`core/record_fields.py`; this module holds the 1:1 and sync records, the one codec for all of
them, and re-exports every name, so callers import records from here.

Every problem with input, whether it came off the wire or from a local caller constructing a
record, raises ``ProtocolError`` with a message that says what was wrong.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.group_messages import (
    GroupCheckpoint,
    GroupDigest,
    GroupHolders,
    GroupInvite,
        GroupJoins,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupLostKey,
    GroupOp,
    GroupOpKind,
    GroupPrune,
)
from p2pchat.core.record_fields import (
    CONV_ID_LEN,
    GROUP_KEY_CHECK_LEN,
    GROUP_KEY_LEN,
    HASH_LEN,
    KEY_LEN,
    LARGE_RECORD_CODES,
    MAX_BODY_LEN,
    MAX_GROUP_OPS,
    MAX_INT,
    MAX_NOTE_CHARS,
    MAX_PORTS,
    MAX_RECORD_ARRAY,
    MAX_RECORD_CONTAINERS,
    MAX_RECORD_LEN,
    MAX_RECORD_STR_BYTES,
    MAX_REQUEST_SPAN,
    MAX_SENT_AT,
    MAX_TEXT_BYTES,
    MAX_VECTOR_AUTHORS,
    PERSON_DM,
    PERSON_ENVELOPE,
    REVISION_3_RECORD_LEN,
    SIG_LEN,
    ZERO_HASH,
    check_bytes,
    check_int,
    check_name,
    check_str,
)
from p2pchat.core.text import MAX_NAME_CHARS

__all__ = [
    "CONV_ID_LEN",
    "GROUP_KEY_CHECK_LEN",
    "GROUP_KEY_LEN",
    "HASH_LEN",
    "KEY_LEN",
    "MAX_BODY_LEN",
    "MAX_GROUP_OPS",
    "MAX_INT",
    "MAX_NAME_CHARS",
    "MAX_NOTE_CHARS",
    "MAX_RECORD_LEN",
    "MAX_REQUEST_SPAN",
    "MAX_SENT_AT",
    "MAX_TEXT_BYTES",
    "MAX_VECTOR_AUTHORS",
    "SIG_LEN",
    "ZERO_HASH",
    "ContactAccept",
    "ContactRequest",
    "Envelope",
    "GroupCheckpoint",
    "GroupDigest",
    "GroupHolders",
    "GroupInvite",
    "GroupJoins",
    "GroupKey",
    "GroupKeyRequest",
    "GroupLeave",
    "GroupLostKey",
    "GroupOp",
    "GroupOpKind",
    "GroupPrune",
    "Hello",
    "Record",
    "SyncRequest",
    "SyncVector",
    "UnknownRecord",
    "decode_record",
    "decode_text",
    "dm_conversation_id",
    "encode_record",
    "encode_text",
    "envelope_hash",
]


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First record each side sends after the handshake.

    ``knows_you`` says whether the sender has the receiver as a contact, so someone who added
    us knows to send a ContactRequest; ``ports`` are the TCP ports the sender listens on, so a
    peer that reached us can dial back later.
    """

    CODE: ClassVar[int] = 1
    name: str
    software: str
    knows_you: bool = False
    ports: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_name("Hello.name", self.name)
        check_str("Hello.software", self.software, MAX_NAME_CHARS)
        if type(self.knows_you) is not bool:
            raise ProtocolError("Hello.knows_you: expected bool")
        if type(self.ports) not in (list, tuple) or len(self.ports) > MAX_PORTS:
            raise ProtocolError(f"Hello.ports: expected at most {MAX_PORTS} ports")
        for port in self.ports:
            if type(port) is not int or not 0 < port < 65536:
                raise ProtocolError(f"Hello.ports: {port!r} is not a port")
        object.__setattr__(self, "ports", tuple(self.ports))

    def _fields(self) -> list[object]:
        return [self.name, self.software, self.knows_you, list(self.ports)]


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A stranger asking to be added as a contact (the key comes from the session)."""

    CODE: ClassVar[int] = 2
    name: str
    note: str

    def __post_init__(self) -> None:
        check_name("ContactRequest.name", self.name)
        check_str("ContactRequest.note", self.note, MAX_NOTE_CHARS, newlines=True)

    def _fields(self) -> list[object]:
        return [self.name, self.note]


@dataclass(frozen=True, slots=True)
class ContactAccept:
    """Tells a stranger their ContactRequest was accepted, so both sides now list each other."""

    CODE: ClassVar[int] = 3
    name: str

    def __post_init__(self) -> None:
        check_name("ContactAccept.name", self.name)

    def _fields(self) -> list[object]:
        return [self.name]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One entry of one author's append-only log in a conversation.

    ``sig`` is empty in 1:1 chats (deniable: the Noise session already authenticates the author)
    and a 64-byte Ed25519 signature over ``signing_bytes()`` in groups.
    ``prev`` is ``envelope_hash`` of the same author's previous envelope in ``conv``
    (``ZERO_HASH`` for seq 1), so a log is a hash chain and a fork is detectable.
    """

    CODE: ClassVar[int] = 16
    conv: bytes
    author: bytes
    seq: int
    lamport: int
    sent_at: int  # unix ms, sender's clock, 0..MAX_SENT_AT: shown, never trusted for ordering
    prev: bytes
    body: bytes
    sig: bytes = b""

    def __post_init__(self) -> None:
        check_bytes("Envelope.conv", self.conv, exact=CONV_ID_LEN)
        check_bytes("Envelope.author", self.author, exact=KEY_LEN)
        check_int("Envelope.seq", self.seq, 1)
        check_int("Envelope.lamport", self.lamport, 1)
        check_int("Envelope.sent_at", self.sent_at, 0, MAX_SENT_AT)
        check_bytes("Envelope.prev", self.prev, exact=HASH_LEN)
        if self.seq == 1 and self.prev != ZERO_HASH:
            raise ProtocolError("Envelope.prev: must be all zeros for seq 1")
        check_bytes("Envelope.body", self.body, maximum=MAX_BODY_LEN)
        check_bytes("Envelope.sig", self.sig, maximum=SIG_LEN)
        if len(self.sig) not in (0, SIG_LEN):
            raise ProtocolError(f"Envelope.sig: must be empty or {SIG_LEN} bytes")

    def _fields(self) -> list[object]:
        return [
            self.conv,
            self.author,
            self.seq,
            self.lamport,
            self.sent_at,
            self.prev,
            self.body,
            self.sig,
        ]

    def signing_bytes(self) -> bytes:
        """The exact bytes an author signs: this envelope's canonical encoding with sig=b""."""
        return pack([self.CODE, *self._fields()[:-1], b""])


@dataclass(frozen=True, slots=True)
class SyncVector:
    """I have every author's log up to these seqs: also the delivery acknowledgement."""

    CODE: ClassVar[int] = 17
    conv: bytes
    vector: dict[bytes, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_bytes("SyncVector.conv", self.conv, exact=CONV_ID_LEN)
        if type(self.vector) is not dict:
            raise ProtocolError("SyncVector.vector: expected a map")
        if len(self.vector) > MAX_VECTOR_AUTHORS:
            raise ProtocolError(
                f"SyncVector.vector: {len(self.vector)} authors exceeds {MAX_VECTOR_AUTHORS}"
            )
        for author, seq in self.vector.items():
            check_bytes("SyncVector author", author, exact=KEY_LEN)
            check_int("SyncVector seq", seq)
        # Own a copy: a frozen record must not change under the caller's feet.
        object.__setattr__(self, "vector", dict(self.vector))

    def _fields(self) -> list[object]:
        # Sorted so the encoding is canonical (see module docstring).
        return [self.conv, dict(sorted(self.vector.items()))]


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Send me envelopes first..last (inclusive) of this author in this conversation."""

    CODE: ClassVar[int] = 18
    conv: bytes
    author: bytes
    first: int
    last: int

    def __post_init__(self) -> None:
        check_bytes("SyncRequest.conv", self.conv, exact=CONV_ID_LEN)
        check_bytes("SyncRequest.author", self.author, exact=KEY_LEN)
        check_int("SyncRequest.first", self.first, 1)
        check_int("SyncRequest.last", self.last, 1)
        if not 0 <= self.last - self.first < MAX_REQUEST_SPAN:
            raise ProtocolError(
                f"SyncRequest: range {self.first}..{self.last} must be ascending and span "
                f"fewer than {MAX_REQUEST_SPAN} seqs"
            )

    def _fields(self) -> list[object]:
        return [self.conv, self.author, self.first, self.last]


Record: TypeAlias = (
    Hello
    | ContactRequest
    | ContactAccept
    | Envelope
    | SyncVector
    | SyncRequest
    | GroupOp
    | GroupInvite
    | GroupKey
    | GroupKeyRequest
    | GroupLeave
    | GroupPrune
    | GroupDigest
    | GroupHolders
    | GroupJoins
    | GroupLostKey
    | GroupCheckpoint
)

_RECORD_TYPES: dict[int, type[Record]] = {
    cls.CODE: cls
    for cls in (
        Hello,
        ContactRequest,
        ContactAccept,
        Envelope,
        SyncVector,
        SyncRequest,
        GroupOp,
        GroupInvite,
        GroupKey,
        GroupKeyRequest,
        GroupLeave,
        GroupPrune,
        GroupDigest,
        GroupHolders,
        GroupJoins,
        GroupLostKey,
        GroupCheckpoint,
    )
}
# Field count per type, so a wrong arity is a ProtocolError and never a TypeError from __init__.
_ARITY: dict[int, int] = {
    Hello.CODE: 4,
    ContactRequest.CODE: 2,
    ContactAccept.CODE: 1,
    Envelope.CODE: 8,
    SyncVector.CODE: 2,
    SyncRequest.CODE: 4,
    GroupOp.CODE: 11,
    GroupInvite.CODE: 3,
    GroupKey.CODE: 3,
    GroupKeyRequest.CODE: 2,
    GroupLeave.CODE: 5,
    GroupPrune.CODE: 2,
    GroupDigest.CODE: 2,
    GroupHolders.CODE: 2,
    GroupJoins.CODE: 2,
    GroupLostKey.CODE: 2,
    GroupCheckpoint.CODE: 12,
}


# --- codec --------------------------------------------------------------------------------------


def encode_record(record: Record) -> bytes:
    """Canonical bytes of a record (validated at construction, so this cannot fail)."""
    # One envelope's path encodes it up to four times (the canonical check on receipt, its
    # hash, sealing it for the store, the record for the link), one envelope at a time:
    # remember the last one. Only envelopes, whose fields are all immutable, and by identity.
    global _last_encoded
    if record is _last_encoded[0]:
        return _last_encoded[1]
    data = pack([record.CODE, *record._fields()])
    if type(record) is Envelope:
        _last_encoded = (record, data)
    return data


_last_encoded: tuple[Envelope | None, bytes] = (None, b"")


class UnknownRecord(ProtocolError):
    """A well-formed record of a type this version does not know (a later version's): the
    receiver ignores it (docs/protocol.md section 7), so new record types stay compatible."""


def decode_record(data: bytes) -> Record:
    """Parse one record; anything malformed raises ProtocolError and nothing else."""
    if len(data) > REVISION_3_RECORD_LEN and (len(data) < 2 or data[1] not in LARGE_RECORD_CODES):
        # Only the records that grow with a group may pass revision 3's cap (protocol 7).
        raise ProtocolError(f"record: {len(data)} bytes exceeds the limit of"
                            f" {REVISION_3_RECORD_LEN} for its type")
    obj = unpack(
        data,
        max_len=MAX_RECORD_LEN,
        max_str=MAX_RECORD_STR_BYTES,
        max_bin=MAX_BODY_LEN,
        max_array=MAX_RECORD_ARRAY,
        max_map=MAX_VECTOR_AUTHORS,
        what="record",
        max_containers=MAX_RECORD_CONTAINERS,
    )
    if type(obj) is not list or not obj:
        raise ProtocolError("record: expected a non-empty array [type, fields...]")
    code = obj[0]
    if type(code) is not int:
        raise ProtocolError(f"record: type code must be an int, got {type(code).__name__}")
    cls = _RECORD_TYPES.get(code)
    if cls is None:
        raise UnknownRecord(f"record: unknown type code {code}")
    fields = obj[1:]
    arity = _ARITY[code]
    if len(fields) != arity and not (code == GroupInvite.CODE and len(fields) == arity + 1):
        raise ProtocolError(f"{cls.__name__}: expected {arity} fields, got {len(fields)}")
    record = cls(*fields)  # __post_init__ validates every field, raising ProtocolError
    if encode_record(record) != data:
        raise ProtocolError(f"{cls.__name__}: non-canonical encoding")
    return record


def envelope_hash(env: Envelope) -> bytes:
    """Message id and prev-hash: BLAKE2b-256 (person "p2pchat-env-v1") of the full encoding."""
    # The path of one message asks for its hash three times (the log's chain, the store's row,
    # the event's id), one envelope at a time: remember the last one. Envelopes are frozen, and
    # the memo holds the envelope itself, so `is` cannot match a different one.
    global _last_hashed
    last_env, last_digest = _last_hashed
    if env is last_env:
        return last_digest
    digest = hashlib.blake2b(encode_record(env), digest_size=HASH_LEN,
                             person=PERSON_ENVELOPE).digest()
    _last_hashed = (env, digest)
    return digest


_last_hashed: tuple[Envelope | None, bytes] = (None, b"")


@functools.lru_cache(maxsize=1024)  # asked for every record a link carries
def dm_conversation_id(key_a: bytes, key_b: bytes) -> bytes:
    """The 1:1 conversation id two keys share; both sides compute it alone, order-independent."""
    check_bytes("dm key", key_a, exact=KEY_LEN)
    check_bytes("dm key", key_b, exact=KEY_LEN)
    low, high = sorted((key_a, key_b))
    return hashlib.blake2b(low + high, digest_size=CONV_ID_LEN, person=PERSON_DM).digest()


# --- text bodies --------------------------------------------------------------------------------


def encode_text(text: str) -> bytes:
    """Body of a text message: msgpack map {"text": text}, text at most 16 KiB of UTF-8."""
    _check_text(text)
    return pack({"text": text})


def decode_text(body: bytes) -> str:
    """Inverse of encode_text. Any other shape raises ProtocolError.

    Control characters are allowed in chat text (tabs, newlines, pasted content); whatever shows
    the text on a terminal must make it safe.
    """
    obj = unpack(
        body,
        # the map header and the "text" key; a file offer (core/file_records.py) adds its
        # "file" entry: id, name (at most 1020 bytes), size and root
        max_len=MAX_TEXT_BYTES + 64 + 1200,
        max_str=MAX_TEXT_BYTES,
        max_bin=HASH_LEN,
        max_array=4,
        max_map=2,
        what="text body",
    )
    if type(obj) is not dict or list(obj) not in (["text"], ["file", "text"]):
        raise ProtocolError('text body: expected the map {"text": str}')
    return _check_text(obj["text"])


def _check_text(text: object) -> str:
    if type(text) is not str:
        raise ProtocolError(f"text: expected str, got {type(text).__name__}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ProtocolError("text: not valid Unicode (lone surrogate)") from None
    if size > MAX_TEXT_BYTES:
        raise ProtocolError(f"text: {size} bytes exceeds the limit of {MAX_TEXT_BYTES}")
    return text
