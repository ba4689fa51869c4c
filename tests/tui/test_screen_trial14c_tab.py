"""notes/s36/trial14c.md B2 on the chat screen (keys on prompt_toolkit's pipe input): a Tab
that completes nothing is a gap, and in a `/network join NAME ` line Tab never completes, so a
passphrase typed or pasted (without bracketed paste, each tab a Tab key) after one is starred,
never kept in clear and never sent."""

from __future__ import annotations

import pytest

from tests.aio import until
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial13b import Two, sent
from tests.tui.test_screen_trial13c import on_screen
from tests.tui.test_state import BOB, CAROL, contact

pytestmark = pytest.mark.timeout(30)

PASS = "aroma-front-ahead-dust-jumbo-thing"
STARS = "*" * len(PASS)


@pytest.mark.parametrize("keys_typed, shown", [
    (f"/network join club\t{PASS}", "/network join club "),
    (f"/network join club \t{PASS}", "/network join club "),
    (f"see network join club\t{PASS}", "see network join club "),
    (f"ok\tsee\tnetwork\tjoin\tclub\t{PASS}", "ok see network join club "),
    (f"/network\tjoin\tclub\t{PASS}", "/network join club "),
], ids=["typed", "after-a-blank", "in-a-message", "pasted-with-tabs", "a-command-with-tabs"])
async def test_a_tab_before_a_passphrase_is_a_gap_and_it_is_starred(
        keys_typed: str, shown: str) -> None:
    """B2: the Tab inserted nothing; the line read "/network join clubaroma-…" in clear, Up
    brought it back, and a message line with it was sent to bob."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        keys.send_text(keys_typed)
        await until(lambda: chat.input.text.endswith(PASS), 10, "typed")
        assert chat.input.text == shown + PASS
        await until(lambda: on_screen(chat, shown + STARS), 10, "starred")
        assert not on_screen(chat, PASS)
        keys.send_text(ENTER)
        if not shown.startswith("/"):
            await until(lambda: on_screen(chat, "not sent"), 10, "held")
        keys.send_text("\x15\x1b[A")  # Ctrl-U, Up: the history never has it in clear
        await until(lambda: not on_screen(chat, STARS) or chat.input.text != shown + PASS, 10,
                    "moved on")
        assert PASS not in chat.input.text
        assert not [args for args in sent(backend) if PASS in str(args)]
        assert not on_screen(chat, PASS)


async def test_a_tab_that_completes_nothing_in_a_message_is_a_space() -> None:
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        keys.send_text("hello\tthere")
        await until(lambda: chat.input.text == "hello there", 10, "a gap")


@pytest.mark.parametrize("who, state, said", [
    ("bob", "contact", "bob is not blocked: a contact, linked"),
    ("carol", "request", f"carol ({CAROL[:7]}) is not blocked: a request; /accept to"
                                " add them"),
])
async def test_unblock_of_one_not_blocked_says_what_they_are(
        who: str, state: str, said: str) -> None:
    """B9: `/unblock bob` with bob a contact said "'bob' is already a contact"."""
    backend = Two()
    backend.contact_list = [contact(BOB, "bob", online=True), contact(CAROL, "carol", state)]
    async with running(backend) as (chat, keys):
        await until(lambda: len(chat.state.conversations) == 2, 10, "listed")
        keys.send_text(f"/unblock {who}{ENTER}")
        await until(lambda: on_screen(chat, said), 10, said)
        assert not on_screen(chat, "already a contact")
