"""notes/s35/trial13b.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backend of test_controller: Tab's choices take only their rows, never the width of the
conversation (B1); a command typed after a draft put back in the input runs, never goes out
glued to it (B15); /group create and invite take @NAME for the contact, and offer a quoted name
only when it would work (B6, with real nodes)."""

from __future__ import annotations

from typing import Any

import pytest
from prompt_toolkit.layout.mouse_handlers import MouseHandlers
from prompt_toolkit.layout.screen import Screen, WritePosition

from p2pchat.tui.app import ChatApp
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_controller import FakeBackend
from tests.tui.test_screen import CTRL_C, ENTER, running
from tests.tui.test_screen_trial4_nodes import screen
from tests.tui.test_screen_trial7 import texts, three
from tests.tui.test_state import BOB, CAROL, contact, message

pytestmark = pytest.mark.timeout(30)

TAB = "\t"
ESC = "\x1b"
UP = "\x1b[A"


class Two(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol")]


def sent(backend: FakeBackend) -> list[Any]:
    return [args for call, args in backend.calls if call == "send"]


def drawn(chat: ChatApp, columns: int, rows: int) -> list[str]:
    """The whole screen as prompt_toolkit draws it at this size, one string a row."""
    screen = Screen()
    chat.application.layout.container.write_to_screen(
        screen, MouseHandlers(), WritePosition(0, 0, columns, rows), "", erase_bg=False,
        z_index=None)
    screen.draw_all_floats()
    return ["".join(screen.data_buffer[y][x].char for x in range(columns)).rstrip()
            for y in range(rows)]


@pytest.mark.parametrize("size", [(120, 35), (80, 24)])
async def test_tab_choices_leave_the_conversation_its_width(size: tuple[int, int]) -> None:
    """B1: "/group" + Tab showed the actions at the foot of the pane, and every line above
    re-wrapped to the list's width: "carol ·", "Sunday…", one word a line."""
    columns, rows = size
    line = "hello alice, a line of some length to wrap"
    async with running(FakeBackend()) as (chat, keys):
        chat.controller.select(BOB)
        chat.state.apply(message(BOB, "m1", line))
        before = drawn(chat, columns, rows)
        assert any(row.endswith(line) for row in before), before
        keys.send_text(f"/group{TAB}")
        await until(lambda: chat.input.buffer.complete_state is not None
                    and len(chat.input.buffer.complete_state.completions) > 1, 10,
                    "the choices")
        during = drawn(chat, columns, rows)
        assert any(" invite" in row for row in during), during  # the menu shows
        assert any(row.endswith(line) for row in during), during  # the line keeps its width
        assert during[0] == before[0], during  # the header too ("bob · offline")


async def draft_back_after_not_quitting(chat: ChatApp, keys: Any) -> None:
    """B15's steps: a draft for bob, another conversation, Ctrl-C, Esc ("not quitting"), bob's
    conversation again: the input holds the draft, not typed in this visit."""
    chat.controller.select(BOB)
    keys.send_text("unfinished draft")
    await until(lambda: chat.input.text == "unfinished draft", 10, "the draft")
    chat.controller.select(CAROL)
    await until(lambda: chat.input.text == "", 10, "carol's empty input")
    keys.send_text(CTRL_C)
    await until(lambda: chat.confirm is not None, 10, "the quit question")
    keys.send_text(ESC)
    await until(lambda: chat.confirm is None, 10, "not quitting")
    chat.controller.select(BOB)
    await until(lambda: chat.input.text == "unfinished draft", 10, "the draft back")


async def test_a_command_typed_after_a_draft_put_back_runs_apart() -> None:
    """B15: "/quit" typed at the end of the draft went to bob as "unfinished draft/quit"."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await draft_back_after_not_quitting(chat, keys)
        keys.send_text("/me waves")
        await until(lambda: chat.input.text == "/me waves", 10, "the command apart")
        keys.send_text(ENTER)
        await until(lambda: sent(backend), 10, "the /me")
        assert sent(backend) == [(BOB, "/me waves")], sent(backend)  # the command, alone
        keys.send_text(UP + UP)
        await until(lambda: chat.input.text == "unfinished draft", 10, "the draft in history")


async def test_a_known_command_glued_to_a_draft_put_back_never_goes_as_a_message() -> None:
    """B15, the last guard on Enter: the draft unchanged, then "/quit" pasted at its end."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await draft_back_after_not_quitting(chat, keys)
        chat.state.mode = "in-process"  # /quit asks: stop the node, or keep it running?
        chat.input.buffer.insert_text("/quit")  # as a paste: no "/" key
        assert chat.input.text == "unfinished draft/quit"
        keys.send_text(ENTER)
        await until(lambda: chat.confirm is not None, 10, "the quit question")
        assert sent(backend) == [] and chat.input.text == ""
        keys.send_text(ESC)
        await until(lambda: chat.confirm is None, 10, "not quitting")
        keys.send_text(f"a draft/nothing{ENTER}")  # typed: a message like any other
        await until(lambda: sent(backend), 10, "the message")
        assert sent(backend) == [(BOB, "a draft/nothing")]


async def test_group_create_and_invite_take_at_name_for_the_contact(
        make_local_node: MakeLocalNode) -> None:
    """B6: `/group create hike @bob carol` said "'@bob' is not a contact", though /msg taught
    "/msg @bob for the contact"; and '"climbing with" bob and carol' was offered, refused
    again for 'and'."""
    alice, bob, carol = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create climbing with bob and carol")
        told = texts(chat)[-1]
        assert alice.list_groups() == [] and "goes in quotes" not in told, told
        # Filler words are named with the other unknown ones and never offered as the name.
        assert told.endswith("now without them: /group create climbing bob carol)"), told
        await chat.execute("/group create hike @bob")
        assert texts(chat)[-1].startswith("created hike and invited bob"), texts(chat)
        await chat.execute("/group invite @carol")  # the open group, hike
        await until(lambda: all(any(g.get("role") == "invited" for g in n.list_groups())
                                for n in (bob, carol)), what="bob and carol invited")
        assert [g["title"] for g in alice.list_groups()] == ["hike"]
    finally:
        await chat.stop()
