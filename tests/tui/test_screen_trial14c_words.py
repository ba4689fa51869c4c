"""Trial 14c, B3 on the chat screen (keys on prompt_toolkit's pipe input, the scripted group
backend): `/group create carol Bob B` said "Bob is now called 'Bob B'", though nobody was ever
called Bob (bob calls himself bob): the words split a name, and the answer says so. The
corrected line is still put in the input, and Enter runs it."""

from __future__ import annotations

import pytest

from tests.aio import until
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial13c_asks import on_screen
from tests.tui.test_screen_trial14a_d import Renamed
from tests.tui.test_state import BOB, CAROL, contact

pytestmark = pytest.mark.timeout(30)


class BobB(Renamed):
    """bob, who calls himself bob, is "Bob B" here; carol is carol."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [{**contact(BOB, "Bob B"), "announced_name": "bob"},
                             contact(CAROL, "carol")]


async def test_group_create_with_a_name_typed_unquoted_says_the_words_split_it() -> None:
    backend = BobB()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/group create carol Bob B{ENTER}")
        await until(lambda: on_screen(chat, "the corrected line is in the input"), 10, "it")
        assert on_screen(chat, "nothing created: 'Bob' is no contact; did you mean 'Bob B'")
        assert not on_screen(chat, "is now called")
        assert chat.input.text == '/group create carol "Bob B"'
        assert ("create", "carol") not in backend.calls
        keys.send_text(ENTER)
        await until(lambda: ("create", "carol") in backend.calls, 10, "created on Enter")


async def test_the_name_they_call_themself_still_says_they_are_now_called_so() -> None:
    backend = BobB()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/group create crew carol bob{ENTER}")
        await until(lambda: on_screen(chat, "the corrected line is in the input"), 10, "it")
        assert on_screen(chat, "nothing created: bob is now called 'Bob B'")
        assert chat.input.text == '/group create crew carol "Bob B"'
