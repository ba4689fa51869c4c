"""The group records (semantics and rules: `core/groups.py`, docs/protocol.md section 8), each a
frozen dataclass that checks its fields; `core/messages.py` encodes and decodes them with the
other records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from p2pchat.core.codec import pack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.record_fields import (
    CONV_ID_LEN,
    GROUP_KEY_CHECK_LEN,
    GROUP_KEY_LEN,
    HASH_LEN,
    KEY_LEN,
    MAX_GROUP_OPS,
    MAX_GROUP_ROWS,
    SIG_LEN,
    check_bytes,
    check_int,
    check_name,
    check_str,
)
from p2pchat.core.text import MAX_NAME_CHARS

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
        check_bytes("GroupOp.group", self.group, exact=CONV_ID_LEN)
        check_int("GroupOp.number", self.number, 1)  # no cap: checkpoints (8.14, rev 3)
        if type(self.kind) is not int or self.kind not in GroupOpKind.KNOWN:
            raise ProtocolError(f"GroupOp.kind: unknown kind {self.kind!r}")
        if (self.kind == GroupOpKind.CREATE) != (self.number == 1):
            raise ProtocolError("GroupOp: op 1 and only op 1 is a create")
        check_int("GroupOp.epoch", self.epoch, 1)
        check_bytes("GroupOp.subject", self.subject, exact=KEY_LEN)
        check_str("GroupOp.name", self.name, MAX_NAME_CHARS)
        check_str("GroupOp.title", self.title, MAX_NAME_CHARS)
        check_int("GroupOp.cut", self.cut)
        check_bytes("GroupOp.key_check", self.key_check, maximum=GROUP_KEY_CHECK_LEN)
        check_bytes("GroupOp.prev", self.prev, exact=HASH_LEN)
        check_bytes("GroupOp.sig", self.sig, exact=SIG_LEN)
        # One way to write each kind: fields a kind does not use must be empty.
        kind = self.kind
        if kind in (GroupOpKind.CREATE, GroupOpKind.ADD):
            check_name("GroupOp.name", self.name)  # the one name rule: it reaches screens
        elif self.name:
            raise ProtocolError("GroupOp.name: only create and add name someone")
        if kind == GroupOpKind.CREATE:
            check_name("GroupOp.title", self.title)
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
# Rows a checkpoint carries (revision 4; revision 3: 100 of each): members (at most 1,024 by
# 8.3, checked when it is applied) and spans (theirs and recent leavers'), and key commitments.
MAX_CHECKPOINT_MEMBERS = MAX_GROUP_ROWS
MAX_CHECKPOINT_SPANS = MAX_GROUP_ROWS
MAX_CHECKPOINT_CHECKS = MAX_GROUP_OPS


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
        check_bytes("GroupCheckpoint.group", self.group, exact=CONV_ID_LEN)
        check_int("GroupCheckpoint.number", self.number, 1)
        check_bytes("GroupCheckpoint.head", self.head, exact=HASH_LEN)
        check_name("GroupCheckpoint.title", self.title)
        check_bytes("GroupCheckpoint.owner", self.owner, exact=KEY_LEN)
        admins = _rows("GroupCheckpoint.admins", self.admins, MAX_GROUP_OPS)  # 8 by 8.13
        object.__setattr__(self, "admins", tuple(
            check_bytes("GroupCheckpoint admin", a, exact=KEY_LEN) for a in admins))
        check_int("GroupCheckpoint.epoch", self.epoch, 1)
        members = []
        for row in _rows("GroupCheckpoint.members", self.members, MAX_CHECKPOINT_MEMBERS,
                         width=3):
            key, name, joined = row
            members.append((check_bytes("GroupCheckpoint member", key, exact=KEY_LEN),
                            check_name("GroupCheckpoint member name", name),
                            check_int("GroupCheckpoint member joined", joined, 1)))
        object.__setattr__(self, "members", tuple(members))
        spans = []
        for row in _rows("GroupCheckpoint.spans", self.spans, MAX_CHECKPOINT_SPANS, width=4):
            key, first, last, cut = row
            spans.append((check_bytes("GroupCheckpoint span key", key, exact=KEY_LEN),
                          check_int("GroupCheckpoint span first", first, 1),
                          check_int("GroupCheckpoint span last", last, 0),
                          check_int("GroupCheckpoint span cut", cut, 0)))
        object.__setattr__(self, "spans", tuple(spans))
        checks = []
        for row in _rows("GroupCheckpoint.key_checks", self.key_checks, MAX_CHECKPOINT_CHECKS,
                         width=2):
            epoch, check = row
            checks.append((check_int("GroupCheckpoint check epoch", epoch, 1),
                           check_bytes("GroupCheckpoint check", check,
                                        exact=GROUP_KEY_CHECK_LEN)))
        object.__setattr__(self, "key_checks", tuple(checks))
        check_bytes("GroupCheckpoint.signer", self.signer, exact=KEY_LEN)
        check_bytes("GroupCheckpoint.sig", self.sig, exact=SIG_LEN)

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
        check_int("GroupInvite.lamport", self.lamport)
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
    """At most MAX_GROUP_ROWS `[author, seq >= 1, hash]`, authors unique and ascending."""
    if type(value) not in (list, tuple) or len(value) > MAX_GROUP_ROWS:  # type: ignore[arg-type]
        raise ProtocolError(f"{what}.heads: expected at most {MAX_GROUP_ROWS} heads")
    heads: list[GroupHead] = []
    for item in value:  # type: ignore[attr-defined]
        if type(item) not in (list, tuple) or len(item) != 3:
            raise ProtocolError(f"{what}.heads: each head is [author, seq, hash]")
        author, seq, digest = item
        heads.append(
            (
                check_bytes(f"{what} head author", author, exact=KEY_LEN),
                check_int(f"{what} head seq", seq, 1),
                check_bytes(f"{what} head hash", digest, exact=HASH_LEN),
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
        check_bytes("GroupDigest.group", self.group, exact=CONV_ID_LEN)
        object.__setattr__(self, "heads", _check_heads("GroupDigest", self.heads))

    def _fields(self) -> list[object]:
        return [self.group, [list(head) for head in self.heads]]


@dataclass(frozen=True, slots=True)
class GroupHolders:
    """What the sender last heard, in other members' own vectors, of how far they hold the
    RECEIVER's log (protocol 8.16): how a member learns that one it has no link to holds its
    messages. Advisory: a member can claim anything here, so it only ever adds a "known to hold"."""

    CODE: ClassVar[int] = 39
    REVISION: ClassVar[int] = 4  # sent only to peers that announced it (protocol.md 12)
    group: bytes
    held: tuple[tuple[bytes, int], ...] = ()

    def __post_init__(self) -> None:
        check_bytes("GroupHolders.group", self.group, exact=CONV_ID_LEN)
        if type(self.held) not in (list, tuple):
            raise ProtocolError("GroupHolders.held: expected an array")
        if len(self.held) > MAX_GROUP_OPS:
            raise ProtocolError(f"GroupHolders.held: more than {MAX_GROUP_OPS} entries")
        held = []
        for entry in self.held:
            if type(entry) not in (list, tuple) or len(entry) != 2:
                raise ProtocolError("GroupHolders.held: each entry is [member, seq]")
            member, seq = entry
            held.append((check_bytes("GroupHolders member", member, exact=KEY_LEN),
                         check_int("GroupHolders seq", seq, 1)))
        if [h[0] for h in held] != sorted({h[0] for h in held}):
            raise ProtocolError("GroupHolders.held: members must be unique and ascending")
        object.__setattr__(self, "held", tuple(held))

    def _fields(self) -> list[object]:
        return [self.group, [list(entry) for entry in self.held]]


@dataclass(frozen=True, slots=True)
class GroupJoins:
    """Members the sender has seen hold the group in their current membership (their sync, an
    envelope they wrote): they accepted their invitations (protocol 8.17). How a member learns
    that one it has no link to said yes. Advisory: a liar can only make an invited member look
    joined."""

    CODE: ClassVar[int] = 44
    REVISION: ClassVar[int] = 5  # sent only to peers that announced it (protocol.md 12)
    group: bytes
    members: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        check_bytes("GroupJoins.group", self.group, exact=CONV_ID_LEN)
        if type(self.members) not in (list, tuple):
            raise ProtocolError("GroupJoins.members: expected an array")
        if not 1 <= len(self.members) <= MAX_GROUP_OPS:
            raise ProtocolError(f"GroupJoins.members: 1 to {MAX_GROUP_OPS} members")
        members = [check_bytes("GroupJoins member", m, exact=KEY_LEN) for m in self.members]
        if members != sorted(set(members)):
            raise ProtocolError("GroupJoins.members: members must be unique and ascending")
        object.__setattr__(self, "members", tuple(members))

    def _fields(self) -> list[object]:
        return [self.group, list(self.members)]


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
        check_bytes("GroupKey.group", self.group, exact=CONV_ID_LEN)
        check_int("GroupKey.epoch", self.epoch, 1)
        check_bytes("GroupKey.key", self.key, exact=GROUP_KEY_LEN)

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
        check_bytes("GroupLostKey.key", self.key, exact=GROUP_KEY_LEN)

    def _fields(self) -> list[object]:
        return [[self.op.CODE, *self.op._fields()], self.key]


@dataclass(frozen=True, slots=True)
class GroupKeyRequest:
    """I am a member at this epoch and lack its key: send me a GroupKey if you hold it."""

    CODE: ClassVar[int] = 35
    group: bytes
    epoch: int

    def __post_init__(self) -> None:
        check_bytes("GroupKeyRequest.group", self.group, exact=CONV_ID_LEN)
        check_int("GroupKeyRequest.epoch", self.epoch, 1)

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
        check_bytes("GroupLeave.group", self.group, exact=CONV_ID_LEN)
        check_bytes("GroupLeave.member", self.member, exact=KEY_LEN)
        check_int("GroupLeave.number", self.number, 1)
        check_int("GroupLeave.last_seq", self.last_seq)
        check_bytes("GroupLeave.sig", self.sig, exact=SIG_LEN)

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
        check_bytes("GroupPrune.group", self.group, exact=CONV_ID_LEN)
        check_bytes("GroupPrune.author", self.author, exact=KEY_LEN)

    def _fields(self) -> list[object]:
        return [self.group, self.author]
