"""notes trial 10 on the chat screen: B5, a removed member's own group message stayed "✓ 1/2"
for ever though both others had displayed it: no receipt reaches a member once it is out, so
the count says it is the one known then."""

from __future__ import annotations

from datetime import date

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
