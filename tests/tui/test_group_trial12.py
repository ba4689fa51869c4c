"""Trial 12 (issue 23), B8: a removed member's frozen Members page claims no presence. Its links
to the others closed with the removal, so "~carol: offline" was the page saying what it cannot
know (carol was online); the page is a snapshot of membership, not of who is online."""

from __future__ import annotations

from typing import Any

from p2pchat.tui.controller import Controller
from tests.tui.test_groups_ui import BOB, GROUP, GroupBackend


class RemovedBackend(GroupBackend):
    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": BOB, "name": "bob", "owner": True, "you": False,
                 "online": False, "contact": True},
                {"fingerprint": "CAROLXY-1", "name": "carol", "you": False, "online": False,
                 "contact": False},
                {"fingerprint": "DAVEXYZ-1", "name": "dave", "you": False, "online": False,
                 "contact": True, "invited": True},
                {"fingerprint": "ME", "name": "me", "you": True, "online": True}]


async def test_the_frozen_members_page_claims_no_presence() -> None:
    controller = Controller(RemovedBackend())
    await controller.start()
    try:
        await controller.execute("/group create club")
        await controller.execute("/group members")
        assert controller.state.page is not None
        live = [line for _, line in controller.state.page.lines]
        assert "  ~carol: not linked" in live  # while a member, presence is the node's, now
        controller.state.apply({"type": "group_changed", "group": GROUP, "title": "club",
                                "role": "removed", "change": "remove", "member": "x",
                                "member_name": "me", "you": True})
        await controller.execute("/group members")
        page = controller.state.page
        assert page is not None and "(you were removed)" in page.title
        lines = [line for _, line in page.lines]
        assert "  ~carol" in lines and "  bob (owner)" in lines, lines
        assert "  dave: invited, not joined yet" in lines, lines  # a fact as of the removal
        assert not any(line.endswith(("online", "offline")) for line in lines), lines
    finally:
        await controller.stop()
