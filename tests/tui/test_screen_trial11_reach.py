"""notes/s34/trial11.md: what the chat screen says about a contact whose node runs but does not
link (a request not yet answered, a contact who removed us), said once; a knock on their node
(a moment's link: its Hello does not know us) is no link and no "last seen"."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.node import Node
from p2pchat.tui import render
from p2pchat.tui.main import left_running
from p2pchat.tui.render import header
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_controller import BOB, started
from tests.tui.test_reach_knocks import link
from tests.tui.test_render import text_of
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair
from tests.tui.test_screen_trial8_reach import QUICK_DIALS, polls, watched
from tests.tui.test_state import loaded_state

pytestmark = pytest.mark.timeout(90)

# NodeConfig for the nodes that knock: the knocks these tests wait for come a few tenths of a
# second apart, not 1-2 s (knock_interval), and so do the failed dials before a node comes.
QUICK_KNOCKS = {**QUICK_DIALS, "knock_interval": 0.2}


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
    alice, carol = await make_local_node("alice", **QUICK_KNOCKS), await make_local_node("carol")
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
        await until(lambda: conv.online and [n.text for n in chat.state.notices] == [
            "added carol; they added you too, so you are linked: you can chat"], 30,
            "the request gone, said answered (trial 14b, B7)")
        assert header(chat.state) == " carol · online"
    finally:
        await chat.stop()


async def test_a_contact_who_removed_us_is_not_called_offline(
        make_local_node: MakeLocalNode) -> None:
    """alice removed carol; carol's header said "alice · offline (last seen 16:43): alice's
    node no longer knows you ..." though alice runs."""
    carol, alice = await linked_pair(make_local_node, "carol", "alice", **QUICK_KNOCKS)
    chat = await watched(carol)
    try:
        conv = chat.state.conversations[fp(alice)]
        chat.state.select(fp(alice))
        await until(lambda: conv.online, what="alice online on carol's screen")
        await alice.remove_contact("carol")
        await until(lambda: bool(conv.answers and conv.unreachable), 30, "the reason")
        # trial 14b, B10: not "they see a request": alice's node keeps carol's silently
        want = (" alice · not linked: alice's node no longer knows you (they may have removed"
                " you); you are linked again once they add you")
        assert header(chat.state) == want
        await knocked(carol, 2)
        await polls(2)
        assert header(chat.state) == want
        texts = [text for _, _, text in chat.state.said]
        assert len([t for t in texts if "no longer knows you" in t]) == 1, texts
    finally:
        await chat.stop()


def test_the_status_line_while_the_node_is_away_says_only_what_is_true() -> None:
    """`p2pchat stop` under an attached chat: "... 0 contacts online · visible on this network
    · node in background  node stopped: reconnecting..." (a visibility claim while stopped, no
    separator before "node stopped")."""
    state = loaded_state()
    state.mode, state.mdns, state.presence = "attached", True, "public"
    state.relays = [{"relay": "127.0.0.1:4000#AB", "state": "attached"}]
    assert "visible on this network" in text_of(render.status_line(state))
    assert "node runs apart" in text_of(render.status_line(state))
    state.connected = False
    for width in (200, 80, 40):
        text = text_of(render.status_line(state, width))
        for untrue in ("visible", "online", "relay", "node runs apart", "background", " on "):
            assert untrue not in text, (width, text)
    text = text_of(render.status_line(state))
    assert text.startswith(f" {state.me.name} {state.me.fingerprint[:7]} · node stopped:"
                           " reconnecting..."), text


def test_an_attached_chat_does_not_call_its_node_a_background_one(tmp_path: Path) -> None:
    """A `p2pchat node` in another terminal is no background node: the status line said "node
    in background" and /q "Your node is still running in the background (pid 11482)"."""
    state = loaded_state()
    state.mode = "attached"
    assert "background" not in text_of(render.status_line(state))
    said = left_running(False, 11482, tmp_path)
    assert said.startswith("Your node is still running (pid 11482): you stay online.")
    assert "background" not in said
    assert "Another chat screen (pid 7) runs your node" in left_running(True, 7, tmp_path)


async def test_a_contact_asked_while_away_stays_asked_when_their_node_comes(
        make_local_node: MakeLocalNode) -> None:
    """Asked while carol's node was stopped: the first knock when it starts is no link either
    ("they see a request" stays, nothing says she was seen)."""
    alice, carol = await make_local_node("alice", **QUICK_DIALS), await make_local_node("carol")
    host, port = carol.listen_addresses[0]
    identity = carol.identity
    await carol.stop()
    chat = await watched(alice)
    try:
        await chat.execute(f"/add {fp(carol)} carol {host}:{port}")
        conv = chat.state.conversations[fp(carol)]
        chat.state.select(fp(carol))
        await polls(3)
        # she has not got it yet; not "offline", which read as a failure (trial 12, B15), and
        # not "waiting for carol" either: for her node (trial 14a, B18)
        assert header(chat.state) == (" carol · asked: your request waits here until carol's"
                                      " node is reached")
        carol = await make_local_node("carol", identity, listen=((host, port),))
        await until(lambda: any(c.get("awaits_answer") for c in alice.list_contacts()), 30,
                    "carol's node has the request")
        await knocked(alice, 1)
        await polls(2)
        assert header(chat.state) == " carol · asked, waiting for carol to accept"
        assert [n.text for n in chat.state.notices] == [
            "added carol; they see a request until they add you too"]
        assert not conv.last_seen
    finally:
        await chat.stop()


async def test_a_read_of_the_node_during_a_knock_is_no_link() -> None:
    """The node lists a contact it knocks on as `online` with `awaits_answer` (the knock's
    moment): the screen keeps "they see a request" and "asked, waiting" (a read at that moment
    took it for an accepted request)."""
    chat, backend, _ = await started()
    try:
        chat.state.select(BOB)
        conv = chat.state.conversations[BOB]
        backend.contact_list[0] = backend.contact_list[0] | {"online": False}
        conv.online = False
        conv.answers = "asked"  # as /add leaves it
        chat.state.notice("info", "added bob; they see a request until they add you too",
                          key=f"pending:{BOB}")
        await chat._on_event(link("link_up"))
        backend.contact_list[0] = backend.contact_list[0] | {"online": True,
                                                              "awaits_answer": True}
        await chat.reach.check()
        await chat._on_event(link("link_down", reason="closed by peer", online=False))
        backend.contact_list[0] = backend.contact_list[0] | {"online": False}
        await chat.reach.check()
        assert header(chat.state) == " bob · asked, waiting for bob to accept"
        assert [n.text for n in chat.state.notices if "bob" in n.text] == [
            "added bob; they see a request until they add you too"]
        assert not conv.last_seen
        backend.contact_list[0] = backend.contact_list[0] | {"online": True,
                                                              "awaits_answer": False}
        chat.reach.period = 3600.0  # not the watch's next read: the link's
        await chat._on_event(link("link_up"))  # accepted: linked, the request said goes
        await until(lambda: [n.text for n in chat.state.notices if "bob" in n.text] == [
            "added bob; they added you too, so you are linked: you can chat"], 10,
            "the request said answered a moment after the link (trial 14b, B7)")
        assert header(chat.state) == " bob · online"
    finally:
        await chat.stop()


def test_a_header_claims_nothing_while_our_node_is_stopped() -> None:
    """Trial 12, B9: with bob's own node stopped, his screen's header said "alice · offline",
    which it cannot know."""
    from tests.tui.test_state import contact

    state = loaded_state()
    state.upsert_contact(contact(BOB, "bob", online=True))
    state.select(BOB)
    assert header(state) == " bob · online"
    state.connected = False
    assert header(state) == " bob · not known while your node is stopped"
