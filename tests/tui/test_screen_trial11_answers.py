"""notes/s34/trial11.md on the chat screen, the answers and notices: an answer to a y/n
question is a passing notice (18 f); a join that waits is answered in words (B7); a nick that
is another contact's name is a warning (B9); one wording per removal, a group of one, your own
fingerprint kept at 80 columns, /nearby looking, a nick from the CLI (B13 a-e)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from p2pchat.storage import keystore
from p2pchat.tui.backend import ControlBackend
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import age_notices
from p2pchat.tui.render import _message, status_line
from tests.aio import until
from tests.integration.test_relay_discovery import LOOPBACK_MDNS
from tests.local_nodes import MakeLocalNode
from tests.tui.test_controller import FakeBackend
from tests.tui.test_group_delivery import text_of
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial4_nodes import addr, cli, control_of, fp, linked_pair, screen
from tests.tui.test_screen_trial7 import team_with_bob_and_carol, texts, three
from tests.tui.test_state import BOB, CAROL, contact, loaded_state

pytestmark = pytest.mark.timeout(60)


async def test_an_answer_to_a_question_passes_even_when_nothing_is_typed() -> None:
    """18 f: carol's "not quitting" (Ctrl-C, then n) was on the row 3½ minutes later."""
    backend = FakeBackend()
    backend.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol")]
    async with running(backend) as (chat, keys):
        now = [1000.0]
        chat.state.clock = lambda: now[0]
        keys.send_text("a draft")
        await until(lambda: chat.input.text == "a draft", 10, "the draft")
        chat.request_quit()
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.confirm is None, 10, "the answer")
        assert "not quitting" in [n.text for n in chat.state.notices]
        now[0] += 5.0
        age_notices(chat.state)  # read just now: it stays a moment
        assert "not quitting" in [n.text for n in chat.state.notices]
        now[0] += 30.0  # nothing typed since
        age_notices(chat.state)
        assert "not quitting" not in [n.text for n in chat.state.notices]


async def test_a_join_that_waits_is_answered_in_words(make_local_node: MakeLocalNode) -> None:
    """B7: "networks: none; waiting to be admitted: club: weak passphrase (about 20 bits,
    guessed online in ~129 days)" read as if the weak passphrase were why it waits; the status
    line turned to "hidden nearby until admitted to club" with nothing to say why."""
    alice = await make_local_node("alice", **LOOPBACK_MDNS)
    chat = await screen(alice)
    try:
        await chat.execute("/network join club topsecret")
        said = [n.text for n in chat.state.notices]
        assert ("joining club: waiting for a member nearby to admit you; until then only your"
                " contacts can find you (your node is hidden from others nearby). this"
                " passphrase is weak: about 20 bits, guessed online in ~129 days; a longer one"
                " is safer") in said, said
        assert not any("topsecret" in text or "networks: none" in text for text in said)
    finally:
        await chat.stop()


async def test_a_nick_that_is_another_contacts_name_is_said_so(
        make_local_node: MakeLocalNode) -> None:
    """B9: after carol took the nick 'bob', alice was told "Carol S now calls themself 'bob'
    (/rename Carol S bob ...)", a rename refused ("you already have a contact named 'bob'"),
    and nothing said that a contact now went by the name of her verified contact bob."""
    alice, carol = await linked_pair(make_local_node, "alice", "Carol S")
    bob = await make_local_node("bob")
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await bob.add_contact(fp(alice), "alice", [addr(alice)])
    await until(lambda: alice.links.is_linked(bob.key), what="the link to bob")
    alice.verify_contact("bob", True)
    keystore.create(carol.home, carol.identity, "carol", None)
    chat = await screen(alice)
    try:
        await until(lambda: chat.state.conversations[fp(bob)].verified, 10, "bob verified")
        carol.rename_self("bob")
        warned = ("Carol S now calls themself 'bob', the name of your contact bob (verified):"
                  " they are not bob")
        await until(lambda: warned in [n.text for n in chat.state.notices], 10, "the warning")
        assert not any("/rename" in n.text for n in chat.state.notices)
        carol.rename_self("Carla")  # a free name: the hint, as before
        await until(lambda: "Carol S now calls themself 'Carla' (/rename Carol S Carla to call"
                            " them that too)" in [n.text for n in chat.state.notices], 10,
                    "the hint")
        assert warned not in [n.text for n in chat.state.notices]
    finally:
        await chat.stop()


async def test_a_removal_is_said_one_way_from_each_point_of_view(
        make_local_node: MakeLocalNode) -> None:
    """B13 a: "removed Carol S from climbing" for one removal, "bob was removed (climbing)"
    for the next: which was said depended on whether the command's answer or the node's
    event came first."""
    alice, bob, carol = await three(make_local_node)
    chat, bobs = await screen(alice), await screen(bob)
    try:
        gid = await team_with_bob_and_carol(alice, bob, carol, chat)
        chat.state.select(gid)
        await chat.execute("/group remove carol")  # the command's answer
        await until(lambda: "you removed carol from team" in texts(chat), 10, "carol removed")
        await until(lambda: "~carol was removed from team by alice" in texts(bobs), 10,
                    "bob told")
        await alice.remove_from_group(gid, "bob")  # the node's event only (as from the CLI)
        await until(lambda: "you removed bob from team" in texts(chat), 10, "bob removed")
        await until(lambda: "you were removed from team by alice" in texts(bobs), 10,
                    "bob told he was removed")
        assert not [t for t in texts(chat) if "was removed" in t or t.startswith("removed")]
    finally:
        await chat.stop()
        await bobs.stop()


async def test_a_message_in_a_group_of_one_says_nobody_else_is_there(
        make_local_node: MakeLocalNode) -> None:
    """B13 b: a message in a group with nobody else in it showed '·' (queued) for ever."""
    alice = await make_local_node("alice")
    chat = await screen(alice)
    try:
        gid = str((await alice.create_group("solo"))["group"])
        await until(lambda: gid in chat.state.conversations, 10, "the group")
        chat.state.select(gid)
        await chat.execute("anyone?")
        conv = chat.state.conversations[gid]
        await until(lambda: any(m.own and m.delivered is not None for m in conv.messages), 10,
                    "the message")
        shown = next(m for m in conv.messages if m.own)
        assert text_of(_message(shown, date.today())[0]).endswith(" · 0/0 only you")
        await chat.execute("/receipts")
        page = chat.state.page
        assert page is not None
        assert any("nobody else was in the group when you wrote it" in line
                   for _, line in page.lines), page.lines
        assert not any("every member has it" in line for _, line in page.lines)
    finally:
        await chat.stop()


def test_at_80_columns_your_own_fingerprint_is_the_last_thing_dropped() -> None:
    """B13 c: frank at 80 columns, relay down: "frank · 0 contacts online · discovery off ·
    relay down": his own fingerprint went before the relay's address was shortened."""
    state = loaded_state()
    state.set_status({"name": "frank", "fingerprint": "3FAVKX7" + "A" * 49, "mdns": False,
                      "mode": "attached"})
    state.relays = [{"relay": "127.0.0.1:47744#" + "B" * 56, "state": "connecting",
                     "last_error": "connection refused"}]
    text = text_of(status_line(state, 80))
    assert text.startswith(" frank 3FAVKX7 · ") and "relay down" in text, text
    assert text_of(status_line(state, 30)).startswith(" frank"), "narrower: the name stays"


async def test_the_first_nearby_says_it_is_looking_until_the_node_answers() -> None:
    """B13 d: the first /nearby showed an empty pane for about 2 s, no "looking…" text."""
    answer = asyncio.Event()

    class Slow(FakeBackend):
        slow = False

        async def peers(self) -> dict[str, Any]:
            if self.slow:
                await asyncio.wait_for(answer.wait(), 10)
            return {"links": [], "nearby": [{"name": "carol", "fingerprint": CAROL}],
                    "requests": []}

    backend = Slow()
    controller = Controller(backend)
    await controller.start()
    backend.slow = True
    drawn: list[list[str]] = []
    controller.on_change = lambda: drawn.append(
        [line for _, line in controller.state.page.lines] if controller.state.page else [])
    try:
        running = asyncio.create_task(controller.execute("/nearby"))
        await until(lambda: ["looking for people nearby…"] in drawn, 10, "the looking page")
        assert not running.done()
        answer.set()
        await asyncio.wait_for(running, 10)
        page = controller.state.page
        assert page is not None and any("carol" in line for _, line in page.lines)
    finally:
        await controller.stop()


async def test_a_nick_from_the_cli_shows_on_the_open_screen(
        make_local_node: MakeLocalNode) -> None:
    """B13 e: `p2pchat nick X` while the chat was attached showed nothing on the screen."""
    alice = await make_local_node("alice")
    keystore.create(alice.home, alice.identity, "alice", None)
    async with control_of(alice):
        chat = Controller(await ControlBackend.connect(alice.home, timeout=10))  # `p2pchat chat`
        await chat.start()
        try:
            await cli(alice, "rename_self", name="Alice L")  # `p2pchat nick "Alice L"`
            await until(lambda: chat.state.me.name == "Alice L", 10, "the status line's name")
            assert " Alice L " in text_of(status_line(chat.state))
            assert [n.text for n in chat.state.notices if "called" in n.text] == \
                ["you are now called Alice L"]
            await chat.execute("/nick Alicia")  # typed here: said once, as before
            said = [n.text for n in chat.state.notices if "Alicia" in n.text]
            assert len(said) == 1 and said[0].startswith("you are now Alicia;"), said
            assert not [n for n in chat.state.notices if "Alice L" in n.text]
        finally:
            await chat.stop()


async def test_a_question_not_asked_is_a_passing_answer_too() -> None:
    """18 f, every answer of a question: "not asked, so nothing done: Block bob?" stayed
    until Esc, as a warning about nothing still going on."""
    backend = FakeBackend()
    backend.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol")]
    async with running(backend) as (chat, keys):
        keys.send_text("half a line")
        await until(lambda: chat.input.text == "half a line", 10, "the draft")
        chat.ask("Block bob?", lambda: None)
        assert any(n.text.startswith("not asked, so nothing done") for n in chat.state.notices)
        chat.controller.switch(1)  # a key that does something
        assert not any(n.text.startswith("not asked") for n in chat.state.notices)


def test_at_80_columns_an_attached_screen_still_says_the_node_runs_apart() -> None:
    """Trial 13, B14: at 120 columns "... via relay 127.0.0.1:17931 · node runs apart"; at 80
    the status line dropped it, and nothing else on the screen said quitting leaves the node."""
    state = loaded_state()
    state.set_status({"name": "dan", "fingerprint": "D7QWERT" + "A" * 49, "mdns": False})
    state.mode = "attached"  # the chat attached to a node already running (tui/main.py)
    state.relays = [{"relay": "127.0.0.1:17931#" + "B" * 56, "state": "attached", "links": 1,
                     "found_by": "settings"}]
    assert "node runs apart" in text_of(status_line(state, 120))
    text = text_of(status_line(state, 80))
    assert text.startswith(" dan D7QWERT · ") and "node apart" in text, text
    state.node_in_chat_screen = True
    assert "node in other screen" in text_of(status_line(state, 80))
