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
op. Until then the leaver has already stopped locally (drops its keys, sends and forwards nothing,
shows nothing); the others keep the old epoch, which the leaver could still read if it kept the key
against its word. An offline owner delays only that rekey, never the leaver's exit.

The wire format and rules are in docs/protocol.md, section "Groups".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import nacl.bindings
import nacl.exceptions

from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import Identity, verify_signature
from p2pchat.core.messages import (
    CONV_ID_LEN,
    GROUP_KEY_LEN,
    HASH_LEN,
    KEY_LEN,
    MAX_GROUP_OPS,
    SIG_LEN,
    Envelope,
    GroupInvite,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupOp,
    GroupOpKind,
    GroupPrune,
    encode_record,
)
from p2pchat.core.sync import ConversationLog

__all__ = [
    "BODY_OVERHEAD",
    "MAX_GROUP_MEMBERS",
    "NONCE_LEN",
    "Change",
    "GroupError",
    "GroupGossip",
    "GroupState",
    "MissingKey",
    "OpGap",
    "OpReplay",
    "Span",
    "UnknownEpoch",
    "accept_key",
    "apply_op",
    "check_group_envelope",
    "check_leave",
    "create",
    "enact_leave",
    "envelope_ad",
    "genesis",
    "group_id",
    "invitation",
    "invite",
    "join",
    "key_check",
    "op_hash",
    "op_targets",
    "open_group_envelope",
    "remove",
    "request_leave",
    "seal_group_envelope",
    "serve_key",
    "start_heads",
    "transfer",
]

Random = Callable[[int], bytes]

MAX_GROUP_MEMBERS = 64
NONCE_LEN = 24  # XChaCha20-Poly1305: random nonces are safe at this size
_EPOCH_LEN = 8
_TAG_LEN = 16
BODY_OVERHEAD = _EPOCH_LEN + NONCE_LEN + _TAG_LEN
CREATION_NONCE_LEN = HASH_LEN  # op 1's prev

# BLAKE2b personalisations (at most 16 bytes), one per thing hashed.
_PERSON_GROUP = b"p2pchat-group-v1"
_PERSON_OP = b"p2pchat-gop-v1"
_PERSON_KEY_CHECK = b"p2pchat-gkc-v1"
_AD_LABEL = b"p2pchat-group-ad"  # 16 bytes, first part of every envelope's associated data


class GroupError(ProtocolError):
    """A group record that must be refused (bad signature, not a member, wrong chain, ...)."""


class OpGap(GroupError):
    """Ops are missing before this one: fetch them (send our head op to the sender), then apply."""


class OpReplay(GroupError):
    """An op at or below our number: ``same`` when it is our own copy (a harmless duplicate)."""

    def __init__(self, message: str, same: bool) -> None:
        super().__init__(message)
        self.same = same


class UnknownEpoch(GroupError):
    """An envelope or key of an epoch whose op we have not applied yet: drop it, sync ops first."""


class MissingKey(GroupError):
    """An authorised envelope whose epoch key we do not hold (ask with GroupKeyRequest)."""


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


def envelope_ad(group: bytes, epoch: int, author: bytes, seq: int) -> bytes:
    """Associated data: "p2pchat-group-ad" || group (16) || epoch (u64 BE) || author (32) ||
    seq (u64 BE). Binds a ciphertext to its place, so it cannot be moved to another one."""
    return _AD_LABEL + group + epoch.to_bytes(8, "big") + author + seq.to_bytes(8, "big")


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

    @property
    def number(self) -> int:
        return len(self.ops)

    @property
    def head(self) -> bytes:
        return op_hash(self.ops[-1])

    def is_member(self, key: bytes) -> bool:
        return key in self.members

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
        same = state.ops[op.number - 1] == op
        raise OpReplay(f"op {op.number} already applied (at {state.number})", same)
    if op.number > state.number + 1:
        raise OpGap(f"op {op.number} but we are at {state.number}: ops missing")
    if not hmac.compare_digest(op.prev, state.head):
        raise GroupError(f"op {op.number} does not chain to op {state.number}")
    if not verify_signature(state.owner, op.sig, op.signing_bytes()):
        raise GroupError(f"op {op.number} is not signed by the owner")
    kind, subject = op.kind, op.subject
    members = dict(state.members)
    spans = dict(state.spans)
    joined = dict(state.joined_at)
    owner, epoch = state.owner, state.epoch
    if kind == GroupOpKind.TRANSFER:
        if op.epoch != epoch:
            raise GroupError("transfer: keeps the epoch")
        if subject not in members or subject == owner:
            raise GroupError("transfer: to another current member only")
        owner = subject
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
    )


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
    if identity.public_key != state.owner:
        raise GroupError("only the owner changes membership")
    if state.number >= MAX_GROUP_OPS:
        raise GroupError(f"a group holds at most {MAX_GROUP_OPS} membership changes")
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
            if member != state.owner
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
    """The owner turns a checked leave request into a LEAVE op (new epoch)."""
    check_leave(state, leave)
    return _owner_change(
        state, identity, GroupOpKind.LEAVE, leave.member, random, cut=leave.last_seq
    )


# --- joining ------------------------------------------------------------------------------------


def invitation(
    state: GroupState, heads: Mapping[bytes, tuple[int, bytes]], lamport: int
) -> GroupInvite:
    """The invite for the member the last op added: the whole chain, and where the group log
    stands (``ConversationLog`` heads and lamport) so the newcomer starts there."""
    listed = tuple((a, seq, digest) for a, (seq, digest) in sorted(heads.items()) if seq > 0)
    return GroupInvite(ops=state.ops, heads=listed, lamport=lamport)


def join(invite: GroupInvite, me: bytes, sender: bytes) -> GroupState:
    """Verify an invitation's whole chain from op 1; ``sender`` (the session's key) must be the
    owner and ``me`` a member. Heads must name past or present members only."""
    state = genesis(invite.ops[0])
    for op in invite.ops[1:]:
        state = apply_op(state, op)
    if sender != state.owner:
        raise GroupError("invitation not sent by the group's owner")
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
    if not hmac.compare_digest(key_check(record.key), state.key_checks[record.epoch]):
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


# --- envelopes ----------------------------------------------------------------------------------


def seal_group_envelope(
    state: GroupState,
    keys: Mapping[int, bytes],
    identity: Identity,
    log: ConversationLog,
    plaintext: bytes,
    sent_at: int,
    random: Random,
) -> Envelope:
    """Our next envelope in the group: encrypted under the current epoch key, signed, appended."""
    me = identity.public_key
    if log.conv != state.group:
        raise GroupError("log of another conversation")
    if me not in state.members:
        raise GroupError("not a member of this group")
    key = keys.get(state.epoch)
    if key is None:
        raise MissingKey(f"no key for epoch {state.epoch} yet")
    seq = log.head(me)[0] + 1
    nonce = random(NONCE_LEN)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, envelope_ad(state.group, state.epoch, me, seq), nonce, key
    )
    body = state.epoch.to_bytes(_EPOCH_LEN, "big") + nonce + ciphertext
    env = log.append_local(me, body, sent_at, sign=identity.sign)
    assert env.seq == seq  # the AD was bound to the seq append_local chose
    return env


def check_group_envelope(state: GroupState, env: Envelope) -> int:
    """Authorise a group envelope before ``ConversationLog.receive``: its epoch, its author's
    membership at that epoch (and log cut), and the author's signature. Returns the epoch.

    Needs no key, so members forward and store what they cannot read."""
    if env.conv != state.group:
        raise GroupError("envelope for another conversation")
    if len(env.body) < BODY_OVERHEAD:
        raise GroupError("group envelope body too short")
    epoch = int.from_bytes(env.body[:_EPOCH_LEN], "big")
    if epoch == 0:
        raise GroupError("group envelope of epoch 0")
    if epoch > state.epoch:
        raise UnknownEpoch(f"envelope of epoch {epoch}, we know up to {state.epoch}")
    if not state.may_author(env.author, epoch, env.seq):
        raise GroupError(f"author was not a member at epoch {epoch} (or wrote past their cut)")
    if len(env.sig) != SIG_LEN or not verify_signature(env.author, env.sig, env.signing_bytes()):
        raise GroupError("group envelope not signed by its author")
    return epoch


def open_group_envelope(state: GroupState, keys: Mapping[int, bytes], env: Envelope) -> bytes:
    """Check (as ``check_group_envelope``) and decrypt; the plaintext is an ordinary body."""
    epoch = check_group_envelope(state, env)
    key = keys.get(epoch)
    if key is None:
        raise MissingKey(f"no key for epoch {epoch}")
    nonce = env.body[_EPOCH_LEN : _EPOCH_LEN + NONCE_LEN]
    try:
        return bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                env.body[_EPOCH_LEN + NONCE_LEN :],
                envelope_ad(state.group, epoch, env.author, env.seq),
                nonce,
                key,
            )
        )
    except nacl.exceptions.CryptoError:
        raise GroupError("group envelope does not decrypt under its epoch key") from None


# --- gossip -------------------------------------------------------------------------------------


class GroupGossip:
    """Which of our member links get a group's new envelopes pushed (Plumtree, one tree per
    author).

    Every link starts eager for every author. An envelope that arrives again on an eager link
    shows that link is redundant for that author's envelopes: we stop pushing them on it and tell
    the peer (GroupPrune) to do the same. For a fixed author the first copy always arrives along
    a link nobody prunes, so the eager links left form a spanning tree of that author's pushes.
    Pruned links still swap vectors, and a SyncRequest on one (either way) makes it eager again,
    so when a tree breaks, the pull that repairs it also regrows it. Bounded: at most
    MAX_GROUP_OPS authors times the links we hold."""

    def __init__(self, group: bytes) -> None:
        self.group = group
        self._lazy: set[tuple[bytes, bytes]] = set()  # (author, peer)
        # Per peer: the highest op number it has shown us or we sent it, so a stale op (a
        # replay, or ops we pushed coming back) never makes us push the same ops again.
        self._ops_known: dict[bytes, int] = {}

    def push_targets(
        self, state: GroupState, links: Iterable[bytes], came_from: bytes | None, author: bytes
    ) -> list[bytes]:
        """Where to push an envelope of ``author`` we just accepted (or wrote): eager links to
        current members, except where it came from and its author."""
        return sorted(
            peer
            for peer in links
            if peer in state.members
            and peer not in (came_from, author)
            and (author, peer) not in self._lazy
        )

    def on_duplicate(self, peer: bytes, author: bytes) -> GroupPrune | None:
        """An envelope of ``author`` we already held came from ``peer``: the prune to send back,
        once."""
        if (author, peer) in self._lazy:
            return None
        self._lazy.add((author, peer))
        return GroupPrune(group=self.group, author=author)

    def on_prune(self, peer: bytes, author: bytes) -> None:
        self._lazy.add((author, peer))

    def on_request(self, peer: bytes, author: bytes) -> None:
        """A SyncRequest for ``author``'s log went to or came from ``peer``: push to it again."""
        self._lazy.discard((author, peer))

    def forget(self, peer: bytes) -> None:
        """The link closed: a new one starts eager and knows nothing of the peer's ops."""
        self._lazy = {entry for entry in self._lazy if entry[1] != peer}
        self._ops_known.pop(peer, None)

    def is_eager(self, peer: bytes, author: bytes) -> bool:
        return (author, peer) not in self._lazy

    def saw_op(self, peer: bytes, number: int) -> None:
        """``peer`` sent us op ``number`` (applied or not): it holds at least that far."""
        self._ops_known[peer] = max(self._ops_known.get(peer, 0), number)

    def ops_behind(self, state: GroupState, peer: bytes, number: int) -> tuple[GroupOp, ...]:
        """``peer`` sent our own op ``number`` (its head, on link start or after an OpGap): the
        ops that follow it, to send in order; nothing if we already sent or saw them."""
        if number < self._ops_known.get(peer, 0):
            return ()
        self._ops_known[peer] = state.number
        return state.ops[number:]


def op_targets(
    before: GroupState, after: GroupState, links: Iterable[bytes], came_from: bytes | None
) -> list[bytes]:
    """Where to forward an op we just applied: every member linked, before or after it (so a
    removed member learns it is out), except where it came from. Ops are rare: plain flooding."""
    return sorted(
        peer
        for peer in links
        if (peer in before.members or peer in after.members) and peer != came_from
    )
