"""Admins and the fork rule in the pure core (docs/protocol.md 8.13)."""

from __future__ import annotations

import os

import pytest

from p2pchat.core import group_checkpoints, group_forks, groups
from p2pchat.core.group_errors import ForkBelow, GroupError, OpReplay
from p2pchat.core.identity import Identity
from p2pchat.core.messages import GroupLostKey, GroupOpKind, decode_record, encode_record

OWNER, ADA, BEN, CAL, DOT = (Identity.generate() for _ in range(5))


def hall() -> groups.GroupState:
    """Owner with ada (admin), ben and cal."""
    state = groups.create(OWNER, "hall", "owner", os.urandom).state
    for who, name in ((ADA, "ada"), (BEN, "ben"), (CAL, "cal")):
        state = groups.invite(state, OWNER, who.public_key, name, os.urandom).state
    return groups.admin(state, OWNER, ADA.public_key).state


def test_admins_add_and_remove_but_only_the_owner_names_admins_or_removes_one() -> None:
    state = hall()
    assert state.admins == {ADA.public_key} and state.is_manager(ADA.public_key)
    added = groups.invite(state, ADA, DOT.public_key, "dot", os.urandom)
    assert added.state.is_member(DOT.public_key)
    assert ADA.public_key not in {m for m, _ in added.deliveries}  # the signer holds the key
    assert OWNER.public_key in {m for m, _ in added.deliveries}
    removed = groups.remove(added.state, ADA, BEN.public_key, 0, os.urandom)
    assert not removed.state.is_member(BEN.public_key)
    with pytest.raises(GroupError, match="owner"):
        groups.admin(state, ADA, BEN.public_key)  # only the owner names admins
    with pytest.raises(GroupError):
        groups.remove(state, ADA, OWNER.public_key, 0, os.urandom)  # nobody removes the owner
    with pytest.raises(GroupError, match="owner or an admin"):
        groups.invite(state, BEN, DOT.public_key, "dot", os.urandom)  # a member cannot
    both = groups.admin(state, OWNER, BEN.public_key).state
    with pytest.raises(GroupError, match="only the owner removes an admin"):
        groups.remove(both, ADA, BEN.public_key, 0, os.urandom)
    back = groups.unadmin(both, OWNER, BEN.public_key).state
    assert back.admins == {ADA.public_key}
    out = groups.remove(both, OWNER, BEN.public_key, 0, os.urandom).state
    assert out.admins == {ADA.public_key}  # removing an admin ends its rights
    moved = groups.transfer(state, OWNER, ADA.public_key).state
    assert moved.owner == ADA.public_key and not moved.admins
    # Every member replays the same chain, admin-signed ops included.
    assert groups.replay(removed.state.ops).members == removed.state.members


def test_an_op_signed_by_a_member_or_a_removed_admin_is_refused() -> None:
    state = hall()
    forged = groups.invite(groups.admin(state, OWNER, BEN.public_key).state, BEN,
                           DOT.public_key, "dot", os.urandom).op
    with pytest.raises(GroupError, match="not signed"):
        groups.apply_op(state, forged.__class__(**{**_fields(forged), "number": state.number + 1,
                                                   "prev": state.head}))
    gone = groups.unadmin(state, OWNER, ADA.public_key).state
    late = groups.invite(state, ADA, DOT.public_key, "dot", os.urandom).op
    with pytest.raises(GroupError):
        groups.apply_op(gone, late)


def test_two_admins_fork_and_the_smaller_op_hash_wins_everywhere() -> None:
    base = groups.admin(hall(), OWNER, BEN.public_key).state
    by_ada = groups.remove(base, ADA, CAL.public_key, 0, os.urandom)
    by_ben = groups.invite(base, BEN, DOT.public_key, "dot", os.urandom)
    with pytest.raises(OpReplay) as fork:
        groups.apply_op(by_ada.state, by_ben.op)
    assert not fork.value.same
    ada_view = group_forks.fork_winner(by_ada.state, by_ben.op)
    ben_view = group_forks.fork_winner(by_ben.state, by_ada.op)
    ada_wins = groups.op_hash(by_ada.op) < groups.op_hash(by_ben.op)
    assert (ada_view is None) == ada_wins and (ben_view is None) != ada_wins
    winner = by_ada if ada_wins else by_ben
    loser, loser_id = (by_ben, BEN) if ada_wins else (by_ada, ADA)
    taken = ben_view if ada_wins else ada_view
    assert taken is not None and taken.ops == winner.state.ops
    # The losing admin redoes its change on the winning chain: both changes stand.
    redone = group_forks.redo(winner.state, loser_id, loser.op, os.urandom)
    assert redone is not None
    assert not redone.state.is_member(CAL.public_key) and redone.state.is_member(DOT.public_key)
    assert group_forks.redo(winner.state, OWNER, loser.op, os.urandom) is None  # not the owner's op
    # A branch that parted earlier is found by walking back.
    later = groups.invite(by_ben.state, BEN, Identity.generate().public_key, "eve", os.urandom)
    with pytest.raises(ForkBelow):
        group_forks.fork_winner(by_ada.state, _renumbered(later.op, by_ada.state.number))


def test_a_lost_branchs_key_is_checked_against_its_op() -> None:
    base = groups.admin(hall(), OWNER, BEN.public_key).state
    by_ada = groups.remove(base, ADA, CAL.public_key, 0, os.urandom)
    by_ben = groups.invite(base, BEN, DOT.public_key, "dot", os.urandom)
    assert by_ben.key is not None
    record = GroupLostKey(op=by_ben.op, key=by_ben.key)
    assert decode_record(encode_record(record)) == record
    assert group_forks.accept_lost_key(by_ada.state, record, BEN.public_key) == by_ben.key
    with pytest.raises(GroupError, match="commitment"):
        group_forks.accept_lost_key(by_ada.state, GroupLostKey(op=by_ben.op, key=bytes(32)),
                               BEN.public_key)
    with pytest.raises(GroupError, match="not in"):  # a stranger to that branch gets nothing
        group_forks.accept_lost_key(by_ada.state, record, Identity.generate().public_key)
    with pytest.raises(GroupError):  # our own op is not a lost one
        group_forks.accept_lost_key(by_ada.state, GroupLostKey(op=by_ada.op, key=by_ben.key),
                               BEN.public_key)
    assert GroupOpKind.ADMIN in GroupOpKind.REVISION_3


def _fields(op: object) -> dict[str, object]:
    names = ("group", "number", "kind", "epoch", "subject", "name", "title", "cut", "key_check",
             "prev", "sig")
    return {name: getattr(op, name) for name in names}


def _renumbered(op: object, number: int) -> object:
    return op.__class__(**{**_fields(op), "number": number})  # type: ignore[arg-type]


def test_a_checkpoint_drops_old_ops_and_a_newcomer_joins_from_it() -> None:
    from dataclasses import replace

    from p2pchat.core.messages import GroupCheckpoint

    state = hall()
    for _ in range(60):  # 120 changes of dot: far past the old 100-op cap
        state = groups.invite(state, OWNER, DOT.public_key, "dot", os.urandom).state
        state = groups.remove(state, ADA, DOT.public_key, 0, os.urandom).state
    assert state.number == 125
    small = group_checkpoints.compact(state)
    assert small.number == state.number and small.head == state.head
    keep = group_checkpoints.KEEP_OPS
    assert len(small.ops) == keep and small.base == state.number - keep
    assert small.members == state.members and small.admins == state.admins
    assert len(small.spans[DOT.public_key]) <= len(state.spans[DOT.public_key])
    added = groups.invite(small, ADA, DOT.public_key, "dot", os.urandom)  # an admin invites
    invite = groups.invitation(added.state, {}, 0, ADA)
    assert invite.checkpoint is not None and len(invite.ops) <= 100
    assert decode_record(encode_record(invite)) == invite
    joined = groups.join(invite, DOT.public_key, ADA.public_key)
    assert joined.head == added.state.head and joined.members == added.state.members
    with pytest.raises(GroupError, match="inviter"):  # a checkpoint is the inviter's word
        groups.join(invite, DOT.public_key, OWNER.public_key)
    forged = replace(invite.checkpoint, title="renamed")
    assert isinstance(forged, GroupCheckpoint)
    with pytest.raises(GroupError, match="signed"):
        group_checkpoints.checkpoint_state(forged)
    # Keeping on from the compacted state works as from the full one.
    after = groups.remove(added.state, OWNER, DOT.public_key, 0, os.urandom)
    assert groups.apply_op(joined, after.op).members == after.state.members


def test_a_full_invitation_from_a_checkpoint_fits_in_one_record() -> None:
    """The worst case: 64 members and the longest names, the most span rows and commitments,
    INVITE_OPS ops with the longest names, 100 heads."""
    from dataclasses import replace

    from p2pchat.core.group_checkpoints import INVITE_OPS
    from p2pchat.core.groups import MAX_GROUP_MEMBERS
    from p2pchat.core.messages import (
        MAX_GROUP_OPS,
        MAX_NAME_CHARS,
        MAX_RECORD_LEN,
        GroupCheckpoint,
        GroupInvite,
        GroupOp,
    )

    wide = "\U0001f600" * MAX_NAME_CHARS
    big = 2**63 - 1
    keys = [n.to_bytes(32, "big") for n in range(1, 101)]
    cp = GroupCheckpoint(
        group=b"g" * 16, number=big, head=b"h" * 32, title=wide, owner=keys[0],
        admins=tuple(keys[1:9]), epoch=big,
        members=tuple((k, wide, big) for k in keys[:MAX_GROUP_MEMBERS]),
        spans=tuple((keys[i % 100], big, big, big) for i in range(MAX_GROUP_OPS)),
        key_checks=tuple((big - i, b"k" * 16) for i in range(MAX_GROUP_OPS)),
        signer=keys[0], sig=b"s" * 64)
    op = GroupOp(group=b"g" * 16, number=big, kind=GroupOpKind.ADD, epoch=big, subject=keys[0],
                 name=wide, title="", cut=0, key_check=b"k" * 16, prev=b"p" * 32, sig=b"x" * 64)
    heads = tuple((k, big, b"h" * 32) for k in keys[:MAX_GROUP_OPS])
    invite = GroupInvite(ops=tuple(replace(op, number=big - i) for i in range(INVITE_OPS)),
                         heads=heads, lamport=big, checkpoint=cp)
    size = len(encode_record(invite))
    assert size <= MAX_RECORD_LEN, size
    assert decode_record(encode_record(invite)) == invite
