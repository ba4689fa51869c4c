"""Vouches in the pure core (docs/protocol.md 8.14): who signs one, checking one against our
chain, and the trust rule for taking one ahead of it (a manager we know, handovers by ops)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core import groups
from p2pchat.core.group_errors import GroupError, NotOurChain, Unverifiable
from p2pchat.core.identity import Identity

OWNER, ADA, BEN, CAL, X = (Identity.generate() for _ in range(5))


def hall() -> groups.GroupState:
    """Owner with ada (admin), ben and cal: 5 ops."""
    state = groups.create(OWNER, "hall", "owner", os.urandom).state
    for who, name in ((ADA, "ada"), (BEN, "ben"), (CAL, "cal")):
        state = groups.invite(state, OWNER, who.public_key, name, os.urandom).state
    return groups.admin(state, OWNER, ADA.public_key).state


def churn(state: groups.GroupState, by: Identity, changes: int) -> groups.GroupState:
    """x in, x out, ... as `by` (owner or admin), compacting as a member does."""
    for _ in range(changes):
        if state.is_member(X.public_key):
            state = groups.remove(state, by, X.public_key, 0, os.urandom).state
        else:
            state = groups.invite(state, by, X.public_key, "x", os.urandom).state
        if len(state.ops) > checkpoints.COMPACT_AT:
            state = checkpoints.compact(state)
    return state


def test_managers_vouch_every_32_ops_and_a_member_checks_one_against_its_chain() -> None:
    start = hall()
    state = churn(start, OWNER, 64 - start.number)
    assert state.number == 64
    assert checkpoints.vouch_due(state, ADA.public_key)
    assert not checkpoints.vouch_due(state, BEN.public_key)  # a plain member signs nothing
    assert not checkpoints.vouch_due(churn(state, OWNER, 1), OWNER.public_key)
    record = checkpoints.vouch(state, ADA)
    checkpoints.check_vouch(state, record)  # ben, at op 64 too, agrees
    later = churn(state, OWNER, 20)
    checkpoints.check_vouch(later, record)  # and still does 20 ops on
    # A manager vouching for a state the chain does not give (ben renamed): forged.
    lie = checkpoints.checkpoint(replace(checkpoints.root_at(state, 64),
                                         members={**state.members, BEN.public_key: "mallory"}),
                                 ADA)
    with pytest.raises(GroupError, match="does not match our chain"):
        checkpoints.check_vouch(later, lie)
    with pytest.raises(GroupError, match="not signed by the owner or an admin"):
        checkpoints.check_vouch(later, checkpoints.vouch(state, BEN))
    with pytest.raises(GroupError, match="not signed by its signer"):
        checkpoints.check_vouch(later, replace(record, sig=bytes(64)))
    with pytest.raises(NotOurChain):  # another branch's op 64: the ops sort that out
        checkpoints.check_vouch(later, replace(record, head=bytes(32)))


def test_a_member_behind_takes_a_vouch_only_from_a_manager_it_knows() -> None:
    away = hall()  # cal's last op: owner and ada are the managers it knows
    state = churn(away, ADA, 200)
    assert state.base > away.number  # nobody holds the ops cal lacks
    taken = checkpoints.take(away, checkpoints.vouch(state, ADA))
    assert taken.number == state.number and taken.members == state.members
    assert taken.head == state.head and taken.epoch == state.epoch
    promoted = groups.admin(state, OWNER, BEN.public_key).state  # ben: admin in the gap
    with pytest.raises(Unverifiable):
        checkpoints.take(away, checkpoints.vouch(promoted, BEN))
    # A member signing a state that names itself owner: not a manager cal knows.
    with pytest.raises(Unverifiable):
        checkpoints.take(away, checkpoints.checkpoint(
            replace(checkpoints.root_at(state, state.number), owner=BEN.public_key), BEN))
    with pytest.raises(GroupError, match="not signed by its signer"):
        checkpoints.take(away, replace(checkpoints.vouch(state, BEN), signer=OWNER.public_key))
    # Ada, demoted in the gap, still vouches: its own checkpoint no longer names it.
    demoted = groups.unadmin(state, OWNER, ADA.public_key).state
    with pytest.raises(GroupError, match="does not name owner or admin"):
        checkpoints.take(away, checkpoints.checkpoint(
            checkpoints.root_at(demoted, demoted.number), ADA))
    with pytest.raises(NotOurChain):
        checkpoints.take(state, checkpoints.vouch(state, ADA))  # not ahead of us


def test_a_handover_in_the_gap_is_followed_through_the_ops_after_a_known_vouch() -> None:
    away = hall()
    before = churn(away, OWNER, 130)
    old = checkpoints.vouch(before, OWNER)  # the owner's last vouch before it hands over
    after = groups.transfer(before, OWNER, BEN.public_key).state
    after = churn(after, BEN, 20)  # ben, owner now, changes things; it vouches from here on
    with pytest.raises(Unverifiable):
        checkpoints.take(away, checkpoints.vouch(after, BEN))
    state = checkpoints.take(away, old)  # the owner's word, then the signed TRANSFER and on
    for op in after.ops_after(old.number) or ():
        state = groups.apply_op(state, op)
    assert state.head == after.head and state.owner == BEN.public_key
    # Having taken the owner's vouch, cal knows ben as the owner: ben's later vouch is taken.
    later = churn(after, BEN, 40)
    assert checkpoints.take(state, checkpoints.vouch(later, BEN)).head == later.head
