"""Groups of 1,000 members between real nodes over real sockets (docs/protocol.md 8.10, 12):
a newcomer joins one and reads it; what a revision-3 peer cannot decode never goes to it.

The 1,000 members are the owner's own signed ADD ops, written into its store before it starts
(most members exist only as keys: they never link), so the test spends its time on the wire,
not on a thousand invitations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core import groups as core
from p2pchat.core.identity import Identity
from p2pchat.core.messages import GroupInvite, GroupOp, SyncVector, encode_record
from p2pchat.core.record_fields import REVISION_3_RECORD_LEN
from p2pchat.core.session import SessionConfig
from p2pchat.home import ensure_home
from p2pchat.node import Node
from p2pchat.node.node import DB_FILE
from p2pchat.storage.store import Store
from tests.aio import until
from tests.groups_net import accept_invitation, befriend, linked, texts
from tests.hostile_member import join_group
from tests.hostile_peer import HostilePeer, hostile_contact
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)

MEMBERS = 1000


def seed_group(home: Path, owner: Identity, members: int = MEMBERS) -> str:
    """A group of `owner` and `members` - 1 members known only by their keys, in the store at
    `home` (as the node keeps one: a checkpoint, the ops after it, the recent epochs' keys).
    Its id, hex."""
    change = core.create(owner, "hall", "owner", os.urandom)
    state, keys = change.state, {1: change.key}
    for n in range(members - 1):
        change = core.invite(state, owner, os.urandom(32), f"member {n}", os.urandom)
        state, keys[change.state.epoch] = change.state, change.key
        if len(state.ops) > checkpoints.COMPACT_AT:
            state = checkpoints.compact(state)
    assert state.root is not None
    store = Store(ensure_home(home) / DB_FILE, owner.derive_key("store"))
    with store.transaction():
        store.groups.create(state.group, state.title, 0, {})
        store.groups.set_base(state.group, encode_record(checkpoints.checkpoint(state.root,
                                                                                owner)))
        for op in state.ops:
            store.groups.add_op(state.group, op.number, encode_record(op))
        for epoch in range(state.base, state.epoch + 1):
            key = keys[epoch]
            assert key is not None
            store.groups.put_key(state.group, epoch, key)
    store.close()
    return state.group.hex()


async def large_owner(make: MakeLocalNode, tmp_path: Path) -> tuple[Node, str]:
    identity = Identity.generate()
    group = seed_group(tmp_path / "owner", identity)
    owner = await make("owner", identity=identity)
    assert owner.groups.find(group).state.number == MEMBERS
    return owner, group


async def test_a_newcomer_joins_a_group_of_1000_members_and_reads_it(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    owner, group = await large_owner(make_local_node, tmp_path)
    bob = await make_local_node("bob")
    await befriend(owner, bob)
    await until(lambda: linked(owner, bob), 20, "the link")
    await owner.invite_to_group(group, "bob")
    invite = owner.groups.find(group).invites[bob.key]
    assert len(encode_record(invite)) > REVISION_3_RECORD_LEN  # a revision-4 record
    await accept_invitation(bob, group)
    await until(lambda: join_group(bob, group), 30, "bob joins")
    assert len(bob.groups.find(group).state.members) == MEMBERS + 1
    await owner.send(group, "welcome to the hall")
    await until(lambda: "welcome to the hall" in texts(bob, group), 20, "bob reads it")


async def _greeting(peer: HostilePeer) -> list[object]:
    """What the node sends on link start, up to a bounded wait for more."""
    seen: list[object] = []
    with contextlib.suppress(AssertionError):  # recv times out with one
        for _ in range(50):
            seen.append(await peer.recv(timeout=1.5))
    return seen


@pytest.mark.parametrize("revision", [3, 4])
async def test_a_record_over_revision_3s_cap_goes_only_to_revision_4_peers(
        make_local_node: MakeLocalNode, tmp_path: Path, revision: int) -> None:
    owner, group = await large_owner(make_local_node, tmp_path)
    mallory = await hostile_contact(owner)
    await owner.invite_to_group(group, "mallory")  # she is offline: the invitation waits
    host, port = owner.listen_addresses[0]
    async with HostilePeer.connect(mallory, (host, port), remote_key=owner.key, timeout=30,
                                   config=SessionConfig(revision=revision)) as peer:
        seen = await _greeting(peer)
        assert any(isinstance(r, SyncVector) for r in seen)  # the greeting did come
        invites = [r for r in seen if isinstance(r, GroupInvite)]
        ops = [r for r in seen if isinstance(r, GroupOp)]
        if revision >= 4:
            assert invites and len(encode_record(invites[0])) > REVISION_3_RECORD_LEN
            assert ops and ops[-1].number == MEMBERS + 1
        else:
            assert not invites  # over 69,632 bytes: a revision-3 peer would close on it
            assert not ops  # the chain passed 64 members at op 65: it cannot follow
        assert peer.closed_reason is None  # nothing it could not decode closed the link
