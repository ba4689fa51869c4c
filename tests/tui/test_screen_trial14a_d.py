"""notes/s36/trial14a.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backends of the other screen tests: Tab and /search tell a group from a contact of
the same name (B9)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.completing import completions
from p2pchat.tui.controller import Controller
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_screen import running
from tests.tui.test_screen_trial13b import TAB
from tests.tui.test_screen_trial13c_asks import Removing
from tests.tui.test_state import CAROL, message

pytestmark = pytest.mark.timeout(30)


def test_tab_after_a_mark_completes_the_group_or_the_contact() -> None:
    """B9: "/msg #b" Tab completed nothing; "#" and "@" pick the kind, shared name or not."""
    backend = Removing()  # contacts bob and carol, a group carol
    state = ChatState()
    state.set_contacts(backend.contact_list)
    state.set_groups(backend.group_list)
    assert completions(state, "/msg #c") == [("#carol ", -2)]
    assert completions(state, "/msg @c") == [("@carol ", -2)]
    assert completions(state, "/msg @b") == [("@bob ", -2)]  # no group bob: still the contact
    assert completions(state, "/j #") == [("#carol ", -1)]
    assert completions(state, "/msg b") == [("bob ", -1)]  # unmarked: as before
    backend.group_list = [group("team", role="owner")]
    state = ChatState()
    state.set_contacts(backend.contact_list)
    state.set_groups(backend.group_list)
    assert completions(state, "/msg #t") == [("#team ", -2)]
    assert completions(state, "/query #te") == [("#team ", -3)]


async def test_tab_on_the_screen_completes_hash_b() -> None:
    backend = Removing()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/msg #c{TAB}")
        await until(lambda: chat.input.text == "/msg #carol ", 10, "#carol completed")
        keys.send_text("\x15")  # Ctrl-U: the line gone
        keys.send_text(f"/msg @b{TAB}")  # bob: no group shares the name
        await until(lambda: chat.input.text == "/msg @bob ", 10, "@bob completed")


async def test_search_labels_a_shared_name_as_msg_takes_it() -> None:
    """B9: /search labelled the contact's and the group's results both "[carol]"."""
    class Talk(Removing):
        async def history(self, who: str, limit: int | None = None,
                          **options: Any) -> list[dict[str, Any]]:
            if who == CAROL:
                return [message(CAROL, "c1", "noon at the lake", author_name="carol")]
            if who == GROUP:
                return [message(GROUP, "g1", "noon for all", author_name="bob")
                        | {"group": "carol"}]
            return []

    controller = Controller(Talk())
    await controller.start()
    try:
        await controller.execute("/search noon")
        page = controller.state.page
        assert page is not None
        shown = [text for _, text in page.lines]
        assert any("[@carol]" in line and "lake" in line for line in shown), shown
        assert any("[#carol]" in line and "for all" in line for line in shown), shown
    finally:
        await controller.stop()
