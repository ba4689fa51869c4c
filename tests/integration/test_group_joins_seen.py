"""Issue 23, point 7: after the owner invites two members and both accept, each member sees the
other join within seconds (not only the inviter), whether or not the two are contacts."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import accept_invitation, befriend, group_of, wait_linked
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)

SEEN_WITHIN = 6.0  # under the anti-entropy interval (10 s): the join itself must spread


def all_joined(node: Node, group: str) -> bool:
    view = group_of(node, group)
    return bool(view["members"] == 3 and view.get("invited") == 0)


async def three(make_local_node: MakeLocalNode, *, friends: bool) -> tuple[Node, ...]:
    alice, bob, carol = [await make_local_node(n) for n in ("alice", "bob", "carol")]
    await befriend(alice, bob)
    await befriend(alice, carol)
    pairs = [(alice, bob), (alice, carol)]
    if friends:
        await befriend(bob, carol)
        pairs.append((bob, carol))
    await wait_linked(pairs)
    return alice, bob, carol


@pytest.mark.parametrize("friends", [True, False], ids=["contacts", "strangers"])
async def test_each_member_sees_the_others_join(make_local_node: MakeLocalNode,
                                                friends: bool) -> None:
    alice, bob, carol = await three(make_local_node, friends=friends)
    group = (await alice.create_group("hall"))["group"]
    await alice.invite_to_group(group, "bob")
    await alice.invite_to_group(group, "carol")
    await accept_invitation(bob, group)
    await until(lambda: group_of(alice, group).get("invited") == 1, 10, "alice sees bob")
    await accept_invitation(carol, group)
    await until(lambda: all_joined(alice, group), 10, "alice sees carol join")
    # bob joined before carol said yes: he learns it within seconds, without carol writing.
    await until(lambda: all_joined(bob, group), SEEN_WITHIN, "bob sees carol join")
    await until(lambda: all_joined(carol, group), SEEN_WITHIN, "carol sees everyone joined")


async def test_members_who_accept_at_once_see_each_other_join(
        make_local_node: MakeLocalNode) -> None:
    """Both accept in the same moment: a member's greeting may come before the op that adds it
    has reached the other; the join still counts once that op applies."""
    alice, bob, carol = await three(make_local_node, friends=True)
    group = (await alice.create_group("hall"))["group"]
    await alice.invite_to_group(group, "bob")
    await alice.invite_to_group(group, "carol")
    for node in (bob, carol):
        await until(lambda node=node: group_of(node, group)["role"] == "invited", 10,
                    "the invitations")
    await bob.accept_group(group)
    await carol.accept_group(group)
    for node in (alice, bob, carol):
        await until(lambda node=node: all_joined(node, group), SEEN_WITHIN,
                    f"{node.name} sees both join")


async def test_a_message_names_who_it_was_for_not_who_joined_later(
        make_local_node: MakeLocalNode) -> None:
    """Issue 23: `sent_to` (what /receipts lists) is the message's recipients when it was
    sent; carol, invited and joined after it, is not one of them."""
    alice, bob, carol = await three(make_local_node, friends=False)
    group = (await alice.create_group("hall"))["group"]
    await alice.invite_to_group(group, "bob")
    await accept_invitation(bob, group)
    await until(lambda: group_of(alice, group).get("invited") == 0, 10, "bob joined")
    await alice.send(group, "before carol")
    await alice.invite_to_group(group, "carol")
    await accept_invitation(carol, group)
    await until(lambda: all_joined(alice, group), 10, "carol joined")
    mine = [m for m in alice.history(group) if m.get("text") == "before carol"]
    assert mine and mine[0]["sent_to"] == [fingerprint(bob.key)], mine
    assert mine[0]["recipients"] == 1


async def test_the_log_says_delivered_once_every_recipient_holds_a_group_message(
        make_local_node: MakeLocalNode) -> None:
    """Issue 23: a group message of ours read back with `log` was "sent" for ever, whoever held
    it; now "delivered" once every one it was for is known to hold it, as the event says."""
    alice = await make_local_node("alice", group_sync_interval=0.5)
    bob = await make_local_node("bob", group_sync_interval=0.5)
    await befriend(alice, bob)
    await wait_linked([(alice, bob)])
    group = (await alice.create_group("hall"))["group"]
    await alice.invite_to_group(group, "bob")
    await accept_invitation(bob, group)
    await until(lambda: group_of(alice, group).get("invited") == 0, 10, "bob joined")
    await alice.send(group, "hello")

    def mine() -> dict[str, Any]:
        return next(m for m in alice.history(group) if m.get("text") == "hello")

    await until(lambda: mine()["delivered_to"] == [fingerprint(bob.key)], 15, "bob's receipt")
    assert mine()["status"] == "delivered"


@pytest.mark.parametrize("revision", [4, 5])
async def test_joins_go_only_to_peers_that_announced_revision_5_and_bind_nobody(
        make_local_node: MakeLocalNode, revision: int) -> None:
    """protocol.md 8.17 and 12: GroupJoins is a revision-5 record (a revision-4 peer would
    close the link on it), in the greeting after the vector; a member's claim naming a
    stranger or a group the receiver is not in changes nothing and the link stays."""
    from p2pchat.core.messages import Envelope, GroupJoins, GroupOp, SyncRequest
    from p2pchat.core.session import SessionConfig
    from tests.hostile_member import HostileMember, honest_member

    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    bob = await honest_member(make_local_node, owner, mallory.group, "bob")  # after mallory
    g = owner.groups.find(mallory.group)
    await until(lambda: bob.key in g.joined, 10, "the owner sees bob join")
    await owner.send(mallory.group, "hi")  # what a SyncRequest for its seq 1 brings
    async with mallory.connect(owner, config=SessionConfig(revision=revision)) as peer:
        seen: list[object] = []
        for _ in range(50):  # the greeting: vector, digest, (holders), (joins), the last op
            seen.append(await peer.recv())
            if isinstance(seen[-1], GroupOp):
                break
        joins = [r for r in seen if isinstance(r, GroupJoins)]
        if revision < 5:
            assert not joins, seen
            return
        assert [j.members for j in joins] == [(bob.key,)], seen
        stranger = b"\xfe" * 32
        before = set(g.joined)
        await peer.send(GroupJoins(group=bytes.fromhex(mallory.group),
                                   members=tuple(sorted((stranger, owner.key)))))
        await peer.send(GroupJoins(group=b"\x01" * 16, members=(stranger,)))
        await peer.send(SyncRequest(conv=bytes.fromhex(mallory.group), author=owner.key,
                                    first=1, last=1))
        await peer.recv_until(Envelope)  # answered after the claims: handled, link up
        assert g.joined == before and stranger not in g.joined
