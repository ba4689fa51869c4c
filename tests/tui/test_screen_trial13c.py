"""notes/s35/trial13c.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backend of test_controller: Alt+digit switches with a page or a search's marks up and
never types its digit (B1); a command glued after other text is held once on Enter (B1); a key
that cancelled a question says so on the row, and the line it began is held once (B2)."""

from __future__ import annotations

import pytest

from tests.aio import until
from tests.tui.test_screen import CTRL_C, ENTER, running
from tests.tui.test_screen_trial13b import Two, drawn, sent
from tests.tui.test_state import BOB

pytestmark = pytest.mark.timeout(30)

ALT_2 = "\x1b2"  # as a terminal sends it: Esc and the key in one write


def on_screen(chat: object, text: str) -> bool:
    return any(text in row for row in drawn(chat, 200, 30))  # type: ignore[arg-type]


@pytest.mark.parametrize("open_up", ["page", "search"])
async def test_alt_digit_switches_with_a_page_or_search_marks_up(open_up: str) -> None:
    """B1: /help (or /search + /jump) up, Alt+2 typed "2" into the input, and "/id" typed next
    went to carol as "2/id"."""
    async with running(Two()) as (chat, keys):
        chat.controller.select(BOB)
        if open_up == "page":
            chat.state.show_page("Help", ["a line of help"])
        else:
            chat.state.search_term = "hello"
        second = chat.state.order()[1].id
        assert second != BOB
        keys.send_text(ALT_2)
        await until(lambda: chat.state.selected == second, 10, "the second conversation")
        assert chat.input.text == "" and chat.state.page is None and not chat.state.search_term


@pytest.mark.parametrize("line", ["3/block bob (6MRPPSW)", "2/id", "draft/quit"])
async def test_a_command_glued_after_text_is_held_once(line: str) -> None:
    """B1, the guard on Enter: "3/block bob (6MRPPSW)" went out as a message."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        chat.input.buffer.insert_text(line)  # as a paste: no "/" key
        keys.send_text(ENTER)
        verb = "/" + line.split("/")[1].split()[0]
        await until(lambda: on_screen(chat, f"not sent: '{verb}' is glued to"), 10, "the hold")
        assert sent(backend) == [] and chat.input.text == line
        keys.send_text(ENTER)  # again: it goes as a message
        await until(lambda: sent(backend), 10, "the message")
        assert sent(backend) == [(BOB, line)]


async def test_plain_text_with_a_slash_goes_at_once() -> None:
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        # (not "you/me": /me glued after text is held once, as every command is: s36 F11)
        chat.input.buffer.insert_text("him/her and/or http://x.org/help")
        keys.send_text(ENTER)
        await until(lambda: sent(backend), 10, "the message")


async def test_a_key_that_cancels_the_quit_question_says_so_and_its_line_is_held() -> None:
    """B2: "q" Enter to "Quit? y: yes  b: keep the node running  n: no" sent "q" to erin, and
    "not answered, so nothing done" was only in /notices."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        chat.state.mode = "in-process"
        keys.send_text(CTRL_C)
        await until(lambda: chat.confirm is not None, 10, "the quit question")
        keys.send_text("q")
        await until(lambda: chat.confirm is None and chat.input.text == "q", 10, "cancelled")
        assert on_screen(chat, "not answered, so nothing done")
        keys.send_text(ENTER)
        await until(lambda: on_screen(chat, "your 'q' cancelled the question 'Quit?'"), 10,
                    "the hold")
        assert on_screen(chat, "not answered, so nothing done")
        assert sent(backend) == [] and chat.input.text == "q"
        keys.send_text(ENTER)  # again: it goes as a message
        await until(lambda: sent(backend), 10, "the message")
        assert sent(backend) == [(BOB, "q")]
