"""Catching up across a checkpoint (docs/protocol.md 8.14): a member away for more membership
changes than anyone keeps ops of comes back, meets a plain member (the owner is gone) and goes
on from a checkpoint its owner signed, or learns it was removed meanwhile; a forged checkpoint
is refused and costs nothing else. In-process nodes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import pytest

from p2pchat.cli.remote import _print_groups
from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import GroupCheckpoint, GroupKey, GroupKeyRequest, GroupOp
from p2pchat.core.session import SessionConfig
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import befriend, group_of, invite_and_accept, texts, wait_linked
from tests.hostile_member import HostileMember
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)

CONFIG = {"group_sync_interval": 0.5, "max_links_per_ip": 64}
CHANGES = 202  # invite/remove of one member: far more than anyone keeps ops of (64 to 128)


async def trio(make: MakeLocalNode) -> tuple[Node, Node, Node, str]:
    """Owner o, plain members p and b, all contacts; o holds a contact x it adds and removes."""
    o, p, b = [await make(name, **CONFIG) for name in ("o", "p", "b")]
    for one, other in ((o, p), (o, b), (b, p)):
        await befriend(one, other)
    await wait_linked([(o, p), (o, b), (b, p)])
    group = (await o.create_group("hall"))["group"]
    for member in (p, b):
        await invite_and_accept(o, group, member)
    await until(lambda: all(group_of(x, group)["has_key"] and group_of(x, group)["members"] == 3
                            for x in (o, p, b)), 10, "p and b in")
    await o.add_contact(fingerprint(Identity.generate().public_key), "x")  # never online
    return o, p, b, group


async def churn(o: Node, p: Node, group: str, changes: int) -> None:
    """`changes` membership changes (x in, x out, ...), followed by p."""
    for _ in range(changes // 2):
        await o.invite_to_group(group, "x")
        await o.remove_from_group(group, "x")
    await until(lambda: chain(p, group) == chain(o, group) and group_of(p, group)["has_key"],
                20, "p follows the owner")


def chain(node: Node, group: str) -> tuple[int, bytes]:
    g = node.groups.find(group)
    return g.state.number, g.state.head


async def back(make: MakeLocalNode, node: Node) -> Node:
    """The same node (identity, home, port) started again."""
    return await make(node.name, identity=node.identity,
                      listen=(("127.0.0.1", node.listen_addresses[0][1]),), **CONFIG)


async def test_a_member_away_for_200_changes_catches_up_from_a_plain_member(
        make_local_node: MakeLocalNode) -> None:
    o, p, b, group = await trio(make_local_node)
    away_at = chain(b, group)[0]
    await b.stop()
    await churn(o, p, group, CHANGES)
    held = p.groups.find(group).state
    assert held.base > away_at  # p no longer holds the ops b lacks
    await o.stop()  # the owner is gone: only p, a plain member, is left to meet
    p = await back(make_local_node, await stopped(p))  # what p hands on survives a restart
    assert p.groups.find(group).state.base == held.base
    b = await back(make_local_node, b)
    await wait_linked([(b, p)])
    await until(lambda: chain(b, group) == chain(p, group) and group_of(b, group)["has_key"],
                10, "b caught up from p")
    assert group_of(b, group)["role"] == "member" and group_of(b, group)["behind"] is None
    await p.send(group, "welcome back")
    await until(lambda: "welcome back" in texts(b, group), 10, "b reads what p sent")
    await b.send(group, "thanks")
    await until(lambda: "thanks" in texts(p, group), 10, "p reads what b sent")
    g = b.groups.find(group)
    assert g.state.base > away_at
    assert len(b.db.groups.ops(g.conv)) == len(g.state.ops) <= checkpoints.COMPACT_AT
    b = await back(make_local_node, await stopped(b))  # the chain loads from the checkpoint
    assert chain(b, group) == chain(p, group)


async def stopped(node: Node) -> Node:
    await node.stop()
    return node


async def test_a_member_removed_while_away_learns_it_and_reads_nothing_new(
        make_local_node: MakeLocalNode) -> None:
    o, p, b, group = await trio(make_local_node)
    q = await make_local_node("q", **CONFIG)  # stays in: what b must not read reaches it
    await befriend(o, q)
    await befriend(q, p)
    await wait_linked([(o, q), (q, p)])
    await invite_and_accept(o, group, q)
    await b.stop()
    out_at = group_of(o, group)["epoch"]
    await o.remove_from_group(group, "b")  # its span is long pruned when it comes back
    await churn(o, p, group, CHANGES)
    assert b.key not in p.groups.find(group).state.spans
    await o.stop()
    b = await back(make_local_node, b)
    events = b.events.subscribe()
    await wait_linked([(b, p)])
    await until(lambda: group_of(b, group)["role"] == "removed", 10, "b learns it was removed")
    told = [e for e in drain(events) if e["type"] == "group_changed"]
    assert [e["change"] for e in told if e["you"]] == ["remove"]
    assert b.history(group, changes=True)[-1]["text"] == "you were removed"
    assert chain(b, group)[0] < chain(p, group)[0]  # a former member is sent no later ops
    await p.send(group, "after b")
    await until(lambda: "after b" in texts(q, group), 10, "q reads it")
    g = b.groups.find(group)
    assert max(g.keys) <= out_at  # no key of an epoch after its removal
    assert "after b" not in texts(b, group)
    assert len(b.db.groups.ops(g.conv)) <= checkpoints.COMPACT_AT


async def test_a_transfer_while_away_is_followed_from_the_old_owners_vouch_and_the_ops(
        make_local_node: MakeLocalNode) -> None:
    o, p, b, group = await trio(make_local_node)
    a = await make_local_node("a", **CONFIG)
    for other in (o, p):
        await befriend(other, a)
    await wait_linked([(o, a), (p, a)])
    await invite_and_accept(o, group, a)
    await b.stop()
    await churn(o, p, group, 100)
    await o.transfer_group(group, "a")  # a owns it now: b never knew it as a manager
    x = next(c for c in o.list_contacts() if c["name"] == "x")
    await a.add_contact(x["fingerprint"], "x")
    await until(lambda: chain(a, group) == chain(o, group), 10, "a follows")
    await churn(a, p, group, 40)
    assert any(signer == a.key for _, signer in p.groups.find(group).vouches)
    await o.stop()
    await a.stop()
    b = await back(make_local_node, b)
    await wait_linked([(b, p)])
    await until(lambda: chain(b, group) == chain(p, group) and group_of(b, group)["has_key"],
                10, "b caught up through the transfer")
    assert group_of(b, group)["owner"] == fingerprint(a.key)
    assert group_of(b, group)["behind"] is None
    await p.send(group, "a owns it now")
    await until(lambda: "a owns it now" in texts(b, group), 10, "b reads p")


def drain(queue: asyncio.Queue[Any]) -> list[dict[str, Any]]:
    out = []
    while not queue.empty():
        event = queue.get_nowait()
        if event is not None:
            out.append(event)
    return out


async def test_forged_and_unverifiable_checkpoints_are_refused_and_the_node_keeps_working(
        make_local_node: MakeLocalNode, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    o = await make_local_node("o", **CONFIG)
    group = (await o.create_group("hall"))["group"]
    p = await make_local_node("p", **CONFIG)
    await befriend(o, p)
    await wait_linked([(o, p)])
    await invite_and_accept(o, group, p)
    mallory = await HostileMember.join(make_local_node, o, group, **CONFIG)
    await until(lambda: group_of(p, group)["members"] == 3 and group_of(p, group)["has_key"],
                10, "p sees mallory in")
    g = p.groups.find(group)
    before = chain(p, group)
    root = checkpoints.root_at(g.state, g.state.number)
    ahead = replace(root, base=root.number + 40, owner=mallory.key)  # mallory the owner...
    own = checkpoints.checkpoint(ahead, mallory.identity)  # ...on its own word: unverifiable
    as_owner = replace(checkpoints.checkpoint(root, mallory.identity), signer=o.key)  # forged
    ask = GroupKeyRequest(group=g.conv, epoch=g.state.epoch)  # answered: all before it was read
    caplog.set_level(logging.INFO, "p2pchat.node")

    def said(words: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if words in r.getMessage()
                and r.levelno >= logging.WARNING]

    async with mallory.connect(p) as peer:
        await peer.send_many([replace(own, number=own.number + i) for i in range(30)])
        await peer.send(ask)
        await peer.recv_until(GroupKey)
        assert "cannot verify" in (group_of(p, group)["behind"] or "")
        await until(lambda: said("cannot catch up:"), 10, "p says it cannot catch up")
        _print_groups([group_of(p, group)])  # what `group list` prints
        assert "behind: offered a checkpoint at op" in capsys.readouterr().out
        await peer.send_many([as_owner] * 30 + [replace(as_owner, number=root.number + 9)])
        await peer.send(ask)
        await peer.recv_until(GroupKey)
    async with mallory.connect(p) as peer:  # a new link: checked again, refused again
        await peer.send_many([replace(as_owner, number=root.number + 9)] * 30)
        await peer.send(ask)
        await peer.recv_until(GroupKey)
    assert len(said("cannot catch up:")) == 1, said("checkpoint")
    assert len(said("refused a checkpoint from")) == 2, said("checkpoint")
    assert chain(p, group) == before and not p.groups.find(group).vouches
    await o.remove_from_group(group, "mallory")  # the node goes on as before
    await until(lambda: chain(p, group) == chain(o, group) and group_of(p, group)["has_key"],
                10, "p follows the owner")
    assert group_of(p, group)["behind"] is None
    await o.send(group, "still here")
    await until(lambda: "still here" in texts(p, group), 10, "p reads the owner")


@pytest.mark.parametrize("revision", [2, 3])
async def test_a_vouch_goes_only_to_peers_that_announced_revision_3(
        make_local_node: MakeLocalNode, revision: int) -> None:
    o = await make_local_node("o", **CONFIG)
    mallory = await HostileMember.join(make_local_node, o, **CONFIG)
    await o.add_contact(fingerprint(Identity.generate().public_key), "x")
    group = mallory.group
    async with mallory.connect(o, config=SessionConfig(revision=revision)) as peer:
        await until(lambda: o.links.is_linked(mallory.key), 10, "mallory linked")
        await churn_to(o, group, checkpoints.VOUCH_EVERY)  # the owner vouches at op 32
        seen = [await peer.recv()]
        for _ in range(1000):  # bounded: the greeting, then ops 3..32 (and keys, a vouch)
            last = seen[-1]
            if isinstance(last, GroupOp) and last.number == checkpoints.VOUCH_EVERY:
                break
            seen.append(await peer.recv())
        await peer.send(GroupKeyRequest(group=bytes.fromhex(group), epoch=2))
        for _ in range(1000):  # what followed op 32 comes before the answer
            seen.append(await peer.recv())
            last = seen[-1]
            if isinstance(last, GroupKey) and last.epoch == 2:
                break
        vouches = [r for r in seen if isinstance(r, GroupCheckpoint)]
        if revision >= 3:
            assert [(v.number, v.signer) for v in vouches] == [(32, o.key)]
        else:
            assert not vouches
        assert peer.closed_reason is None


async def churn_to(o: Node, group: str, number: int) -> None:
    """x in, x out, ... until the owner's chain is at op `number`."""
    while chain(o, group)[0] < number:
        if "x" in {m["name"] for m in o.group_members(group)}:
            await o.remove_from_group(group, "x")
        else:
            await o.invite_to_group(group, "x")
