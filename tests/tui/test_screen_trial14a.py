"""notes/s36/trial14a.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backends of the other screen tests: the quit question names a draft's conversation
as the list and /msg tell it apart (B15)."""

from __future__ import annotations

import pytest

from tests.aio import until
from tests.tui.test_groups_ui import GROUP
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial13c_asks import Removing
from tests.tui.test_state import CAROL

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
