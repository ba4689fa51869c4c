"""Trial 13, B4: "offline" was said of nodes that run. A group's Members page said "~bob:
offline" of a member who is not a contact and whom this node has no link to (news came through
the others); the chat's /contacts lacked the CLI's "you removed them; their node still has you
as a contact". One wording (core/contact_words.py) for the page, /contacts and the CLI."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from tests.tui.test_groups_ui import BOB, CAROL, GroupBackend

pytestmark = pytest.mark.timeout(30)

ERIN, FRANK = "E" * 56, "F" * 56


class MembersBackend(GroupBackend):
    def __init__(self) -> None:
        super().__init__()
        self.nearby: list[dict[str, Any]] = [{"fingerprint": ERIN, "name": "erin"}]

    async def peers(self) -> dict[str, Any]:
        return {"links": [], "nearby": list(self.nearby), "requests": []}

    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": BOB, "name": "bob", "owner": True, "you": False,
                 "online": False, "contact": True},
                {"fingerprint": ERIN, "name": "erin", "you": False, "online": False,
                 "contact": False},
                {"fingerprint": FRANK, "name": "frank", "you": False, "online": False,
                 "contact": False},
                {"fingerprint": "ME", "name": "me", "you": True, "online": True}]


async def test_a_member_with_no_link_is_never_called_offline() -> None:
    controller = Controller(MembersBackend())
    await controller.start()
    try:
        controller.state.conversations[BOB].last_seen = "2026-01-01T19:21:00.000+00:00"
        await controller.execute("/group create club")
        await controller.execute("/group members")
        page = controller.state.page
        assert page is not None
        lines = [line for _, line in page.lines]
        assert "  ~erin: nearby" in lines, lines  # discovery sees her node
        assert "  ~frank: not linked" in lines, lines  # nothing here can tell: no guess
        # a contact, as its header says it: the node dials contacts, so "offline" is known
        assert any(line.startswith("  bob (owner): offline (last seen ") for line in lines)
        assert any(line.startswith("not linked: not your contact") for line in lines), lines
        assert not any(line.startswith("  ~") and line.endswith("offline") for line in lines)
    finally:
        await controller.stop()


class RemovedBackend(MembersBackend):
    async def contacts(self) -> list[dict[str, Any]]:
        return [{"fingerprint": BOB, "name": "bob", "state": "contact", "note": "",
                 "addrs": [], "online": True},
                {"fingerprint": CAROL, "name": "carol", "state": "request", "note": "",
                 "addrs": [], "online": False, "after_removal": True}]


async def test_contacts_says_a_removed_contact_still_has_you() -> None:
    controller = Controller(RemovedBackend())
    await controller.start()
    try:
        await controller.execute("/contacts")
        page = controller.state.page
        assert page is not None
        lines = [line for _, line in page.lines]
        row = next(i for i, line in enumerate(lines) if line.startswith("  carol "))
        assert lines[row + 1].strip() == "you removed them; their node still has you as a" \
            " contact (/add carol links you again)", lines
    finally:
        await controller.stop()


def test_the_receipts_page_says_not_linked_of_a_member_out_of_reach() -> None:
    """"not yet: alice (online), ~erin (offline)": erin's node ran, this one had no link."""
    from p2pchat.tui.receipts import lines_for

    members = [{"fingerprint": BOB, "name": "bob", "online": False, "contact": True},
               {"fingerprint": ERIN, "name": "erin", "online": False, "contact": False}]
    lines = lines_for(set(), members)
    assert "not yet: bob (offline), ~erin (not linked)" in lines[1], lines
