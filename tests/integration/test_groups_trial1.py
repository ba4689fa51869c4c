"""What a newcomer's trial found in groups (issue 23, notes/s31/trial1.md B1, B3, B4), with real
nodes over real sockets: a leaver or a removed member keeps reading what it held; a message's
delivery count is fixed to its epoch's members; a message sent right after a removal reaches the
members still linked; a group of one says so."""

from __future__ import annotations

import pytest

from p2pchat.core.messages import GroupPrune
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import befriend, group_of, invite_and_accept, texts
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)

NO_KEY = "(waiting for the group's key)"


async def three(make: MakeLocalNode, sync: float = 0.5) -> tuple[Node, Node, Node, str]:
    """a owns "hike" with b and c, all linked and holding the current key."""
    a, b, c = [await make(n, group_sync_interval=sync) for n in ("a", "b", "c")]
    await befriend(a, b)
    await befriend(a, c)
    await befriend(b, c)
    group = (await a.create_group("hike"))["group"]
    await invite_and_accept(a, group, b)
    await invite_and_accept(a, group, c)
    await until(lambda: all(group_of(x, group)["has_key"] and group_of(x, group)["epoch"] == 3
                            for x in (b, c)), 15, "joined")
    return a, b, c, group


def own(node: Node, group: str, text: str) -> dict:
    return next(m for m in node.history(group) if m["text"] == text)


async def test_a_leaver_keeps_reading_what_it_held_and_its_log_says_it_left(
        make_local_node: MakeLocalNode) -> None:
    a, b, c, group = await three(make_local_node)
    for who, text in ((a, "a says hi"), (c, "c says hi"), (b, "bob before leaving")):
        await who.send(group, text)
    wanted = {"a says hi", "c says hi", "bob before leaving"}
    await until(lambda: wanted <= set(texts(b, group)), 10, "b holds all three")
    await b.leave_group(group)
    assert set(texts(b, group)) == wanted and NO_KEY not in texts(b, group)
    lines = [m["text"] for m in b.history(group, changes=True) if m.get("notice")]
    assert lines[-1] == "you left"
    await until(lambda: group_of(a, group)["members"] == 2 and group_of(c, group)["epoch"] == 4
                and group_of(c, group)["has_key"], 15, "the leave enacted")
    await c.send(group, "after b left")
    await until(lambda: "after b left" in texts(a, group), 10, "a reads c")
    assert 4 not in b.db.groups.epoch_keys(bytes.fromhex(group))  # no later key reached b
    assert "after b left" not in texts(b, group)
    # and after a restart, read from the store
    await b.stop()
    b = await make_local_node("b", identity=b.identity)
    assert set(texts(b, group)) == wanted
    assert [m["text"] for m in b.history(group, changes=True) if m.get("notice")][-1] == "you left"


async def test_a_removed_member_keeps_reading_what_it_was_entitled_to(
        make_local_node: MakeLocalNode) -> None:
    a, b, c, group = await three(make_local_node)
    await a.send(group, "welcome")
    await c.send(group, "carol here")
    await until(lambda: "welcome" in texts(c, group) and "carol here" in texts(b, group), 10,
                "everyone holds both")
    await a.remove_from_group(group, "c")
    await until(lambda: group_of(c, group)["role"] == "removed", 10, "c out")
    await b.send(group, "after c went")
    await until(lambda: "after c went" in texts(a, group), 10, "a reads b")
    assert sorted(texts(c, group)) == ["carol here", "welcome"]
    # what carol wrote was for the two others then: "2/2", never "2/1" (B3)
    mine = own(c, group, "carol here")
    assert mine["recipients"] == 2 and len(mine["delivered_to"]) <= 2


async def test_delivery_counts_are_fixed_to_the_members_a_message_was_for(
        make_local_node: MakeLocalNode) -> None:
    a, b, _c, group = await three(make_local_node)
    await a.send(group, "welcome to hike!")
    await until(lambda: len(own(a, group, "welcome to hike!")["delivered_to"]) == 2, 15, "2/2")
    await a.remove_from_group(group, "c")
    await b.leave_group(group)
    await until(lambda: group_of(a, group)["members"] == 1, 15, "both gone")
    welcome = own(a, group, "welcome to hike!")
    assert (len(welcome["delivered_to"]), welcome["recipients"]) == (2, 2)


async def test_a_message_sent_right_after_a_removal_reaches_the_linked_member(
        make_local_node: MakeLocalNode) -> None:
    """B4: alice removed carol, then wrote to the group with bob linked: it stayed queued. Bob
    had had alice's envelopes first through carol, so he had pruned alice's own push to him
    (Plumtree): alice's tree for her own messages ran through carol alone."""
    a, b, _c, group = await three(make_local_node, sync=60.0)  # no anti-entropy tick to help
    # what bob sends when alice's own copy of her envelope arrives second, after carol's
    b.outbox.queue(b.links.by_peer[a.key], GroupPrune(group=bytes.fromhex(group), author=a.key))
    b.outbox.schedule_flush()
    await until(lambda: not a.groups.find(group).gossip.is_eager(b.key, a.key), 10, "pruned")
    await a.remove_from_group(group, "c")
    sent = await a.send(group, "after carol left, just us")
    assert sent["status"] == "sent" and sent["recipients"] == 1
    await until(lambda: "after carol left, just us" in texts(b, group), 15, "b reads it")
    await until(lambda: own(a, group, "after carol left, just us")["delivered_to"], 15, "1/1")


async def test_a_message_to_a_group_of_one_says_nobody_else_is_in_it(
        make_local_node: MakeLocalNode) -> None:
    a = await make_local_node("a")
    group = (await a.create_group("solo"))["group"]
    sent = await a.send(group, "to the group")
    assert sent["recipients"] == 0 and sent["note"].startswith("no other members yet")
    assert texts(a, group) == ["to the group"]  # kept all the same
