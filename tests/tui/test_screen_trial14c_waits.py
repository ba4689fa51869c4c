"""notes/s36/trial14c.md B5 on the chat screen (keys on prompt_toolkit's pipe input): a line
typed right behind a command that asks is said on the question's row while it waits, and the
answer's own notice shows after, not replaced by the waiting line's send."""

from __future__ import annotations

import pytest

from tests.aio import until
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial13b import Two, sent
from tests.tui.test_screen_trial13c import on_screen
from tests.tui.test_state import BOB

pytestmark = pytest.mark.timeout(30)


async def test_a_line_behind_a_question_is_said_and_the_answer_still_shows() -> None:
    """B5: burst `/block carol` Enter `hello there` Enter: an empty input, nothing said; after
    "n", "hello there" went to carol and the "not blocked" answer never showed."""
    backend = Two()
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        await until(lambda: chat.drafts.showing == BOB, 10, "bob open")
        keys.send_text(f"/block carol{ENTER}hello there{ENTER}")
        await until(lambda: on_screen(chat, "1 line waits for this answer: it is sent after"),
                    10, "the waiting line said on the question's row")
        assert sent(backend) == []
        keys.send_text(f"n{ENTER}")
        await until(lambda: sent(backend) != [], 10, "sent after the answer")
        await until(lambda: not chat.controller.busy(), 10, "done")
        assert on_screen(chat, "not blocked"), "the answer's notice shows"
        assert not on_screen(chat, "waits for this answer")
