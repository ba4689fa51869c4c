"""notes/s34/trial11.md: what the chat screen says about a contact whose node runs but does not
link (a request not yet answered, a contact who removed us), said once; a knock on their node
(a moment's link: its Hello does not know us) is no link and no "last seen"."""

from __future__ import annotations

import pytest

from p2pchat.node import Node
from p2pchat.tui.render import header
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair
from tests.tui.test_screen_trial8_reach import polls, watched

pytestmark = pytest.mark.timeout(90)


async def knocked(node: Node, times: int) -> None:
    """Until `node` has knocked `times` times on nodes that have its request (the dialer's
    own count): each knock is a link up for a moment."""
    knocks = node.links.dialer._knocks
    await until(lambda: sum(knocks.values()) >= times, 30, f"{times} knocks")


async def test_a_contact_asked_and_not_answering_is_not_called_offline(
        make_local_node: MakeLocalNode) -> None:
    """alice added carol, who runs and has not accepted: alice's header said "carol · offline
    (last seen 16:40)", /notices had "carol's node has your request ..." twice, and the answer
    to /add left the row (dave's "added bob; they see a request ..." in the trial)."""
    alice, carol = await make_local_node("alice"), await make_local_node("carol")
    chat = await watched(alice)
    try:
        await chat.execute(f"/add {fp(carol)} carol {addr(carol)}")
        conv = chat.state.conversations[fp(carol)]
        chat.state.select(fp(carol))
        await until(lambda: any(c.get("awaits_answer") for c in alice.list_contacts()), 30,
                    "alice's node knows carol has the request")
        await knocked(alice, 2)
        await polls(2)
        assert header(chat.state) == " carol · asked, waiting for carol to accept"
        listed = next(c for c in alice.list_contacts() if c["fingerprint"] == fp(carol))
        assert "last_seen" not in listed and not conv.last_seen  # no link with her yet
        texts = [text for _, _, text in chat.state.said]
        assert len(texts) == len(set(texts)), texts  # each said once
        # The answer to /add stays on the row while her node is knocked on
        assert [n.text for n in chat.state.notices] == [
            "added carol; they see a request until they add you too"]
        await carol.add_contact(fp(alice), "alice")  # she accepts: linked, and said so
        await until(lambda: conv.online and not chat.state.notices, 30, "the request gone")
        assert header(chat.state) == " carol · online"
    finally:
        await chat.stop()


async def test_a_contact_who_removed_us_is_not_called_offline(
        make_local_node: MakeLocalNode) -> None:
    """alice removed carol; carol's header said "alice · offline (last seen 16:43): alice's
    node no longer knows you ..." though alice runs."""
    carol, alice = await linked_pair(make_local_node, "carol", "alice")
    chat = await watched(carol)
    try:
        conv = chat.state.conversations[fp(alice)]
        chat.state.select(fp(alice))
        await until(lambda: conv.online, what="alice online on carol's screen")
        await alice.remove_contact("carol")
        await until(lambda: bool(conv.answers and conv.unreachable), 30, "the reason")
        want = (" alice · not linked: alice's node no longer knows you (they may have removed"
                " you); they see a request until they add you again")
        assert header(chat.state) == want
        await knocked(carol, 2)
        await polls(2)
        assert header(chat.state) == want
        texts = [text for _, _, text in chat.state.said]
        assert len([t for t in texts if "no longer knows you" in t]) == 1, texts
    finally:
        await chat.stop()
