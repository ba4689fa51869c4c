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

Every problem with input, whether it came off the wire or from a local caller constructing a
record, raises ``ProtocolError`` with a message that says what was wrong.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.text import MAX_NAME_CHARS, name_problem, text_problem
from p2pchat.core.timestamps import MAX_TIMESTAMP_MS

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
    "GroupInvite",
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

# --- limits -------------------------------------------------------------------------------------

CONV_ID_LEN = 16
KEY_LEN = 32  # Ed25519 public key
HASH_LEN = 32  # BLAKE2b-256
SIG_LEN = 64  # Ed25519 signature
ZERO_HASH = bytes(HASH_LEN)  # prev of an author's first envelope

# Largest int on the wire. Signed 64-bit so the SQLite store can keep every value as INTEGER.
MAX_INT = 2**63 - 1
# Envelope.sent_at: the last millisecond of the year 9999. Anything later cannot be shown as a
# date, and a record that a view cannot render must never get into a store.
MAX_SENT_AT = MAX_TIMESTAMP_MS
MAX_NOTE_CHARS = 280
MAX_BODY_LEN = 64 * 1024
MAX_TEXT_BYTES = 16 * 1024
MAX_VECTOR_AUTHORS = 256
MAX_PORTS = 8
# A SyncRequest covers at most this many seqs (last - first < MAX_REQUEST_SPAN).
MAX_REQUEST_SPAN = 1024
# Largest record: an Envelope with a full body plus its fixed fields (~200 bytes) fits easily;
# a full SyncVector is 256 * ~45 bytes. Anything bigger is refused before it is parsed.
MAX_RECORD_LEN = MAX_BODY_LEN + 4096
# Strings in records are names/notes; 4 bytes per char is the UTF-8 worst case.
_MAX_RECORD_STR_BYTES = 4 * MAX_NOTE_CHARS
_MAX_RECORD_FIELDS = 16
# Groups: a group's whole history of membership changes travels in one GroupInvite, so it is
# bounded; 100 worst-case ops (~460 bytes each) plus 100 heads fit in MAX_RECORD_LEN.
MAX_GROUP_OPS = 100
GROUP_KEY_LEN = 32  # XChaCha20-Poly1305 key
GROUP_KEY_CHECK_LEN = 16  # commitment to an epoch key, carried in the signed op
# The largest array a record may hold: its fields, or a GroupInvite's ops and heads.
_MAX_RECORD_ARRAY = max(_MAX_RECORD_FIELDS, MAX_GROUP_OPS)

# Domain separation for every hash this module defines (BLAKE2b person is at most 16 bytes).
_PERSON_ENVELOPE = b"p2pchat-env-v1"
_PERSON_DM = b"p2pchat-dm-v1"



# --- field validators (all raise ProtocolError) -------------------------------------------------


def _check_int(what: str, value: object, minimum: int = 0, maximum: int = MAX_INT) -> int:
    # `type(...) is int` because bool is an int subclass and must not pass for a number.
    if type(value) is not int:
        raise ProtocolError(f"{what}: expected int, got {type(value).__name__}")
    if value < minimum or value > maximum:
        raise ProtocolError(f"{what}: {value} outside [{minimum}, {maximum}]")
    return value


def _check_bytes(what: str, value: object, *, exact: int | None = None, maximum: int = 0) -> bytes:
    if type(value) is not bytes:
        raise ProtocolError(f"{what}: expected bytes, got {type(value).__name__}")
    if exact is not None and len(value) != exact:
        raise ProtocolError(f"{what}: expected {exact} bytes, got {len(value)}")
    if exact is None and len(value) > maximum:
        raise ProtocolError(f"{what}: {len(value)} bytes exceeds the limit of {maximum}")
    return value


def _check_str(what: str, value: object, max_chars: int, *, newlines: bool = False) -> str:
    if type(value) is not str:
        raise ProtocolError(f"{what}: expected str, got {type(value).__name__}")
    problem = text_problem(value, max_chars, newlines=newlines)
    if problem is not None:
        raise ProtocolError(f"{what}: {problem}")
    return value


def _check_name(what: str, value: object) -> str:
    if type(value) is not str:
        raise ProtocolError(f"{what}: expected str, got {type(value).__name__}")
    problem = name_problem(value)
    if problem is not None:
        raise ProtocolError(f"{what}: {problem}")
    return value


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
        _check_name("Hello.name", self.name)
        _check_str("Hello.software", self.software, MAX_NAME_CHARS)
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
        _check_name("ContactRequest.name", self.name)
        _check_str("ContactRequest.note", self.note, MAX_NOTE_CHARS, newlines=True)

    def _fields(self) -> list[object]:
        return [self.name, self.note]


@dataclass(frozen=True, slots=True)
class ContactAccept:
    """Tells a stranger their ContactRequest was accepted, so both sides now list each other."""

    CODE: ClassVar[int] = 3
    name: str

    def __post_init__(self) -> None:
        _check_name("ContactAccept.name", self.name)

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
        _check_bytes("Envelope.conv", self.conv, exact=CONV_ID_LEN)
        _check_bytes("Envelope.author", self.author, exact=KEY_LEN)
        _check_int("Envelope.seq", self.seq, 1)
        _check_int("Envelope.lamport", self.lamport, 1)
        _check_int("Envelope.sent_at", self.sent_at, 0, MAX_SENT_AT)
        _check_bytes("Envelope.prev", self.prev, exact=HASH_LEN)
        if self.seq == 1 and self.prev != ZERO_HASH:
            raise ProtocolError("Envelope.prev: must be all zeros for seq 1")
        _check_bytes("Envelope.body", self.body, maximum=MAX_BODY_LEN)
        _check_bytes("Envelope.sig", self.sig, maximum=SIG_LEN)
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
        _check_bytes("SyncVector.conv", self.conv, exact=CONV_ID_LEN)
        if type(self.vector) is not dict:
            raise ProtocolError("SyncVector.vector: expected a map")
        if len(self.vector) > MAX_VECTOR_AUTHORS:
            raise ProtocolError(
                f"SyncVector.vector: {len(self.vector)} authors exceeds {MAX_VECTOR_AUTHORS}"
            )
        for author, seq in self.vector.items():
            _check_bytes("SyncVector author", author, exact=KEY_LEN)
            _check_int("SyncVector seq", seq)
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
        _check_bytes("SyncRequest.conv", self.conv, exact=CONV_ID_LEN)
        _check_bytes("SyncRequest.author", self.author, exact=KEY_LEN)
        _check_int("SyncRequest.first", self.first, 1)
        _check_int("SyncRequest.last", self.last, 1)
        if not 0 <= self.last - self.first < MAX_REQUEST_SPAN:
            raise ProtocolError(
                f"SyncRequest: range {self.first}..{self.last} must be ascending and span "
                f"fewer than {MAX_REQUEST_SPAN} seqs"
            )

    def _fields(self) -> list[object]:
        return [self.conv, self.author, self.first, self.last]


# --- group records (semantics and rules: p2pchat/core/groups.py, docs/protocol.md "Groups") -------


class GroupOpKind:
    """What a GroupOp does (an int on the wire)."""

    CREATE = 1  # op 1: subject = creator (first owner), name = creator's name, title = group name
    ADD = 2  # owner adds subject (named `name`); new epoch
    REMOVE = 3  # owner removes subject, whose log ends at `cut`; new epoch
    LEAVE = 4  # owner enacts subject's GroupLeave, log ends at `cut`; new epoch
    TRANSFER = 5  # owner hands ownership to subject (a member); same epoch
    ADMIN = 6  # owner makes subject (a member) an admin; same epoch (revision 3)
    UNADMIN = 7  # owner makes subject an ordinary member again; same epoch (revision 3)

    ALL = (CREATE, ADD, REMOVE, LEAVE, TRANSFER)  # revision 2's kinds
    KNOWN = (*ALL, ADMIN, UNADMIN)
    SAME_EPOCH = (TRANSFER, ADMIN, UNADMIN)  # kinds that keep the epoch (no key_check)
    REVISION_3 = (ADMIN, UNADMIN)  # kinds a revision-2 peer cannot decode
    NAMES: ClassVar[dict[int, str]] = {
        CREATE: "create", ADD: "add", REMOVE: "remove", LEAVE: "leave", TRANSFER: "transfer",
        ADMIN: "admin", UNADMIN: "unadmin",
    }


@dataclass(frozen=True, slots=True)
class GroupOp:
    """One membership change, numbered and signed by the group's owner (before the change), or
    by one of its admins for an add, remove or leave.

    Structural checks only; whether it applies (number, prev, signer, kind rules) is
    ``groups.apply_op``'s job. ``sig`` is over ``signing_bytes()``.
    """

    CODE: ClassVar[int] = 32
    group: bytes
    number: int
    kind: int
    epoch: int
    subject: bytes
    name: str
    title: str
    cut: int
    key_check: bytes
    prev: bytes
    sig: bytes

    def __post_init__(self) -> None:
        _check_bytes("GroupOp.group", self.group, exact=CONV_ID_LEN)
        _check_int("GroupOp.number", self.number, 1)  # no cap: checkpoints (8.14, rev 3)
        if type(self.kind) is not int or self.kind not in GroupOpKind.KNOWN:
            raise ProtocolError(f"GroupOp.kind: unknown kind {self.kind!r}")
        if (self.kind == GroupOpKind.CREATE) != (self.number == 1):
            raise ProtocolError("GroupOp: op 1 and only op 1 is a create")
        _check_int("GroupOp.epoch", self.epoch, 1)
        _check_bytes("GroupOp.subject", self.subject, exact=KEY_LEN)
        _check_str("GroupOp.name", self.name, MAX_NAME_CHARS)
        _check_str("GroupOp.title", self.title, MAX_NAME_CHARS)
        _check_int("GroupOp.cut", self.cut)
        _check_bytes("GroupOp.key_check", self.key_check, maximum=GROUP_KEY_CHECK_LEN)
        _check_bytes("GroupOp.prev", self.prev, exact=HASH_LEN)
        _check_bytes("GroupOp.sig", self.sig, exact=SIG_LEN)
        # One way to write each kind: fields a kind does not use must be empty.
        kind = self.kind
        if kind in (GroupOpKind.CREATE, GroupOpKind.ADD):
            _check_name("GroupOp.name", self.name)  # the one name rule: it reaches screens
        elif self.name:
            raise ProtocolError("GroupOp.name: only create and add name someone")
        if kind == GroupOpKind.CREATE:
            _check_name("GroupOp.title", self.title)
        elif self.title:
            raise ProtocolError("GroupOp.title: only create sets the title")
        if self.cut and kind not in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            raise ProtocolError("GroupOp.cut: only remove and leave end a log")
        if len(self.key_check) != (
            0 if kind in GroupOpKind.SAME_EPOCH else GROUP_KEY_CHECK_LEN
        ):
            raise ProtocolError(
                f"GroupOp.key_check: {GROUP_KEY_CHECK_LEN} bytes for an op that starts an"
                " epoch, empty for a transfer, admin or unadmin"
            )

    def _fields(self) -> list[object]:
        return [
            self.group,
            self.number,
            self.kind,
            self.epoch,
            self.subject,
            self.name,
            self.title,
            self.cut,
            self.key_check,
            self.prev,
            self.sig,
        ]

    def signing_bytes(self) -> bytes:
        """The exact bytes the owner signs: the op's canonical encoding with sig = b"" (as
        ``Envelope.signing_bytes``)."""
        return pack([self.CODE, *self._fields()[:-1], b""])


GroupHead: TypeAlias = tuple[bytes, int, bytes]  # (author, seq, envelope_hash at that seq)


GroupSpanRow: TypeAlias = tuple[bytes, int, int, int]  # (member, first, last or 0, cut)
MAX_CHECKPOINT_SPANS = MAX_GROUP_OPS  # rows of spans a checkpoint carries (an array's cap)
MAX_CHECKPOINT_CHECKS = MAX_GROUP_OPS  # key commitments a checkpoint carries


@dataclass(frozen=True, slots=True)
class GroupCheckpoint:
    """A group's membership at op ``number`` (whose hash is ``head``), signed by ``signer`` (the
    owner or an admin there), so a chain can start there: old ops are dropped (protocol 8.14).
    ``members`` are (key, name, number of the op that added it), ``spans`` (member, first epoch,
    last epoch or 0 while open, cut), ``key_checks`` (epoch, commitment) of recent epochs."""

    CODE: ClassVar[int] = 43
    REVISION: ClassVar[int] = 3
    group: bytes
    number: int
    head: bytes
    title: str
    owner: bytes
    admins: tuple[bytes, ...]
    epoch: int
    members: tuple[tuple[bytes, str, int], ...]
    spans: tuple[GroupSpanRow, ...]
    key_checks: tuple[tuple[int, bytes], ...]
    signer: bytes
    sig: bytes

    def __post_init__(self) -> None:
        _check_bytes("GroupCheckpoint.group", self.group, exact=CONV_ID_LEN)
        _check_int("GroupCheckpoint.number", self.number, 1)
        _check_bytes("GroupCheckpoint.head", self.head, exact=HASH_LEN)
        _check_name("GroupCheckpoint.title", self.title)
        _check_bytes("GroupCheckpoint.owner", self.owner, exact=KEY_LEN)
        admins = _rows("GroupCheckpoint.admins", self.admins, MAX_GROUP_OPS)
        object.__setattr__(self, "admins", tuple(
            _check_bytes("GroupCheckpoint admin", a, exact=KEY_LEN) for a in admins))
        _check_int("GroupCheckpoint.epoch", self.epoch, 1)
        members = []
        for row in _rows("GroupCheckpoint.members", self.members, MAX_GROUP_OPS, width=3):
            key, name, joined = row
            members.append((_check_bytes("GroupCheckpoint member", key, exact=KEY_LEN),
                            _check_name("GroupCheckpoint member name", name),
                            _check_int("GroupCheckpoint member joined", joined, 1)))
        object.__setattr__(self, "members", tuple(members))
        spans = []
        for row in _rows("GroupCheckpoint.spans", self.spans, MAX_CHECKPOINT_SPANS, width=4):
            key, first, last, cut = row
            spans.append((_check_bytes("GroupCheckpoint span key", key, exact=KEY_LEN),
                          _check_int("GroupCheckpoint span first", first, 1),
                          _check_int("GroupCheckpoint span last", last, 0),
                          _check_int("GroupCheckpoint span cut", cut, 0)))
        object.__setattr__(self, "spans", tuple(spans))
        checks = []
        for row in _rows("GroupCheckpoint.key_checks", self.key_checks, MAX_CHECKPOINT_CHECKS,
                         width=2):
            epoch, check = row
            checks.append((_check_int("GroupCheckpoint check epoch", epoch, 1),
                           _check_bytes("GroupCheckpoint check", check,
                                        exact=GROUP_KEY_CHECK_LEN)))
        object.__setattr__(self, "key_checks", tuple(checks))
        _check_bytes("GroupCheckpoint.signer", self.signer, exact=KEY_LEN)
        _check_bytes("GroupCheckpoint.sig", self.sig, exact=SIG_LEN)

    def _fields(self) -> list[object]:
        return [self.group, self.number, self.head, self.title, self.owner, list(self.admins),
                self.epoch, [list(m) for m in self.members], [list(r) for r in self.spans],
                [list(c) for c in self.key_checks], self.signer, self.sig]

    def signing_bytes(self) -> bytes:
        """The bytes the signer signs: the canonical encoding with sig = b""."""
        return pack([self.CODE, *self._fields()[:-1], b""])


def _rows(what: str, value: object, most: int, width: int = 0) -> list[Any]:
    if type(value) not in (list, tuple) or len(value) > most:  # type: ignore[arg-type]
        raise ProtocolError(f"{what}: expected at most {most} entries")
    rows: list[Any] = list(value)  # type: ignore[call-overload]
    for row in rows:
        if width and (type(row) not in (list, tuple) or len(row) != width):
            raise ProtocolError(f"{what}: each entry has {width} fields")
    return rows


def _nested_checkpoint(item: object) -> GroupCheckpoint | None:
    if item is None or isinstance(item, GroupCheckpoint):
        return item
    if type(item) is not list or len(item) != 13 or item[0] != GroupCheckpoint.CODE:
        raise ProtocolError("GroupInvite.checkpoint: a GroupCheckpoint record")
    return GroupCheckpoint(*item[1:])


@dataclass(frozen=True, slots=True)
class GroupInvite:
    """The owner's invitation: every op from creation (ending with the one that adds the
    invitee) and where the invitee's copy of the group log starts (per-author heads, lamport).

    Sent only over the pairwise session from the owner to the invitee."""

    CODE: ClassVar[int] = 33
    ops: tuple[GroupOp, ...]
    heads: tuple[GroupHead, ...] = ()
    lamport: int = 0
    # Revision 3: where the chain starts when its early ops were dropped (8.14); a fourth field
    # only when present, so an invitation without one is the revision-2 record.
    checkpoint: GroupCheckpoint | None = None

    def __post_init__(self) -> None:
        if type(self.ops) not in (list, tuple) or not 0 < len(self.ops) <= MAX_GROUP_OPS:
            raise ProtocolError(f"GroupInvite.ops: expected 1 to {MAX_GROUP_OPS} ops")
        ops = tuple(_nested_op(item) for item in self.ops)
        heads = _check_heads("GroupInvite", self.heads)
        _check_int("GroupInvite.lamport", self.lamport)
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "checkpoint", _nested_checkpoint(self.checkpoint))

    def _fields(self) -> list[object]:
        fields: list[object] = [
            [[op.CODE, *op._fields()] for op in self.ops],
            [list(head) for head in self.heads],
            self.lamport,
        ]
        if self.checkpoint is not None:
            fields.append([self.checkpoint.CODE, *self.checkpoint._fields()])
        return fields


def _check_heads(what: str, value: object) -> tuple[GroupHead, ...]:
    """At most MAX_GROUP_OPS `[author, seq >= 1, hash]`, authors unique and ascending."""
    if type(value) not in (list, tuple) or len(value) > MAX_GROUP_OPS:  # type: ignore[arg-type]
        raise ProtocolError(f"{what}.heads: expected at most {MAX_GROUP_OPS} heads")
    heads: list[GroupHead] = []
    for item in value:  # type: ignore[attr-defined]
        if type(item) not in (list, tuple) or len(item) != 3:
            raise ProtocolError(f"{what}.heads: each head is [author, seq, hash]")
        author, seq, digest = item
        heads.append(
            (
                _check_bytes(f"{what} head author", author, exact=KEY_LEN),
                _check_int(f"{what} head seq", seq, 1),
                _check_bytes(f"{what} head hash", digest, exact=HASH_LEN),
            )
        )
    if [h[0] for h in heads] != sorted({h[0] for h in heads}):
        raise ProtocolError(f"{what}.heads: authors must be unique and ascending")
    return tuple(heads)


@dataclass(frozen=True, slots=True)
class GroupDigest:
    """Where each author's log stands here, with the id of the envelope there: a member that
    holds a different envelope at one of those seqs has caught the author equivocating."""

    CODE: ClassVar[int] = 38
    REVISION: ClassVar[int] = 3  # the protocol revision that added it (protocol.md 12)
    group: bytes
    heads: tuple[GroupHead, ...] = ()

    def __post_init__(self) -> None:
        _check_bytes("GroupDigest.group", self.group, exact=CONV_ID_LEN)
        object.__setattr__(self, "heads", _check_heads("GroupDigest", self.heads))

    def _fields(self) -> list[object]:
        return [self.group, [list(head) for head in self.heads]]


def _nested_op(item: object) -> GroupOp:
    if isinstance(item, GroupOp):
        return item
    if type(item) is not list or not item or item[0] != GroupOp.CODE:
        raise ProtocolError("GroupInvite.ops: each op is a GroupOp record")
    if len(item) != 12:
        raise ProtocolError(f"GroupOp: expected 11 fields, got {len(item) - 1}")
    return GroupOp(*item[1:])


@dataclass(frozen=True, slots=True)
class GroupKey:
    """An epoch's key, for one member. Sent only inside a pairwise Noise session."""

    CODE: ClassVar[int] = 34
    group: bytes
    epoch: int
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_bytes("GroupKey.group", self.group, exact=CONV_ID_LEN)
        _check_int("GroupKey.epoch", self.epoch, 1)
        _check_bytes("GroupKey.key", self.key, exact=GROUP_KEY_LEN)

    def _fields(self) -> list[object]:
        return [self.group, self.epoch, self.key]


@dataclass(frozen=True, slots=True)
class GroupLostKey:
    """The key of an epoch that a fork's losing branch started, with the op that started it
    (protocol 8.13): a member checks the op against its own chain and the key against the op's
    commitment, then opens with it what members wrote on that branch. Pairwise sessions only."""

    CODE: ClassVar[int] = 42
    REVISION: ClassVar[int] = 3  # the protocol revision that added it (protocol.md 12)
    op: GroupOp
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", _nested_op(self.op))
        _check_bytes("GroupLostKey.key", self.key, exact=GROUP_KEY_LEN)

    def _fields(self) -> list[object]:
        return [[self.op.CODE, *self.op._fields()], self.key]


@dataclass(frozen=True, slots=True)
class GroupKeyRequest:
    """I am a member at this epoch and lack its key: send me a GroupKey if you hold it."""

    CODE: ClassVar[int] = 35
    group: bytes
    epoch: int

    def __post_init__(self) -> None:
        _check_bytes("GroupKeyRequest.group", self.group, exact=CONV_ID_LEN)
        _check_int("GroupKeyRequest.epoch", self.epoch, 1)

    def _fields(self) -> list[object]:
        return [self.group, self.epoch]


@dataclass(frozen=True, slots=True)
class GroupLeave:
    """A member's signed request to leave, forwarded by members until the owner enacts it.

    ``number`` is the last op the member had applied (binds the request to this membership:
    replayed after a re-add it is refused); ``last_seq`` is where the member's log ends."""

    CODE: ClassVar[int] = 36
    group: bytes
    member: bytes
    number: int
    last_seq: int
    sig: bytes

    def __post_init__(self) -> None:
        _check_bytes("GroupLeave.group", self.group, exact=CONV_ID_LEN)
        _check_bytes("GroupLeave.member", self.member, exact=KEY_LEN)
        _check_int("GroupLeave.number", self.number, 1)
        _check_int("GroupLeave.last_seq", self.last_seq)
        _check_bytes("GroupLeave.sig", self.sig, exact=SIG_LEN)

    def _fields(self) -> list[object]:
        return [self.group, self.member, self.number, self.last_seq, self.sig]

    def signing_bytes(self) -> bytes:
        """The exact bytes the member signs: the canonical encoding with sig = b""."""
        return pack([self.CODE, *self._fields()[:-1], b""])


@dataclass(frozen=True, slots=True)
class GroupPrune:
    """Stop pushing this author's envelopes in this group to me on this link; I pull by vector."""

    CODE: ClassVar[int] = 37
    group: bytes
    author: bytes

    def __post_init__(self) -> None:
        _check_bytes("GroupPrune.group", self.group, exact=CONV_ID_LEN)
        _check_bytes("GroupPrune.author", self.author, exact=KEY_LEN)

    def _fields(self) -> list[object]:
        return [self.group, self.author]


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
    obj = unpack(
        data,
        max_len=MAX_RECORD_LEN,
        max_str=_MAX_RECORD_STR_BYTES,
        max_bin=MAX_BODY_LEN,
        max_array=_MAX_RECORD_ARRAY,
        max_map=MAX_VECTOR_AUTHORS,
        what="record",
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
                             person=_PERSON_ENVELOPE).digest()
    _last_hashed = (env, digest)
    return digest


_last_hashed: tuple[Envelope | None, bytes] = (None, b"")


@functools.lru_cache(maxsize=1024)  # asked for every record a link carries
def dm_conversation_id(key_a: bytes, key_b: bytes) -> bytes:
    """The 1:1 conversation id two keys share; both sides compute it alone, order-independent."""
    _check_bytes("dm key", key_a, exact=KEY_LEN)
    _check_bytes("dm key", key_b, exact=KEY_LEN)
    low, high = sorted((key_a, key_b))
    return hashlib.blake2b(low + high, digest_size=CONV_ID_LEN, person=_PERSON_DM).digest()


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
        max_len=MAX_TEXT_BYTES + 64,  # the map header and the "text" key
        max_str=MAX_TEXT_BYTES,
        max_bin=0,
        max_array=0,
        max_map=1,
        what="text body",
    )
    if type(obj) is not dict or list(obj) != ["text"]:
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
