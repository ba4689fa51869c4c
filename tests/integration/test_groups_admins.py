"""Admins (docs/protocol.md 8.13): they invite and remove, keep the group going when the owner is
gone for good, and two admins who change the membership while partitioned converge once the
partition heals. In-process nodes on 127.0.0.1."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import CommandError, Node
from tests.aio import until
from tests.groups_net import befriend, group_of, invite_and_accept, texts, wait_linked
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)

CONFIG: dict[str, Any] = {"group_sync_interval": 0.5, "max_links_per_ip": 64}


async def mesh(make: MakeLocalNode, names: list[str]) -> list[Node]:
    """Nodes that are all each other's contacts, each dialling the ones after it."""
    nodes = [await make(name, **CONFIG) for name in names]
    for a, b in itertools.combinations(nodes, 2):
        await befriend(a, b)
    await wait_linked(itertools.combinations(nodes, 2))
    return nodes


async def restart(make: MakeLocalNode, node: Node) -> Node:
    """The same node (identity, home, port) started again."""
    port = node.listen_addresses[0][1]
    await node.stop()
    return await make(node.name, identity=node.identity, listen=(("127.0.0.1", port),), **CONFIG)


def members_of(node: Node, group: str) -> set[str]:
    return {m["name"] for m in node.group_members(group)}


def chain(node: Node, group: str) -> tuple[int, bytes]:
    g = node.groups.find(group)
    return g.state.number, g.state.head


async def test_an_admin_invites_removes_and_outlives_the_owner(
        make_local_node: MakeLocalNode) -> None:
    o, a, m1, m2 = await mesh(make_local_node, ["o", "a", "m1", "m2"])
    group = (await o.create_group("hall"))["group"]
    for m in (a, m1):
        await invite_and_accept(o, group, m)
    with pytest.raises(CommandError) as denied:
        await a.invite_to_group(group, "m2")
    assert denied.value.code == "not_owner"
    view = await o.admin_group(group, "a")
    assert view["admins"] == [fingerprint(a.key)]
    await until(lambda: group_of(a, group)["role"] == "admin", 10, "a told it is an admin")
    with pytest.raises(CommandError):  # only the owner names admins
        await a.admin_group(group, "m1")
    await invite_and_accept(a, group, m2)  # an admin invites
    await until(lambda: all(group_of(x, group)["members"] == 4 and group_of(x, group)["has_key"]
                            for x in (o, a, m1, m2)), 10, "m2 in everywhere")
    assert any(m["admin"] for m in o.group_members(group) if m["name"] == "a")

    await o.stop()  # the owner is gone for good
    with pytest.raises(CommandError):
        await a.remove_from_group(group, "o")  # nobody removes the owner
    await a.remove_from_group(group, "m1")
    await until(lambda: group_of(m1, group)["role"] == "removed", 10, "m1 told")
    await until(lambda: group_of(m2, group)["epoch"] == group_of(a, group)["epoch"]
                and group_of(m2, group)["has_key"], 10, "m2 at the new epoch")
    await a.send(group, "after m1")
    await until(lambda: "after m1" in texts(m2, group), 10, "m2 reads it")
    assert "after m1" not in texts(m1, group)
    assert m1.groups.find(group).state.epoch not in m1.groups.find(group).keys


async def test_two_admins_racing_in_a_partition_converge_when_it_heals(
        make_local_node: MakeLocalNode) -> None:
    o, a1, a2, m1, m2, m3 = await mesh(make_local_node, ["o", "a1", "a2", "m1", "m2", "m3"])
    group = (await o.create_group("hall"))["group"]
    for m in (a1, a2, m1, m2, m3):
        await invite_and_accept(o, group, m)
    await o.admin_group(group, "a1")
    await o.admin_group(group, "a2")
    everyone = [o, a1, a2, m1, m2, m3]
    await until(lambda: len({chain(x, group) for x in everyone}) == 1
                and all(group_of(x, group)["has_key"] for x in everyone), 15, "one chain")
    await o.stop()  # gone for good

    # Side A is a1 and m1; side B is a2, m2 and m3. Each side changes the membership while the
    # other is down (a partition, played by stopping one side while the other acts).
    for x in (a2, m2, m3):
        await x.stop()
    await a1.remove_from_group(group, "m3")
    await until(lambda: chain(m1, group) == chain(a1, group)
                and group_of(m1, group)["has_key"], 10, "side A agrees")
    await a1.send(group, "side A")
    await until(lambda: "side A" in texts(m1, group), 10, "m1 reads side A")
    for x in (a1, m1):
        await x.stop()
    b_side = [await restart(make_local_node, x) for x in (a2, m2, m3)]
    a2, m2, m3 = b_side
    await wait_linked([(a2, m2), (a2, m3)])
    await a2.remove_from_group(group, "m1")
    await until(lambda: chain(m2, group) == chain(a2, group)
                and group_of(m2, group)["has_key"], 10, "side B agrees")
    await a2.send(group, "side B")
    await until(lambda: "side B" in texts(m2, group), 10, "m2 reads side B")
    assert chain(a2, group)[0] == chain(m2, group)[0]

    # Heal: side A comes back; everyone meets.
    a1 = await restart(make_local_node, a1)
    m1 = await restart(make_local_node, m1)
    alive = [a1, a2, m1, m2, m3]
    await wait_linked([(a1, a2), (a1, m2)])
    # Both removals stand in the end (the losing admin redoes its change on the winning chain):
    # every remaining member holds the same chain, members and epoch, with its key.
    staying = [a1, a2, m2]
    await until(lambda: len({chain(x, group) for x in staying}) == 1
                and all(members_of(x, group) == {"o", "a1", "a2", "m2"} for x in staying)
                and all(group_of(x, group)["has_key"] for x in staying), 30, "convergence")
    epochs = {group_of(x, group)["epoch"] for x in staying}
    assert len(epochs) == 1
    for x in (m1, m3):
        await until(lambda x=x: group_of(x, group)["role"] == "removed", 20, f"{x.name} out")
    # What each side wrote while partitioned is readable on both sides once it heals.
    await until(lambda: all({"side A", "side B"} <= set(texts(x, group)) for x in staying),
                20, "both sides' messages everywhere")
    await a1.send(group, "healed")
    await until(lambda: all("healed" in texts(x, group) for x in staying), 10, "healed read")
    assert all("healed" not in texts(x, group) for x in (m1, m3))
    assert len(alive) == 5


async def test_a_member_away_across_three_rekeys_catches_up_from_a_plain_member(
        make_local_node: MakeLocalNode) -> None:
    o, a, m1, m2, x = await mesh(make_local_node, ["o", "a", "m1", "m2", "x"])
    group = (await o.create_group("hall"))["group"]
    for m in (a, m1, m2):
        await invite_and_accept(o, group, m)
    await o.admin_group(group, "a")
    await until(lambda: group_of(m2, group)["has_key"] and group_of(a, group)["role"] == "admin",
                10, "m2 in, a an admin")
    await m2.stop()  # away across three rekeys
    await invite_and_accept(o, group, x)  # rekey 1 (by the owner)
    await m1.send(group, "epoch after x joined")
    await a.remove_from_group(group, "x")  # rekey 2 (by an admin)
    await until(lambda: group_of(m1, group)["epoch"] == group_of(a, group)["epoch"]
                and group_of(m1, group)["has_key"], 10, "m1 at rekey 2")
    await m1.send(group, "epoch after x left")
    await invite_and_accept(a, group, x)  # rekey 3 (by the admin)
    await until(lambda: group_of(m1, group)["epoch"] == group_of(a, group)["epoch"]
                and group_of(m1, group)["has_key"], 10, "m1 at rekey 3")
    await m1.send(group, "epoch after x came back")
    wanted = {"epoch after x joined", "epoch after x left", "epoch after x came back"}
    await until(lambda: wanted <= set(texts(o, group)), 10, "the owner reads all three")
    for manager in (o, a, x):  # nobody who made a change or holds the keys first-hand is left
        await manager.stop()
    m2 = await restart(make_local_node, m2)
    await wait_linked([(m1, m2)])
    assert m1.key not in {k for k in m2.groups.find(group).state.admins}
    await until(lambda: wanted <= set(texts(m2, group)), 20, "m2 reads what it missed")
    assert group_of(m2, group)["epoch"] == group_of(m1, group)["epoch"]
    assert group_of(m2, group)["has_key"]


async def test_a_group_goes_through_130_changes_of_one_member_and_drops_its_old_ops(
        make_local_node: MakeLocalNode) -> None:
    o, m, x = await mesh(make_local_node, ["o", "m", "x"])
    group = (await o.create_group("hall"))["group"]
    await invite_and_accept(o, group, m)
    for i in range(65):  # 130 changes of x (past the old cap of 100 ops): in, out, in, ...
        await invite_and_accept(o, group, x)
        await o.remove_from_group(group, "x")
        await until(lambda: group_of(x, group)["role"] == "removed", 10, f"x out ({i})")
    state = o.groups.find(group).state
    assert state.number == 1 + 1 + 130  # create, m's add, 130 changes
    assert state.base > 0 and len(state.ops) <= 128  # old ops dropped at a checkpoint
    assert len(o.db.groups.ops(o.groups.find(group).conv)) == len(state.ops)
    await until(lambda: chain(m, group) == chain(o, group) and group_of(m, group)["has_key"],
                10, "m follows")
    await invite_and_accept(o, group, x)  # once more: an invitation from the checkpoint
    await until(lambda: group_of(x, group)["has_key"] and chain(x, group) == chain(o, group),
                10, "x in from a checkpoint")
    assert x.groups.find(group).state.base > 0
    await x.send(group, "back again")
    await until(lambda: "back again" in texts(m, group) and "back again" in texts(o, group),
                10, "x's message read")
    o = await restart(make_local_node, o)  # the chain loads from the checkpoint
    assert chain(o, group) == chain(m, group)
