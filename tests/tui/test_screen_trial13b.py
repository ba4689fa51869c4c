"""notes/s35/trial13b.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backend of test_controller: Tab's choices take only their rows, never the width of the
conversation (B1)."""

from __future__ import annotations

import pytest
from prompt_toolkit.layout.mouse_handlers import MouseHandlers
from prompt_toolkit.layout.screen import Screen, WritePosition

from p2pchat.tui.app import ChatApp
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_screen import running
from tests.tui.test_state import BOB, message

pytestmark = pytest.mark.timeout(30)

TAB = "\t"


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
