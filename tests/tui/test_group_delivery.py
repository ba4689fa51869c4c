"""Per-member delivery of our group messages (✓✓ n/m), unverified members and change lines on
the chat screen (issues 23 points 5-7, 24 point 6)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from p2pchat.tui.commands import parse_group
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import _message
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_state import BOB, loaded_state, message

pytestmark = pytest.mark.timeout(30)


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
    assert shown.delivered == (1, 2)
    # a double tick only once every member it was for holds it (trial1 B3)
    assert text_of(_message(shown, date.today())[0]).endswith(" ✓ 1/2")
    state.apply({"type": "delivery", "id": "m1", "status": "delivered", "fingerprint": GROUP,
                 "delivered_to": ["x", "y"], "recipients": 2})
    assert text_of(_message(shown, date.today())[0]).endswith("✓✓ 2/2")


def test_a_member_who_is_not_a_contact_is_marked_unverified() -> None:
    state = loaded_state()
    state.upsert_group(group())
    state.apply(message(GROUP, "m2", "count me in", author_name="dave")
                | {"group": "club", "author_contact": False})
    shown = state.conversations[GROUP].find("m2")
    assert shown is not None and shown.author_name == "~dave"


class ManagingBackend(GroupBackend):
    async def manage_member(self, action: str, group_id: str, member: str) -> dict[str, Any]:
        self.calls.append((action, (group_id, member)))
        return group(role="owner")

    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": BOB, "name": "bob", "owner": False, "admin": True, "you": False,
                 "online": True, "contact": True},
                {"fingerprint": "D" * 52, "name": "dave", "owner": False, "admin": False,
                 "you": False, "online": False, "contact": False}]


async def test_the_owner_names_an_admin_and_members_show_admins_and_unverified_names() -> None:
    assert parse_group("admin bob") == ("admin", "bob")
    assert parse_group("transfer bob") == ("transfer", "bob")
    backend = ManagingBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group create club")
        await controller.execute("/group admin bob")
        await controller.execute("/group unadmin bob")
        await controller.execute("/group transfer bob")
        assert [c for c in backend.calls if c[0] in ("admin", "unadmin", "transfer")] == [
            ("admin", (GROUP, "bob")), ("unadmin", (GROUP, "bob")), ("transfer", (GROUP, "bob"))]
        await controller.execute("/group members")
        assert controller.state.page is not None
        lines = [text for _, text in controller.state.page.lines]
        assert "  bob (admin): online" in lines and "  ~dave: not linked" in lines
    finally:
        await controller.stop()


def test_the_receipts_page_gives_a_double_tick_only_when_all_have_it() -> None:
    from p2pchat.tui.receipts import lines_for

    members = [{"fingerprint": "B" * 52, "name": "bob", "online": True},
               {"fingerprint": "C" * 52, "name": "carol", "online": False}]
    assert lines_for({"B" * 52}, members)[0].startswith("  ✓ delivered to 1 of 2: bob")
    assert lines_for({"B" * 52, "C" * 52}, members)[0].startswith("  ✓✓ delivered to 2 of 2")


def test_the_receipts_page_lists_who_the_message_was_for_not_who_is_in_now() -> None:
    """Issue 23: dave joined after the message was sent (not in its `sent_to`): not listed as
    lacking it; erin left since: still one it was for."""
    from p2pchat.tui.receipts import lines_for

    members = [{"fingerprint": "B" * 52, "name": "bob", "online": True},
               {"fingerprint": "D" * 52, "name": "dave", "online": True}]
    lines = lines_for({"B" * 52}, members, ["B" * 52, "E" * 52])
    assert lines[0].startswith("  ✓ delivered to 1 of 2: bob")
    assert "dave" not in "\n".join(lines)
    assert lines[1] == "  not yet: EEEEEEEE (no longer a member)"
    assert lines_for({"B" * 52}, members, ["B" * 52])[0].startswith("  ✓✓ delivered to 1 of 1")


def test_the_receipts_page_marks_a_queued_message_as_its_line_does() -> None:
    """Trial 13b, B16: the line's "· 0/1" (queued) and the page's "✓ delivered to 0 of 1"
    (sent) told one state two ways: the page takes the line's mark."""
    from datetime import date

    from p2pchat.tui.conversation import Message
    from p2pchat.tui.receipts import lines_for
    from p2pchat.tui.render import _message

    members = [{"fingerprint": "B" * 52, "name": "bob", "online": False}]
    queued = Message("m1", "A" * 52, "alice", "away?", "2026-01-01T10:00:00+00:00", True,
                     status="queued", delivered=(0, 1))
    line = "".join(text for _, text in _message(queued, date(2026, 1, 1))[0])
    assert line.endswith(" · 0/1")
    assert lines_for(set(), members, None, "queued")[0].startswith("  · delivered to 0 of 1")
    assert lines_for({"B" * 52}, members, None, "queued")[0].startswith("  ✓✓ delivered to 1")
