"""notes/s36/trial14a.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backends of the other screen tests: the quit question names a draft's conversation
as the list and /msg tell it apart (B15); an Alt key with a question up cancels it and never
types its key, nor sends the input (B4)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.aio import until
from tests.groups_net import befriend, group_of
from tests.local_nodes import MakeLocalNode
from tests.tui.test_groups_ui import GROUP
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial13b import Two, sent
from tests.tui.test_screen_trial13c import on_screen
from tests.tui.test_screen_trial13c_asks import Removing
from tests.tui.test_state import BOB, CAROL

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(("draft_in", "named"), [(GROUP, "#carol"), (CAROL, "@carol")])
async def test_the_quit_question_names_a_draft_of_a_shared_name_as_msg_does(
        draft_in: str, named: str) -> None:
    """B15: a draft in the group bob (a contact is bob too): "You have unsent text for bob"."""
    async with running(Removing()) as (chat, keys):
        await until(lambda: GROUP in chat.state.conversations, 10, "the group")
        chat.controller.select(draft_in)
        await until(lambda: chat.drafts.showing == draft_in,
                    10, "open")
        keys.send_text("for later")
        await until(lambda: chat.input.text == "for later", 10, "the draft")
        chat.controller.select(CAROL if draft_in == GROUP else GROUP)
        await until(lambda: chat.input.text == "", 10, "the other conversation's input")
        keys.send_text(f"/quit{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert chat.confirm is not None
        assert f"You have unsent text for {named}." in chat.confirm[0], chat.confirm[0]
        assert [name for name, _ in chat.drafts.texts()] == [named]  # as a signal's ending says


@pytest.mark.parametrize("alt", ["\x1b2", "\x1ba", "\x1b\r"])
async def test_an_alt_key_with_a_question_up_cancels_it_and_never_types_or_sends(alt: str) -> None:
    """B4: with "Block bob?" up, Alt+2 typed "2" into the input (Enter sent it); Alt+A typed
    "a"; Alt+Enter's Enter would send what the input held."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        chat.ask("Block bob? y/n", lambda: None)
        keys.send_text(alt)  # as a terminal sends it: Esc and the key in one write
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        await until(lambda: on_screen(chat, "not answered, so nothing done: Block bob?"), 10,
                    "said on the row")
        assert chat.input.text == "" and sent(backend) == []
        if alt == "\x1b2":
            assert chat.state.selected == chat.state.order()[1].id != BOB


async def test_alt_enter_at_the_quit_question_never_sends_the_draft() -> None:
    """B4, Alt+Enter: its Esc cancelled the question, and its Enter sent the text kept."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        keys.send_text("half a line")
        await until(lambda: chat.input.text == "half a line", 10, "the draft")
        keys.send_text("\x03")  # Ctrl-C: "You have unsent text for bob. Quit anyway?"
        await until(lambda: chat.confirm is not None, 10, "the quit question")
        keys.send_text("\x1b\r")
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        await until(lambda: on_screen(chat, "not quitting"), 10, "said on the row")
        assert chat.input.text == "half a line" and sent(backend) == []


async def test_a_group_keeps_its_invitations_place_once_accepted(
        make_local_node: MakeLocalNode) -> None:
    """B16: a group's `since` is when its invitation came, before and after the accept, so a
    screen opened after it numbers the group where the screens open before it had it. (Real
    nodes in this test's loop: no screen is needed to read what the node lists.)"""
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await befriend(bob, alice)
    group = str((await bob.create_group("crew", ["alice"]))["group"])
    await until(lambda: group_of(alice, group)["role"] == "invited", 20, "alice's invitation")
    before = group_of(alice, group)
    came = datetime.fromisoformat(before["since"]).timestamp()
    # the accept a millisecond later at least: at the same one, an accept's own time would pass
    await until(lambda: time.time() >= came + 0.002, 5, "the clock past the invitation's")
    await alice.accept_group("crew")
    after = group_of(alice, group)
    assert before["role"] == "invited" and after["role"] == "member", (before, after)
    assert before["since"] == after["since"], (before, after)
    created = group_of(bob, group)
    assert created["since"] <= before["since"], (created, before)
