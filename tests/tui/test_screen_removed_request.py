"""Issue 23 (trial B3, B4), the chat screen: removing a contact whose node still has us made
it "ask to connect" again at once, under its own name ("carol", not our "Carol S"), with a
fresh request notice and a "?" row; the removed conversation never showed, and `/msg Carol S`
(as the removal notice said) answered "carol is not a contact yet". Now the removal is
quiet: the list keeps "~ Carol S (removed)", whose header and page say their node still has
us, `/add Carol S` links again under that name."""

from __future__ import annotations

import pytest

from p2pchat.node import Node
from p2pchat.tui.render import conversation_list, header, history_rows
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen import text
from tests.tui.test_screen_trial4_nodes import fp, linked_pair, screen
from tests.tui.test_state import BOB, CAROL, contact, loaded_state

pytestmark = pytest.mark.timeout(90)


def rows(state: ChatState) -> list[str]:
    return "".join(t for _, t in conversation_list(state, 30)).split("\n")


def asks(state: ChatState) -> list[str]:
    return [n.text for n in state.notices if "asks to connect" in n.text]


def test_a_request_after_removal_is_the_removed_conversation_not_news() -> None:
    state = loaded_state()
    state.fix_numbers()
    state.set_contacts([contact(CAROL, "carol")])
    state.forget(CAROL)  # removed here: kept in its place
    state.apply({"type": "contact_request", "fingerprint": CAROL, "name": "Carol S",
                 "note": "", "after_removal": True})
    conv = state.conversations[CAROL]
    assert conv.state == "removed" and conv.asks_again, conv
    assert not asks(state), list(state.notices)
    assert any(r.rstrip().endswith("~ Carol S (removed)") for r in rows(state)), rows(state)
    state.select(CAROL)
    assert "their node still has you as a contact" in header(state), header(state)
    page = "\n".join(text(history_rows(state, 200)))
    assert "/add Carol S links you again; /block Carol S stops it asking" in page, page


def test_a_screen_started_later_lists_it_removed_and_quiet() -> None:
    """A fresh read (start, reconnection) says each waiting request again; not this one."""
    state = ChatState()
    state.set_contacts([{**contact(CAROL, "Carol S", state="request"), "after_removal": True}],
                       fresh=True)
    assert state.conversations[CAROL].state == "removed" and not asks(state)
    state.set_contacts([contact(CAROL, "Carol S", state="request")], fresh=True)
    assert asks(state), "a stranger's request keeps its news"


async def _asking_again(node: Node, key: bytes) -> None:
    await until(lambda: node.db.contacts.get(key) is not None, 20, "their node asking again")


async def test_removing_a_linked_contact_is_quiet_and_add_links_again(
        make_local_node: MakeLocalNode) -> None:
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    await alice.send("carol", "see you at the crag")
    chat = await screen(alice)
    try:
        await chat.execute("/rename carol Carol S")
        await chat.execute("/remove Carol S")
        said = [n.text for n in chat.state.notices]
        assert any("Carol S's node still has you as a contact: /add Carol S links you again;"
                   " /block Carol S stops it asking" in t for t in said), said
        await _asking_again(alice, carol.key)
        conv = chat.state.conversations[fp(carol)]
        await until(lambda: conv.asks_again, 10, "the request on the screen")
        assert conv.state == "removed" and conv.name == "Carol S", conv
        assert not asks(chat.state), list(chat.state.notices)
        assert not any("?" in r.split("Carol")[0] for r in rows(chat.state) if "Carol" in r)
        await chat.execute("/msg Carol S")
        assert chat.state.selected == fp(carol) and chat.state.page is None
        assert "their node still has you as a contact" in header(chat.state)
        await until(lambda: conv.loaded, 10, "the kept history")
        assert any("see you at the crag" in r for r in text(history_rows(chat.state, 200)))
        await chat.execute("/add Carol S")
        assert chat.state.conversations[fp(carol)].state == "contact"
        assert alice.db.contacts.get(carol.key).name == "Carol S"  # type: ignore[union-attr]
        await until(lambda: alice.links.is_linked(carol.key), 20, "linked again")
    finally:
        await chat.stop()


async def test_msg_by_the_kept_name_after_the_screen_restarted(
        make_local_node: MakeLocalNode) -> None:
    """Removed while their node was away, then a new screen: `/msg Carol S` shows the history
    the node kept under that name (it said "no conversation named 'Carol S'")."""
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    await alice.send("carol", "rope is in my car")
    await alice.rename_contact("carol", "Carol S")
    await carol.stop()
    await until(lambda: not alice.links.is_linked(carol.key), 20, "carol away")
    await alice.remove_contact("Carol S")
    chat = await screen(alice)
    try:
        await chat.execute("/msg Carol S")
        page = chat.state.page
        assert page is not None and page.title.startswith("History with Carol S"), \
            list(chat.state.notices)
        assert any("rope is in my car" in line for _, line in page.lines), page.lines
    finally:
        await chat.stop()


def test_the_mark_stays_while_the_node_lists_them_no_more() -> None:
    """Said by /remove, before the node's request came: a re-read of the list in between
    (contacts_changed) must not take it back, their node still has us."""
    state = loaded_state()
    state.fix_numbers()
    state.forget(CAROL)
    state.conversations[CAROL].asks_again = True  # as /remove's answer said
    state.set_contacts([contact(BOB, "bob")])
    assert state.conversations[CAROL].asks_again
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol")])  # added again
    state.forget(CAROL)  # removed again, not linked this time
    assert not state.conversations[CAROL].asks_again


async def test_block_by_the_kept_name_stops_it_asking(make_local_node: MakeLocalNode) -> None:
    """The hint's /block NAME: their waiting request, or (none yet) their key, blocked under
    the name we gave them."""
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    dave = await make_local_node("dave")
    await alice.add_contact(fp(dave), "Dave D")
    chat = await screen(alice)
    try:
        await chat.execute("/remove carol")
        await _asking_again(alice, carol.key)
        await until(lambda: chat.state.conversations[fp(carol)].asks_again, 10, "marked")
        await chat.execute("/block carol")
        await chat.execute("/remove Dave D")  # dave's node never had us: nothing asks
        await chat.execute("/block Dave D")
        for node, name in ((carol, "carol"), (dave, "Dave D")):
            blocked = alice.db.contacts.get(node.key)
            assert blocked is not None and (blocked.name, blocked.state) == (name, "blocked")
            assert chat.state.conversations[fp(node)].state == "blocked"
    finally:
        await chat.stop()
