"""Forks of a group's op chain, pure (docs/protocol.md 8.13): two managers (the owner, admins)
who sign different ops at one number, say while partitioned. Every member keeps the op with the
smaller hash, the manager whose op lost makes its change again on the winning chain, and the
keys of epochs a lost op started are handed on as `GroupLostKey`, checked against that op."""

from __future__ import annotations

import hmac

from p2pchat.core.group_errors import ForkBelow, GroupError
from p2pchat.core.groups import (
    Change,
    GroupState,
    Random,
    _owner_change,
    apply_op,
    key_check,
    op_hash,
)
from p2pchat.core.identity import Identity, verify_signature
from p2pchat.core.messages import GroupLostKey, GroupOp, GroupOpKind

__all__ = ["accept_lost_key", "fork_winner", "lost_branch", "redo"]


def fork_winner(state: GroupState, op: GroupOp) -> GroupState | None:
    """Two managers signed different ops at one number (say, while partitioned): the rule every
    member follows (protocol 8.13). ``op`` is at or below our number and differs from our op
    there. If it chains to our op before it and is valid there, the op with the smaller
    ``op_hash`` wins: the state with ``op`` in place of ours and every op after ours dropped, or
    None when ours wins. ForkBelow when ``op`` parted from our chain earlier."""
    n = op.number
    ours = state.op(n)
    if n > state.number or n < 2 or ours is None or ours == op:
        raise GroupError("not a fork (or one below our checkpoint)")
    before = state.hash_at(n - 1)
    if before is None:
        raise GroupError("a fork below our checkpoint")
    if not hmac.compare_digest(op.prev, before):
        raise ForkBelow(f"op {n} does not chain to our op {n - 1}")
    base = state.state_at(n - 1)
    theirs = apply_op(base, op)  # valid where it claims to be, or GroupError
    if op_hash(op) < op_hash(ours):
        return theirs
    return None


def lost_branch(state: GroupState, op: GroupOp) -> GroupState:
    """The state a lost fork branch's ``op`` gave, checked: it chains to our op before it,
    differs from ours, and was valid there (protocol 8.13). GroupError otherwise."""
    n = op.number
    ours, before = state.op(n), state.hash_at(n - 1)
    if not 2 <= n <= state.number or ours is None or ours == op or before is None:
        raise GroupError("not an op of a lost branch we can check")
    if not hmac.compare_digest(op.prev, before):
        raise GroupError("a lost op that does not chain to our chain")
    return apply_op(state.state_at(n - 1), op)


def accept_lost_key(state: GroupState, record: GroupLostKey, me: bytes) -> bytes:
    """The key a GroupLostKey carries, if its op is a checked lost-branch op that started an
    epoch we were in on that branch, and the key matches that op's commitment."""
    op = record.op
    if op.group != state.group or op.kind in GroupOpKind.SAME_EPOCH:
        raise GroupError("a lost key for another group, or of an op with no key")
    lost = lost_branch(state, op)
    if not lost.is_member(me):
        raise GroupError("a lost key of an epoch we were not in")
    if not hmac.compare_digest(key_check(record.key), op.key_check):
        raise GroupError("a lost key that does not match its op's commitment")
    return record.key


def redo(state: GroupState, identity: Identity, op: GroupOp, random: Random) -> Change | None:
    """Our ``op`` lost a fork (protocol 8.13): the same change made again on the winning chain,
    or None when it no longer applies there (the member is already in, or already out)."""
    if not verify_signature(identity.public_key, op.sig, op.signing_bytes()):
        return None  # not ours: its signer redoes it
    kind = op.kind
    try:
        if kind in GroupOpKind.SAME_EPOCH:
            return _owner_change(state, identity, kind, op.subject, None)
        if kind == GroupOpKind.ADD:
            return _owner_change(state, identity, kind, op.subject, random, name=op.name)
        if kind in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            return _owner_change(state, identity, kind, op.subject, random, cut=op.cut)
    except GroupError:
        return None
    return None
