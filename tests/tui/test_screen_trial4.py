"""The newcomer's fourth trial of the chat screen (notes/s32/trial4.md: A 9, 21, 25 and
B7-B20), without a node: the view-model, the render functions, and keys on prompt_toolkit's pipe
input."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.commands import complete
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_screen import ENTER, running

pytestmark = pytest.mark.timeout(30)

TAB = "\t"


def sent(backend: FakeBackend) -> list[Any]:
    return [call[1] for call in backend.calls if call[0] == "send"]


def test_a_whole_action_word_completes_to_its_space() -> None:
    """A 21: `/group forget` + Tab did nothing; only `/group forget ` + Tab completed."""
    names = ["climbing", "old"]
    extra = {"ended": ["old"]}
    assert complete("/group forget", names, extra) == [("forget ", -6)]
    assert complete("/group invite", names, extra) == [("invite ", -6)]
    assert complete("/network join", names, extra) == [("join ", -4)]
    assert complete("/network ", names, extra) == [("join ", 0), ("leave ", 0), ("list", 0)]
    assert complete("/group members", names, extra) == []  # takes nothing: nothing to add


async def test_tab_after_a_whole_action_word_adds_the_space_and_offers_the_names() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.upsert_group(group(title="old") | {"role": "left"})
        keys.send_text("/group forget" + TAB)
        await until(lambda: chat.input.text == "/group forget ", 10, "the space")
        await until(lambda: chat.input.buffer.complete_state is not None
                    and any(c.text == "old " for c in chat.input.buffer.complete_state.completions),
                    10, "the groups left offered")


async def test_text_typed_into_a_group_you_left_stays_in_the_input() -> None:
    """B13: "anyone still here?" + Enter in a group left: the input was emptied."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.upsert_group(group(title="climbing") | {"role": "left"})
        chat.state.select(GROUP)
        chat.redraw()
        await until(lambda: chat._draft_for == GROUP, 10, "the group open")
        keys.send_text("anyone still here?" + ENTER)
        await until(lambda: any("you left climbing" in n.text for n in chat.state.notices),
                    10, "the refusal")
        assert chat.input.text == "anyone still here?"
        assert not sent(backend)
