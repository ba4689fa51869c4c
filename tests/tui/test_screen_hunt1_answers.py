"""notes/s36/hunt1.md F7, F11, F12 on the chat screen (keys and mouse on prompt_toolkit's pipe
input, the scripted backends of the other screen tests): an answer typed to a question, then a
key, a click or a switch that cancels it, is said ("not answered, so nothing done") and never
goes out on the next Enter; every command glued after text is held once, aliases too."""

from __future__ import annotations

import pytest

from p2pchat.tui.typed_after import TypedAfter, every_verb
from tests.aio import until
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial13b import Two, sent
from tests.tui.test_screen_trial13c import on_screen
from tests.tui.test_state import BOB, CAROL

pytestmark = pytest.mark.timeout(30)

NOT_ANSWERED = "not answered, so nothing done: Block carol (YOWAINW)?"
HELD = ("not sent: 'y' was typed for the question 'Block carol (YOWAINW)?', which is"
        " cancelled")


def sgr(button: int, x: int, y: int) -> str:
    """A mouse press and release as an xterm sends them (SGR, 1-based cells)."""
    return f"\x1b[<{button};{x};{y}M\x1b[<{button};{x};{y}m"


async def asked_with_y(chat: object, keys: object) -> None:
    chat.controller.select(BOB)  # type: ignore[attr-defined]
    await until(lambda: chat.drafts.showing == BOB, 10, "bob open")  # type: ignore[attr-defined]
    chat.ask("Block carol (YOWAINW)? y/n", lambda: None)  # type: ignore[attr-defined]
    keys.send_text("y")  # type: ignore[attr-defined]
    await until(lambda: on_screen(chat, "answer: y"), 10, "the answer held beside it")


@pytest.mark.parametrize("key", ["\x1b[D", "\x0a", "\x0e", "\x1b[5~", "\r"],
                         ids=["Left", "Ctrl-J", "Ctrl-N", "PageUp", "Enter-after-ye"])
async def test_an_answer_then_a_key_that_cancels_is_held_once_never_sent(key: str) -> None:
    """F7: "y" then Left (or Ctrl-J, Ctrl-N, PageUp) cancelled the question, "> y" in the
    input, and the next Enter sent "y" to bob."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await asked_with_y(chat, keys)
        if key == "\r":
            keys.send_text("e")  # "ye" is no answer: its Enter cancels
        keys.send_text(key)
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        await until(lambda: on_screen(chat, NOT_ANSWERED), 10, "said on the row")
        typed = "ye" if key == "\r" else "y"
        assert chat.input.text == typed
        keys.send_text(ENTER)
        await until(lambda: on_screen(chat, f"not sent: '{typed}' was typed for the question"),
                    10, "held once")
        assert chat.input.text == typed and sent(backend) == []
        keys.send_text(ENTER)  # Enter again sends it, as said
        await until(lambda: sent(backend) != [], 10, "sent on the second Enter")


@pytest.mark.parametrize("key", ["\x15", "\x17"], ids=["Ctrl-U", "Ctrl-W"])
async def test_ctrl_u_after_an_answer_clears_it(key: str) -> None:
    """F7: Ctrl-U, meant to clear the answer, left "> y" in the input."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await asked_with_y(chat, keys)
        keys.send_text(key)
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        await until(lambda: on_screen(chat, NOT_ANSWERED), 10, "said on the row")
        assert chat.input.text == ""
        keys.send_text(ENTER)
        await until(lambda: not chat.controller.busy(), 10, "idle")
        assert sent(backend) == []


async def test_a_click_on_another_conversation_says_so_and_the_draft_is_held() -> None:
    """F12: a click on carol in the list cancelled the question silently (not even in
    /notices), and "y" became bob's draft, which Enter then sent."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await asked_with_y(chat, keys)
        row = 1 + [c.id for c in chat.state.order()].index(CAROL)  # the list's rows from 1
        keys.send_text(sgr(0, 5, row + 1))
        await until(lambda: chat.state.selected == CAROL, 10, "carol opened by the click")
        await until(lambda: on_screen(chat, NOT_ANSWERED), 10, "said on the row")
        assert chat.confirm is None and chat.input.text == ""
        assert any(NOT_ANSWERED in n.text for n in chat.state.notices)
        keys.send_text("\x1b1" if chat.state.order()[0].id == BOB else "\x1b2")  # back to bob
        await until(lambda: chat.state.selected == BOB and chat.input.text == "y", 10,
                    "bob's draft: the y")
        keys.send_text(ENTER)
        await until(lambda: on_screen(chat, HELD), 10, "held once")
        assert sent(backend) == [] and chat.input.text == "y"


@pytest.mark.parametrize("alt", ["\x1b\x1b[B", "\x1ba"], ids=["Alt+Down", "Alt+a"])
async def test_an_alt_switch_keeps_the_answer_in_the_draft_left_held_once(alt: str) -> None:
    """F12: Alt+Down lost the typed "y"; now it stays in bob's draft, held once there."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await asked_with_y(chat, keys)
        keys.send_text(alt)
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        await until(lambda: on_screen(chat, NOT_ANSWERED), 10, "said on the row")
        assert "a" not in chat.input.text and "y" not in chat.input.text
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB and chat.input.text == "y", 10,
                    "bob's draft keeps the y")
        keys.send_text(ENTER)
        await until(lambda: on_screen(chat, HELD), 10, "held once")
        assert sent(backend) == []


@pytest.mark.parametrize("mouse", [sgr(64, 50, 5), sgr(0, 50, 5)], ids=["wheel", "click"])
async def test_the_wheel_or_a_click_in_the_main_pane_leaves_the_question_up(mouse: str) -> None:
    """F7: the mouse wheel or a click in the main pane cancelled it, "> y" in the input, and
    Enter sent "y". They are no key: the question stays, its answer with it."""
    backend = Two()
    async with running(backend) as (chat, keys):
        await asked_with_y(chat, keys)
        keys.send_text(mouse)
        keys.send_text("e")  # a key after: the question was still up to take it
        await until(lambda: on_screen(chat, "answer: ye"), 10, "still up, the answer held")
        assert chat.input.text == "" and sent(backend) == []


def test_every_command_glued_after_text_is_held_once() -> None:
    """F11: "draft/names", "ok/j carol", "x/me waves" went out at once: the hold knew only
    /help's table, not the IRC habits and aliases the parser runs."""
    assert {"/names", "/j", "/join", "/me", "/query", "/to", "/q"} <= set(every_verb())
    for verb in every_verb():
        typed = TypedAfter()
        line = f"x{verb} carol"
        assert typed.hold(line) is not None, verb
        assert typed.hold(line) is None, verb  # Enter again sends it
    assert TypedAfter().hold("\u00ad/names") is not None  # a soft hyphen from a web page


@pytest.mark.parametrize("line", ["yes please do", "y, block them", "no thanks"])
async def test_a_line_that_begins_with_an_answer_word_is_held_once(line: str) -> None:
    """Trial 14b, B3: "yes please do" typed to "Block mal?" cancelled it at the space and went
    to the group, mal included; mal was not blocked."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        chat.ask("Block carol (YOWAINW)? y/n", lambda: None)
        keys.send_text(line)
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        keys.send_text(ENTER)
        await until(lambda: on_screen(chat, "cancelled the question"), 10, "held once")
        assert chat.input.text == line and sent(backend) == []
        keys.send_text(ENTER)  # Enter again sends it, as said
        await until(lambda: sent(backend) != [], 10, "sent on the second Enter")


async def test_chat_a_question_was_in_the_way_of_goes_at_once() -> None:
    """"yo there" is chat, not an answer: the question goes, the line is sent at Enter."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        chat.ask("Block carol (YOWAINW)? y/n", lambda: None)
        keys.send_text("yo there")
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        keys.send_text(ENTER)
        await until(lambda: sent(backend) != [], 10, "sent at once")


@pytest.mark.parametrize("line", ["?help", "\\quit", ".msg carol hi", "／id", "∕id", " -names",
                                  ";me waves", ",j carol", "?NETWORK list"])
def test_a_command_behind_a_mistyped_slash_is_held_once(line: str) -> None:
    """s36 hunt1, F6: "?help", "\\quit", ".msg carol hi" went out as messages."""
    held = TypedAfter()
    why = held.hold(line, BOB)
    assert why is not None and "with its '/' mistyped" in why, why
    assert held.hold(line, BOB) is None  # Enter again sends it


@pytest.mark.parametrize("line", ["?", "what?", "hello?help", "?helpful", "...", ".net is up",
                                  "-1 for that"])
def test_text_that_is_no_mistyped_command_goes(line: str) -> None:
    assert TypedAfter().hold(line, BOB) is None
