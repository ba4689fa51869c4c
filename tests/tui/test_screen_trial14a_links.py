"""Trial 14a, with real nodes: what the screen says of a contact is the node's 1:1 state.

B6: alice removed carol; they share a group, so their nodes keep a link for it. carol's screen
said "alice · online", "● alice" and "2 contacts online" beside "alice's node no longer knows
you", where `p2pchat contacts` said "not linked". B12: alice re-added carol ("they had added you
too, so you are linked") and the answer went at once: the group's link closed to link again as
contacts, and that link's end dropped it."""

from __future__ import annotations

import pytest

from p2pchat.core.contact_words import NOT_LINKED, contact_presence
from p2pchat.core.identity import fingerprint
from p2pchat.node import Node
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import header, status_line
from tests.aio import until
from tests.groups_net import befriend, invite_and_accept
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, screen
from tests.tui.test_screen_trial8_reach import polls, watched

pytestmark = pytest.mark.timeout(90)


def _cli_word(node: Node, other: Node) -> str:
    """What `p2pchat contacts` says of `other` (cli/remote.py reads the same words)."""
    contact = next(c for c in node.list_contacts() if c["fingerprint"] == fingerprint(other.key))
    return contact_presence(contact)


def _status(chat: Controller) -> str:
    return "".join(t for _, t in status_line(chat.state))


async def _removed_over_a_group(make_local_node: MakeLocalNode) -> tuple[Node, Node]:
    alice, carol = await make_local_node("alice"), await make_local_node("carol")
    await befriend(alice, carol)
    group = (await alice.create_group("bob"))["group"]
    await invite_and_accept(alice, group, carol)
    return alice, carol


async def test_a_contact_who_removed_you_is_not_online_though_a_group_links_you(
        make_local_node: MakeLocalNode) -> None:
    alice, carol = await _removed_over_a_group(make_local_node)
    chat = await screen(carol)
    try:
        conv = chat.state.conversations[fingerprint(alice.key)]
        chat.state.select(conv.id)
        await until(lambda: conv.online, 20, "alice online as a contact first")
        await alice.remove_contact(fingerprint(carol.key))
        await until(lambda: _cli_word(carol, alice) == NOT_LINKED, 20, "the CLI's not linked")
        assert carol.links.is_linked(alice.key), "the group's link stays"
        await until(lambda: "no longer knows you" in header(chat.state), 10,
                    "the header says why")
        assert not conv.online, header(chat.state)
        assert "alice · not linked:" in header(chat.state), header(chat.state)
        assert "0 contacts online" in _status(chat), _status(chat)
        await chat.execute(f"/addr alice {addr(alice)}")  # a command's answer says it too
        assert not conv.online and "0 contacts online" in _status(chat), _status(chat)
        await chat.execute("are you there?")  # kept here, one ✓ or less: the row says why
        said = [n.text for n in chat.state.notices if n.key == f"kept:{conv.id}"]
        assert said == ["your message waits here (alice's node no longer knows you: it goes"
                        " when they add you again); nothing is lost"], said
        await chat.stop()
        chat = await screen(carol)  # a screen opened later says the same at once
        conv = chat.state.conversations[fingerprint(alice.key)]
        assert not conv.online and "0 contacts online" in _status(chat), _status(chat)
        await alice.add_contact(fingerprint(carol.key), "carol")  # linked as contacts again
        await until(lambda: conv.online, 20, "online once alice adds carol again")
        await until(lambda: any(m["text"] == "are you there?"
                                for m in alice.history(fingerprint(carol.key))), 20,
                    "nothing lost: the message reaches alice then")
    finally:
        await chat.stop()


async def test_re_adding_a_fellow_member_keeps_the_answer_through_the_links_flap(
        make_local_node: MakeLocalNode) -> None:
    alice, carol = await _removed_over_a_group(make_local_node)
    chat = await screen(alice)
    try:
        await alice.remove_contact(fingerprint(carol.key))
        conv = chat.state.conversations[fingerprint(carol.key)]
        await until(lambda: conv.asks_again and alice.links.is_linked(carol.key), 20,
                    "carol's node asks again, over the group's link")
        await chat.execute("/add carol")
        await until(lambda: (link := alice.links.live(carol.key)) is not None
                    and not link.peer.group_only and conv.online, 20, "a contacts' link")
        for _ in range(3):  # the group's link's end and the new link's events, then the watch
            await chat.reach.check()
        said = [n.text for n in chat.state.notices]
        assert any("added carol; they had added you too, so you are linked: you can chat" in t
                   for t in said), said
    finally:
        await chat.stop()


async def test_add_says_they_see_a_request_only_once_their_node_has_it(
        make_local_node: MakeLocalNode) -> None:
    """B18: carol `/add FINGERPRINT erin` for erin, whose node she cannot find (discovery off,
    no address): "added erin; they see a request until they add you too" and "asked, waiting
    for erin to accept", while erin's node never saw a request."""
    carol, erin = await make_local_node("carol"), await make_local_node("erin")
    chat = await watched(carol)
    try:
        await chat.execute(f"/add {fingerprint(erin.key)} erin")
        said = [n.text for n in chat.state.notices if "erin" in n.text]
        assert said == ["added erin; the request waits here until erin's node is reached: not"
                        " found nearby and no address: /addr erin HOST:PORT if you know where"
                        " it runs, or both use the same relay"], said
        assert header(chat.state) == (" erin · asked: your request waits here until erin's"
                                      " node is reached")
        await polls(2)  # the screen's reads of the node keep it
        assert [n.text for n in chat.state.notices if "erin" in n.text] == said
        assert not erin.list_contacts(), "nothing reached erin's node"
        await chat.execute(f"/addr erin {addr(erin)}")
        await until(lambda: any(c["state"] == "request" for c in erin.list_contacts()), 20,
                    "the request at erin's")
        await until(lambda: "added erin; they see a request until they add you too"
                    in [n.text for n in chat.state.notices], 10, "they see it now")
        assert header(chat.state) == " erin · asked, waiting for erin to accept"
    finally:
        await chat.stop()
