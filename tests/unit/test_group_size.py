"""Groups of 1,000 members in the pure core (docs/protocol.md 8.10, 12, revision 4): built from
1,000 signed ops, their invitation, checkpoint, digest and vector survive the codec, and what a
revision-3 peer cannot decode is recognised."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core import groups
from p2pchat.core.equivocation import digest
from p2pchat.core.errors import ProtocolError
from p2pchat.core.group_errors import GroupError
from p2pchat.core.identity import Identity
from p2pchat.core.messages import (
    MAX_NAME_CHARS,
    MAX_RECORD_LEN,
    MAX_VECTOR_AUTHORS,
    GroupCheckpoint,
    GroupDigest,
    GroupInvite,
    GroupOp,
    GroupOpKind,
    SyncVector,
    decode_record,
    encode_record,
)
from p2pchat.core.record_fields import (
    MAX_GROUP_OPS,
    MAX_GROUP_ROWS,
    REVISION_3_RECORD_LEN,
    REVISION_3_ROWS,
    REVISION_3_VECTOR_AUTHORS,
)
from p2pchat.core.record_revisions import revision_3_form, revision_3_last_op

OWNER, NEWCOMER = Identity.generate(), Identity.generate()
MEMBERS = 1000


def big_group(size: int = MEMBERS) -> groups.GroupState:
    """The owner and ``size`` - 1 members, one signed ADD each, compacted as a node does."""
    state = groups.create(OWNER, "hall", "owner", os.urandom).state
    for n in range(size - 1):
        state = groups.invite(state, OWNER, os.urandom(32), f"member {n}", os.urandom).state
        if len(state.ops) > checkpoints.COMPACT_AT:
            state = checkpoints.compact(state)
    return state


@pytest.fixture(scope="module")
def hall() -> groups.GroupState:
    return big_group()


def roundtrip(record: object) -> object:
    data = encode_record(record)  # type: ignore[arg-type]
    assert len(data) <= MAX_RECORD_LEN
    back = decode_record(data)
    assert back == record
    return back


def test_a_group_of_1000_members_invites_a_newcomer_who_verifies_the_chain(
        hall: groups.GroupState) -> None:
    assert len(hall.members) == MEMBERS and hall.number == MEMBERS and hall.base
    added = groups.invite(hall, OWNER, NEWCOMER.public_key, "newcomer", os.urandom).state
    heads = {key: (7, os.urandom(32)) for key in added.members}  # every member wrote
    invite = groups.invitation(added, heads, 99, OWNER)
    assert invite.checkpoint is not None and len(invite.checkpoint.members) > 950
    size = len(encode_record(invite))
    assert REVISION_3_RECORD_LEN < size <= MAX_RECORD_LEN  # only a revision-4 peer takes it
    back = roundtrip(invite)
    assert isinstance(back, GroupInvite)
    joined = groups.join(back, NEWCOMER.public_key, OWNER.public_key)
    assert joined.members == added.members and joined.head == added.head
    assert len(back.heads) == MEMBERS + 1
    assert revision_3_form(back, size) is None


def test_a_checkpoint_of_1000_members_round_trips(hall: groups.GroupState) -> None:
    record = checkpoints.checkpoint(checkpoints.root_at(hall, hall.number), OWNER)
    back = roundtrip(record)
    assert isinstance(back, GroupCheckpoint) and len(back.members) == MEMBERS
    state = checkpoints.checkpoint_state(back)
    assert state.members == hall.members and state.epoch == hall.epoch
    assert revision_3_form(back, len(encode_record(back))) is None
    too_many = replace(record, members=(*record.members, *(
        (os.urandom(32), "extra", 1) for _ in range(groups.MAX_GROUP_MEMBERS + 1 - MEMBERS))))
    too_many = replace(too_many, sig=OWNER.sign(too_many.signing_bytes()))
    with pytest.raises(GroupError, match="within the limits"):
        checkpoints.checkpoint_state(too_many)


def test_a_digest_and_a_vector_of_1000_authors_round_trip(hall: groups.GroupState) -> None:
    heads = {key: (n + 1, os.urandom(32)) for n, key in enumerate(hall.members)}
    record = digest(hall.group, heads)
    assert len(roundtrip(record).heads) == MEMBERS  # type: ignore[attr-defined]
    vector = SyncVector(conv=hall.group, vector={k: seq for k, (seq, _) in heads.items()})
    assert roundtrip(vector) == vector
    # A revision-3 peer gets the first 100 heads, as revision 3 sent, and no vector it refuses.
    cut = revision_3_form(record, len(encode_record(record)))
    assert isinstance(cut, GroupDigest) and cut.heads == record.heads[:REVISION_3_ROWS]
    assert revision_3_form(vector, len(encode_record(vector))) is None
    small = SyncVector(conv=hall.group, vector=dict(list(vector.vector.items())[:256]))
    assert revision_3_form(small, len(encode_record(small))) is small
    with pytest.raises(ProtocolError):
        SyncVector(conv=hall.group, vector={os.urandom(32): 1 for _ in
                                            range(MAX_VECTOR_AUTHORS + 1)})
    assert REVISION_3_VECTOR_AUTHORS < MEMBERS < MAX_VECTOR_AUTHORS


def test_a_revision_3_member_follows_the_chain_up_to_the_65th_member() -> None:
    state = big_group(70)  # the owner and 69 members, held from op 1
    assert not state.base
    assert revision_3_last_op(state) == 64  # op 65 adds the 65th member
    crossed = groups.remove(groups.remove(state, OWNER, state.ops[-1].subject, 0, os.urandom)
                            .state, OWNER, state.ops[-2].subject, 0, os.urandom).state
    assert revision_3_last_op(crossed) == 64  # back under 64 later: still past the crossing
    small = big_group(10)
    assert revision_3_last_op(small) == small.number
    rooted = big_group(200)
    assert rooted.base and revision_3_last_op(rooted) == rooted.base  # its root is over 64
    invite = groups.invitation(small, {}, 0)
    assert revision_3_form(invite, len(encode_record(invite))) is invite
    wide = groups.invitation(state, {}, 0)  # 70 ops from op 1, fits in size but not in members
    assert len(encode_record(wide)) <= REVISION_3_RECORD_LEN
    assert revision_3_form(wide, len(encode_record(wide))) is None


def test_the_largest_invitation_fits_in_one_record() -> None:
    """The worst case: 1,024 members and the longest names, every span row and commitment a
    checkpoint may keep, 48 ops with the longest names, 2,048 heads."""
    wide = "\U0001f600" * MAX_NAME_CHARS
    big = 2**63 - 1
    keys = [n.to_bytes(32, "big") for n in range(1, MAX_GROUP_ROWS + 1)]
    members = groups.MAX_GROUP_MEMBERS
    cp = GroupCheckpoint(
        group=b"g" * 16, number=big, head=b"h" * 32, title=wide, owner=keys[0],
        admins=tuple(keys[1:9]), epoch=big,
        members=tuple((k, wide, big) for k in keys[:members]),
        spans=tuple((keys[i], big, big, big)
                    for i in range(members + checkpoints.SPAN_EPOCHS + 1)),
        key_checks=tuple((big - i, b"k" * 16) for i in range(MAX_GROUP_OPS)),
        signer=keys[0], sig=b"s" * 64)
    op = GroupOp(group=b"g" * 16, number=big, kind=GroupOpKind.ADD, epoch=big, subject=keys[0],
                 name=wide, title="", cut=0, key_check=b"k" * 16, prev=b"p" * 32, sig=b"x" * 64)
    heads = tuple((k, big, b"h" * 32) for k in keys)
    invite = GroupInvite(ops=tuple(replace(op, number=big - i)
                                   for i in range(checkpoints.INVITE_OPS)),
                         heads=heads, lamport=big, checkpoint=cp)
    size = len(encode_record(invite))
    assert size <= MAX_RECORD_LEN, size
    assert decode_record(encode_record(invite)) == invite
