"""notes trial 10 on the chat screen: B5, a removed member's own group message stayed "✓ 1/2"
for ever though both others had displayed it: no receipt reaches a member once it is out, so
the count says it is the one known then."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from p2pchat.tui.render import history_rows
from tests.tui.test_group_delivery import text_of
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_state import loaded_state, message

pytestmark = pytest.mark.timeout(30)


def shown_marks(role: str) -> str:
    state = loaded_state()
    state.upsert_group(group())
    for number, held in ((1, ["x"]), (2, ["x", "y"])):
        state.apply(message(GROUP, f"m{number}", f"count me in {number}", own=True) | {
            "group": "club", "status": "sent", "delivered_to": held, "recipients": 2})
    state.upsert_group(group() | {"role": role})
    state.select(GROUP)
    return "\n".join(text_of(row) for row in history_rows(state, 100, date.today()))


@pytest.mark.parametrize(("role", "said"), [("removed", "when you were removed"),
                                            ("left", "when you left")])
def test_a_count_short_of_all_says_it_stopped_when_we_went(role: str, said: str) -> None:
    text = shown_marks(role)
    assert f"count me in 1 ✓ 1/2 {said}" in text, text
    assert "count me in 2 ✓✓ 2/2" in text and f"2/2 {said}" not in text, text


def test_a_count_in_a_group_we_are_in_says_nothing_more() -> None:
    text = shown_marks("member")
    assert "count me in 1 ✓ 1/2" in text and "when you" not in text, text


async def test_the_receipts_page_of_a_group_we_were_removed_from_says_so() -> None:
    from p2pchat.tui.receipts import receipts

    state = loaded_state()
    state.upsert_group(group())
    mine = message(GROUP, "m1", "count me in", own=True) | {
        "group": "club", "status": "sent", "delivered_to": ["B" * 52], "recipients": 2,
        "sent_to": ["B" * 52, "C" * 52]}
    state.apply(mine)
    state.upsert_group(group() | {"role": "removed"})
    state.select(GROUP)

    class Backend:
        async def history(self, who: str, limit: int | None = None) -> list[dict[str, Any]]:
            return [mine]

        async def group_members(self, group_id: str) -> list[dict[str, Any]]:
            return [{"fingerprint": "B" * 52, "name": "bob", "online": True},
                    {"fingerprint": "C" * 52, "name": "carol", "online": True}]

    await receipts(state, Backend(), "")  # type: ignore[arg-type]
    assert state.page is not None
    lines = [text for _, text in state.page.lines]
    assert lines[1].startswith("  not yet: carol"), lines
    assert lines[2] == ("  (as known when you were removed: no receipt reaches you since, so"
                        " those not yet may have it now)"), lines
