"""Per-member delivery of our group messages (✓✓ n/m), unverified members and change lines on
the chat screen (issues 23 points 5-7, 24 point 6)."""

from __future__ import annotations

from datetime import date

from p2pchat.tui.render import _message
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_state import loaded_state, message


def text_of(fragments: list[tuple[str, str]]) -> str:
    return "".join(text for _, text in fragments)


def test_our_group_message_shows_how_many_members_hold_it() -> None:
    state = loaded_state()
    state.upsert_group(group())
    state.apply(message(GROUP, "m1", "hello all", own=True) | {
        "group": "club", "status": "sent", "delivered_to": [], "recipients": 2})
    shown = state.conversations[GROUP].find("m1")
    assert shown is not None and shown.delivered == (0, 2)
    assert text_of(_message(shown, date.today())[0]).endswith("✓ 0/2")
    state.apply({"type": "delivery", "id": "m1", "status": "delivered", "fingerprint": GROUP,
                 "delivered_to": ["x"], "recipients": 2})
    assert shown.delivered == (1, 2) and shown.status == "delivered"
    assert text_of(_message(shown, date.today())[0]).endswith("✓✓ 1/2")


def test_a_member_who_is_not_a_contact_is_marked_unverified() -> None:
    state = loaded_state()
    state.upsert_group(group())
    state.apply(message(GROUP, "m2", "count me in", author_name="dave")
                | {"group": "club", "author_contact": False})
    shown = state.conversations[GROUP].find("m2")
    assert shown is not None and shown.author_name == "~dave"
