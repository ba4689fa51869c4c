"""Group chat, pure: membership by owner-signed numbered ops, epoch keys, sealed envelopes, gossip.

A group is a chain of ``GroupOp`` records signed by its owner: op 1 creates it, each later op
adds, removes, enacts a leave or hands ownership on. Every member applies the ops strictly in
order (``apply_op``) and so holds the same ``GroupState``. Every op but a transfer starts a new
epoch with a fresh random key; the op carries a commitment to that key, so a member can take the
key from anyone who holds it and still know it is the owner's. A member who leaves or is removed
is not sent the new key: they cannot read what is sent after it.

Group content travels as ordinary ``Envelope``s in a ``ConversationLog`` whose ``conv`` is the
group id: the same per-author logs, vectors and requests as a 1:1 chat. The body is the epoch key's
XChaCha20-Poly1305 ciphertext and the author signs the envelope, so members forward each other's
envelopes and nobody can forge one.

Leaving, and why the owner enacts it: only the owner signs membership changes, so a member who
leaves sends a signed ``GroupLeave`` that members pass along until the owner turns it into a LEAVE
op. Until then the leaver has already stopped locally (sends, forwards and takes nothing more, no
later key reaches it; it keeps the keys of the epochs it was in, so what it held stays readable);
the others keep the old epoch, whose new messages the leaver could still read if it took them
against its word. An offline owner delays only that rekey, never the leaver's exit.

The wire format and rules are in docs/protocol.md, section "Groups".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from p2pchat.core.group_envelopes import (
    BODY_OVERHEAD,
    NONCE_LEN,
    check_group_envelope,
    envelope_ad,
    envelope_epoch,
    open_group_envelope,
    seal_group_envelope,
)
from p2pchat.core.group_errors import (
    GroupError,
    MissingKey,
    OpGap,
    OpReplay,
    UnknownEpoch,
)
from p2pchat.core.group_gossip import GroupGossip, op_targets
from p2pchat.core.identity import Identity, verify_signature
from p2pchat.core.messages import (
    CONV_ID_LEN,
    GROUP_KEY_LEN,
    HASH_LEN,
    KEY_LEN,
    MAX_GROUP_OPS,
    SIG_LEN,
    GroupInvite,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupOp,
    GroupOpKind,
    encode_record,
)
from p2pchat.core.record_revisions import REVISION_3_MEMBERS  # past it, it stops following

__all__ = [
    "BODY_OVERHEAD", "MAX_GROUP_ADMINS", "MAX_GROUP_MEMBERS", "NONCE_LEN", "REVISION_3_MEMBERS",
    "Change", "GroupError",
    "GroupGossip", "GroupState", "MissingKey", "OpGap", "OpReplay", "Span", "UnknownEpoch",
    "accept_key", "admin", "apply_op", "check_group_envelope", "check_leave", "create",
    "enact_leave", "envelope_ad", "envelope_epoch", "genesis", "group_id", "invitation", "invite",
    "join", "key_check", "op_hash", "op_targets", "open_group_envelope", "remove", "replay",
    "request_leave", "seal_group_envelope", "serve_key", "start_heads", "transfer", "unadmin",
]

Random = Callable[[int], bytes]

MAX_GROUP_MEMBERS = 1024  # revision 4 (protocol 8.10, 12)
MAX_GROUP_ADMINS = 8  # bounds the signature checks of one op (protocol 8.13)
CREATION_NONCE_LEN = HASH_LEN  # op 1's prev

# BLAKE2b personalisations (at most 16 bytes), one per thing hashed.
_PERSON_GROUP = b"p2pchat-group-v1"
_PERSON_OP = b"p2pchat-gop-v1"
_PERSON_KEY_CHECK = b"p2pchat-gkc-v1"


# --- derived values -----------------------------------------------------------------------------


def group_id(creator: bytes, nonce: bytes) -> bytes:
    """BLAKE2b-128 (person "p2pchat-group-v1") of creator key || creation nonce: binds the id to
    the creator, so nobody else can sign a valid op 1 for it."""
    if len(creator) != KEY_LEN or len(nonce) != CREATION_NONCE_LEN:
        raise GroupError("group id: creator key and nonce must be 32 bytes each")
    return hashlib.blake2b(creator + nonce, digest_size=CONV_ID_LEN, person=_PERSON_GROUP).digest()


def op_hash(op: GroupOp) -> bytes:
    """An op's id, and the next op's prev: BLAKE2b-256 (person "p2pchat-gop-v1") of its record."""
    return hashlib.blake2b(encode_record(op), digest_size=HASH_LEN, person=_PERSON_OP).digest()


def key_check(key: bytes) -> bytes:
    """Commitment to an epoch key carried in the op that starts the epoch (BLAKE2b-128)."""
    return hashlib.blake2b(key, digest_size=16, person=_PERSON_KEY_CHECK).digest()



# --- state --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """One period of membership: epochs first..last (last None: still a member). ``cut`` is the
    last seq of the member's log that counts for this period (None while open)."""

    first: int
    last: int | None = None
    cut: int | None = None

    def allows(self, epoch: int, seq: int) -> bool:
        if epoch < self.first or (self.last is not None and epoch > self.last):
            return False
        return self.cut is None or seq <= self.cut


@dataclass(frozen=True, slots=True)
class GroupState:
    """What every member derives from the op chain. Never mutated: ``apply_op`` makes a new one."""

    group: bytes
    title: str
    owner: bytes
    epoch: int
    members: Mapping[bytes, str]  # current members -> the name their add gave them
    ops: tuple[GroupOp, ...]
    spans: Mapping[bytes, tuple[Span, ...]]  # everyone who ever was a member
    key_checks: Mapping[int, bytes]  # epoch -> commitment to its key
    joined_at: Mapping[bytes, int]  # current member -> number of the op that added them
    admins: frozenset[bytes] = frozenset()  # members the owner made admins (protocol 8.13)
    # Ops 1..base were dropped at a checkpoint (8.14): `ops` holds base+1..number, `root` is
    # the state at base (None while the chain starts at op 1), `base_head` op base's hash.
    base: int = 0
    base_head: bytes = b""
    root: GroupState | None = field(default=None, repr=False, compare=False)

    @property
    def number(self) -> int:
        return self.base + len(self.ops)

    @property
    def head(self) -> bytes:
        return op_hash(self.ops[-1]) if self.ops else self.base_head

    def op(self, n: int) -> GroupOp | None:
        """Op ``n``, if we still hold it (not dropped at a checkpoint)."""
        return self.ops[n - self.base - 1] if self.base < n <= self.number else None

    def hash_at(self, n: int) -> bytes | None:
        """Op ``n``'s hash, if we hold it or it is the checkpoint's op."""
        held = self.op(n)
        if held is not None:
            return op_hash(held)
        return self.base_head if n == self.base and self.base else None

    def ops_after(self, n: int) -> tuple[GroupOp, ...] | None:
        """The ops after ``n``, in order; None if some were dropped at a checkpoint."""
        return None if n < self.base else self.ops[n - self.base:]

    def state_at(self, n: int) -> GroupState:
        """The state after op ``n`` (at or after the checkpoint), replayed."""
        if n == self.number:
            return self
        if not max(self.base, 1) <= n < self.number:
            raise GroupError(f"op {n} is before our checkpoint (at {self.base})")
        if self.base:
            state = self.root if self.root is not None else self
            todo = self.ops[: n - self.base]
        else:
            state, todo = genesis(self.ops[0]), self.ops[1:n]
        for held in todo:
            state = apply_op(state, held)
        return state

    def is_member(self, key: bytes) -> bool:
        return key in self.members

    def is_manager(self, key: bytes) -> bool:
        """The owner or an admin: who may add, remove and enact leaves."""
        return key == self.owner or key in self.admins

    def managers(self) -> tuple[bytes, ...]:
        """Who may sign an add, remove or leave op: the owner, then the admins in key order."""
        return (self.owner, *sorted(self.admins))

    def member_at(self, key: bytes, epoch: int) -> bool:
        return any(span.allows(epoch, 0) for span in self.spans.get(key, ()))

    def may_author(self, key: bytes, epoch: int, seq: int) -> bool:
        """Whether ``key`` may write seq ``seq`` of its log in ``epoch``."""
        return any(span.allows(epoch, seq) for span in self.spans.get(key, ()))


@dataclass(frozen=True, slots=True)
class Change:
    """What the owner does for one membership change: send ``op`` to every member (gossip, and to
    the subject directly), send each ``deliveries`` GroupKey to its member over the pairwise
    session, and keep ``key`` for the new epoch (None: a transfer, same epoch)."""

    state: GroupState
    op: GroupOp
    key: bytes | None = field(default=None, repr=False)
    deliveries: tuple[tuple[bytes, GroupKey], ...] = field(default=(), repr=False)


# --- the op chain -------------------------------------------------------------------------------


# Records are validated at construction, so they are built with this placeholder and then signed
# over their exact canonical bytes.
_UNSIGNED = bytes(SIG_LEN)


def _signed_op(identity: Identity, unsigned: GroupOp) -> GroupOp:
    return replace(unsigned, sig=identity.sign(unsigned.signing_bytes()))


def genesis(op: GroupOp) -> GroupState:
    """The state op 1 creates, after checking it binds to its group id and its creator signed it."""
    if op.kind != GroupOpKind.CREATE or op.number != 1:
        raise GroupError("a group starts with its create op")
    if op.epoch != 1 or op.cut:
        raise GroupError("create: epoch must be 1")
    if not hmac.compare_digest(group_id(op.subject, op.prev), op.group):
        raise GroupError("create: group id does not derive from creator and nonce")
    if not verify_signature(op.subject, op.sig, op.signing_bytes()):
        raise GroupError("create: not signed by its creator")
    return GroupState(
        group=op.group,
        title=op.title,
        owner=op.subject,
        epoch=1,
        members={op.subject: op.name},
        ops=(op,),
        spans={op.subject: (Span(1),)},
        key_checks={1: op.key_check},
        joined_at={op.subject: 1},
    )


def apply_op(state: GroupState, op: GroupOp) -> GroupState:
    """The state after ``op``; refuses an op from another group, a gap, a replay, an op the owner
    did not sign, or one that breaks the kind's rules. Pure: ``state`` is unchanged."""
    if op.group != state.group:
        raise GroupError("op for another group")
    if op.number <= state.number:
        held = state.op(op.number)
        same = held is None or held == op  # below a checkpoint: cannot tell, so harmless
        raise OpReplay(f"op {op.number} already applied (at {state.number})", same)
    if op.number > state.number + 1:
        raise OpGap(f"op {op.number} but we are at {state.number}: ops missing")
    if not hmac.compare_digest(op.prev, state.head):
        raise GroupError(f"op {op.number} does not chain to op {state.number}")
    kind, subject = op.kind, op.subject
    signer = _signer(state, op)
    members = dict(state.members)
    spans = dict(state.spans)
    joined = dict(state.joined_at)
    admins = set(state.admins)
    owner, epoch = state.owner, state.epoch
    if kind in GroupOpKind.SAME_EPOCH:
        what = GroupOpKind.NAMES[kind]
        if signer != owner:
            raise GroupError(f"{what}: only the owner transfers and names admins")
        if op.epoch != epoch:
            raise GroupError(f"{what}: keeps the epoch")
        if subject not in members or subject == owner:
            raise GroupError(f"{what}: to another current member only")
        if kind == GroupOpKind.TRANSFER:
            owner = subject
            admins.discard(subject)
        elif kind == GroupOpKind.ADMIN:
            if subject in admins:
                raise GroupError("admin: already an admin")
            if len(admins) >= MAX_GROUP_ADMINS:
                raise GroupError(f"admin: a group has at most {MAX_GROUP_ADMINS} admins")
            admins.add(subject)
        else:
            if subject not in admins:
                raise GroupError("unadmin: not an admin")
            admins.discard(subject)
    else:
        if op.epoch != epoch + 1:
            raise GroupError(f"op {op.number}: epoch must be {epoch + 1}")
        epoch = op.epoch
        if kind == GroupOpKind.ADD:
            if subject in members:
                raise GroupError("add: already a member")
            if len(members) >= MAX_GROUP_MEMBERS:
                raise GroupError(f"add: a group has at most {MAX_GROUP_MEMBERS} members")
            members[subject] = op.name
            spans[subject] = (*spans.get(subject, ()), Span(epoch))
            joined[subject] = op.number
        elif kind in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            if subject not in members or subject == owner:
                raise GroupError("remove/leave: of a current member other than the owner")
            if kind == GroupOpKind.REMOVE and subject in admins and signer != owner:
                raise GroupError("remove: only the owner removes an admin")
            admins.discard(subject)
            del members[subject]
            del joined[subject]
            *earlier, current = spans[subject]
            spans[subject] = (*earlier, Span(current.first, epoch - 1, op.cut))
        else:
            raise GroupError(f"op {op.number}: a create after op 1")
    return GroupState(
        group=state.group,
        title=state.title,
        owner=owner,
        epoch=epoch,
        members=members,
        ops=(*state.ops, op),
        spans=spans,
        key_checks={**state.key_checks, epoch: op.key_check} if op.key_check else state.key_checks,
        joined_at=joined,
        admins=frozenset(admins),
        base=state.base,
        base_head=state.base_head,
        root=state.root if state.root is not None or not state.base else state,
    )


def _signer(state: GroupState, op: GroupOp) -> bytes:
    """Who signed ``op``: the owner, or (for an add, remove or leave) an admin. At most
    1 + MAX_GROUP_ADMINS signature checks; the owner is tried first."""
    candidates = (state.owner,) if op.kind in GroupOpKind.SAME_EPOCH else state.managers()
    for key in candidates:
        if verify_signature(key, op.sig, op.signing_bytes()):
            return key
    raise GroupError(f"op {op.number} is not signed by the owner or an admin")


def signer_of(state: GroupState, op: GroupOp) -> bytes:
    """Who signed ``op``, the next op after ``state`` (GroupError if nobody allowed to)."""
    return _signer(state, op)


def replay(ops: Iterable[GroupOp]) -> GroupState:
    """The state a chain gives, checked from op 1."""
    ops = list(ops)
    if not ops:
        raise GroupError("an empty chain")
    state = genesis(ops[0])
    for op in ops[1:]:
        state = apply_op(state, op)
    return state


# --- the owner's changes ------------------------------------------------------------------------


def create(identity: Identity, title: str, name: str, random: Random) -> Change:
    """A new group owned by ``identity``, with epoch 1 and its key."""
    nonce, key = random(CREATION_NONCE_LEN), random(GROUP_KEY_LEN)
    me = identity.public_key
    op = _signed_op(
        identity,
        GroupOp(
            group=group_id(me, nonce),
            number=1,
            kind=GroupOpKind.CREATE,
            epoch=1,
            subject=me,
            name=name,
            title=title,
            cut=0,
            key_check=key_check(key),
            prev=nonce,
            sig=_UNSIGNED,
        ),
    )
    return Change(genesis(op), op, key)


def _owner_change(
    state: GroupState,
    identity: Identity,
    kind: int,
    subject: bytes,
    random: Random | None,
    name: str = "",
    cut: int = 0,
) -> Change:
    me = identity.public_key
    if kind in GroupOpKind.SAME_EPOCH and me != state.owner:
        raise GroupError("only the owner transfers the group and names admins")
    if not state.is_manager(me):
        raise GroupError("only the owner or an admin changes membership")
    key = None if random is None else random(GROUP_KEY_LEN)
    op = _signed_op(
        identity,
        GroupOp(
            group=state.group,
            number=state.number + 1,
            kind=kind,
            epoch=state.epoch + (0 if key is None else 1),
            subject=subject,
            name=name,
            title="",
            cut=cut,
            key_check=b"" if key is None else key_check(key),
            prev=state.head,
            sig=_UNSIGNED,
        ),
    )
    new = apply_op(state, op)
    deliveries: tuple[tuple[bytes, GroupKey], ...] = ()
    if key is not None:
        deliveries = tuple(
            (member, GroupKey(group=state.group, epoch=new.epoch, key=key))
            for member in sorted(new.members)
            if member != me
        )
    return Change(new, op, key, deliveries)


def invite(
    state: GroupState, identity: Identity, member: bytes, name: str, random: Random
) -> Change:
    """Add a contact (new epoch). Then send them ``invitation(change.state, ...)``."""
    return _owner_change(state, identity, GroupOpKind.ADD, member, random, name=name)


def remove(
    state: GroupState, identity: Identity, member: bytes, cut: int, random: Random
) -> Change:
    """Remove a member (new epoch they never get); their log ends at ``cut`` (our head of it)."""
    return _owner_change(state, identity, GroupOpKind.REMOVE, member, random, cut=cut)


def transfer(state: GroupState, identity: Identity, member: bytes) -> Change:
    """Make another member the owner (same epoch: nobody left, so no new key is needed)."""
    return _owner_change(state, identity, GroupOpKind.TRANSFER, member, None)


def admin(state: GroupState, identity: Identity, member: bytes) -> Change:
    """Make a member an admin (owner only; same epoch): it may then add, remove and enact
    leaves, and it keeps doing so if the owner is gone."""
    return _owner_change(state, identity, GroupOpKind.ADMIN, member, None)


def unadmin(state: GroupState, identity: Identity, member: bytes) -> Change:
    """Make an admin an ordinary member again (owner only; same epoch)."""
    return _owner_change(state, identity, GroupOpKind.UNADMIN, member, None)


def request_leave(state: GroupState, identity: Identity, last_seq: int) -> GroupLeave:
    """A member's signed request to leave; ``last_seq`` is its own log's head. The caller stops
    at once: drops the group's keys, sends, forwards and shows nothing more of it."""
    me = identity.public_key
    if me not in state.members:
        raise GroupError("not a member of this group")
    if me == state.owner:
        raise GroupError("the owner hands ownership to a member (transfer) before leaving")
    unsigned = GroupLeave(
        group=state.group, member=me, number=state.number, last_seq=last_seq, sig=_UNSIGNED
    )
    return replace(unsigned, sig=identity.sign(unsigned.signing_bytes()))


def check_leave(state: GroupState, leave: GroupLeave) -> None:
    """Whether a leave request is genuine and for the member's current membership."""
    if leave.group != state.group:
        raise GroupError("leave for another group")
    if leave.member not in state.members:
        raise GroupError("leave from someone who is not a member")
    if leave.member == state.owner:
        raise GroupError("the owner cannot leave before transferring ownership")
    if not state.joined_at[leave.member] <= leave.number <= state.number:
        raise GroupError("leave made before this membership began (replayed)")
    if not verify_signature(leave.member, leave.sig, leave.signing_bytes()):
        raise GroupError("leave not signed by the member")


def enact_leave(state: GroupState, identity: Identity, leave: GroupLeave, random: Random) -> Change:
    """The owner (or an admin) turns a checked leave request into a LEAVE op (new epoch)."""
    check_leave(state, leave)
    return _owner_change(
        state, identity, GroupOpKind.LEAVE, leave.member, random, cut=leave.last_seq
    )


# --- joining ------------------------------------------------------------------------------------


def invitation(
    state: GroupState,
    heads: Mapping[bytes, tuple[int, bytes]],
    lamport: int,
    identity: Identity | None = None,
) -> GroupInvite:
    """The invite for the member the last op added: the chain (from op 1, or from a checkpoint
    the inviter ``identity`` signs, 8.14), and where the group log stands (``ConversationLog``
    heads and lamport) so the newcomer starts there."""
    from p2pchat.core.group_checkpoints import INVITE_OPS, checkpoint, root_at  # builds on us

    listed = tuple((a, seq, digest) for a, (seq, digest) in sorted(heads.items()) if seq > 0)
    if not state.base and state.number <= MAX_GROUP_OPS:
        return GroupInvite(ops=state.ops, heads=listed, lamport=lamport)
    if identity is None:
        raise GroupError("an invitation from a checkpoint needs the inviter's signature")
    start = max(state.base, state.number - INVITE_OPS)
    ops = state.ops_after(start)
    assert ops is not None
    return GroupInvite(ops=ops, heads=listed, lamport=lamport,
                       checkpoint=checkpoint(root_at(state, start), identity))


def join(invite: GroupInvite, me: bytes, sender: bytes) -> GroupState:
    """Verify an invitation's whole chain from op 1; ``sender`` (the session's key) must be the
    owner and ``me`` a member. Heads must name past or present members only."""
    from p2pchat.core.group_checkpoints import checkpoint_state  # builds on this module

    if invite.checkpoint is not None:  # believed on the inviter's word (8.14)
        if invite.checkpoint.signer != sender:
            raise GroupError("a checkpoint not signed by the inviter")
        state = checkpoint_state(invite.checkpoint)
        todo = invite.ops
    else:
        state, todo = genesis(invite.ops[0]), invite.ops[1:]
    for op in todo:
        state = apply_op(state, op)
    if not state.is_manager(sender):
        raise GroupError("invitation not sent by the group's owner or an admin")
    if me not in state.members:
        raise GroupError("invitation does not make us a member")
    if any(author not in state.spans for author, _, _ in invite.heads):
        raise GroupError("invitation names a log of someone who was never a member")
    return state


def start_heads(invite: GroupInvite) -> dict[bytes, tuple[int, bytes]]:
    """The ``heads`` argument of the newcomer's ``ConversationLog``."""
    return {author: (seq, digest) for author, seq, digest in invite.heads}


# --- keys ---------------------------------------------------------------------------------------


def accept_key(state: GroupState, record: GroupKey, me: bytes) -> bytes:
    """The key a GroupKey carries, if it is for an epoch we belong to and matches the owner's
    commitment. Safe from any sender: the commitment is in the signed op."""
    if record.group != state.group:
        raise GroupError("key for another group")
    if record.epoch > state.epoch:
        raise UnknownEpoch(f"key for epoch {record.epoch}, we know up to {state.epoch}")
    if not state.member_at(me, record.epoch):
        raise GroupError(f"key for epoch {record.epoch}, which we are not a member of")
    check = state.key_checks.get(record.epoch)
    if check is None:
        raise GroupError(f"key for epoch {record.epoch}, older than our checkpoint keeps")
    if not hmac.compare_digest(key_check(record.key), check):
        raise GroupError(f"key for epoch {record.epoch} does not match the owner's commitment")
    return record.key


def serve_key(
    state: GroupState, keys: Mapping[int, bytes], requester: bytes, request: GroupKeyRequest
) -> GroupKey | None:
    """Answer a GroupKeyRequest from ``requester`` (the session's key), or None if they were not
    a member at that epoch or we do not hold its key."""
    if request.group != state.group or not state.member_at(requester, request.epoch):
        return None
    key = keys.get(request.epoch)
    return None if key is None else GroupKey(group=state.group, epoch=request.epoch, key=key)
