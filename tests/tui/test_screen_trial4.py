"""notes/s32/trial4.md on the chat screen's state: a rename said once (B6), a refused network
said refused (B22), an open page following the node (7), group lines under a contact's current
name (20), and how long event notices stay (18)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_state import BOB, ME, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)


class Trial4Backend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(BOB, f"bob ({BOB[:7]})")]

    async def network(self, action: str, name: str = "",
                      passphrase: str = "") -> dict[str, Any]:
        return {"networks": [], "waiting": ["club", "hike"], "legacy": [],
                "states": {"club": "refused", "hike": "waiting"}, "check_codes": {}}


async def started() -> tuple[Controller, Trial4Backend]:
    backend = Trial4Backend()
    controller = Controller(backend)
    await controller.start()
    return controller, backend


async def test_a_rename_names_the_fingerprint_once() -> None:
    controller, _ = await started()
    try:
        await controller.execute(f"/rename bob ({BOB[:7]}) mallory")
        assert f"bob ({BOB[:7]}) is now called mallory" in notices(controller)
        assert f"({BOB[:7]}) ({BOB[:7]})" not in notices(controller)
    finally:
        await controller.stop()


async def test_network_list_says_refused_as_the_status_line_does() -> None:
    controller, _ = await started()
    try:
        await controller.execute("/network list")
        said = notices(controller)
        assert "waiting to be admitted: hike;" in said
        assert "refused: club" in said and "/network join club PASSPHRASE" in said
        assert "waiting to be admitted: club" not in said
    finally:
        await controller.stop()


class MembersBackend(GroupBackend):
    def __init__(self) -> None:
        super().__init__()
        self.group_list = [group()]
        self.members = [{"fingerprint": BOB, "name": "bob", "owner": True, "online": True},
                        {"fingerprint": ME, "name": "me", "you": True, "online": True}]

    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return list(self.members)


def page_text(controller: Controller) -> str:
    page = controller.state.page
    assert page is not None
    return page.title + "\n" + "\n".join(text for _, text in page.lines)


async def test_an_open_members_page_follows_a_removal() -> None:
    backend = MembersBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.switch_to(controller.state.conversations[GROUP])
        await controller.execute("/group members")
        assert "me (you): online" in page_text(controller)
        backend.members = backend.members[:1]  # alice removed us
        backend.group_list = [group(role="removed")]
        backend.streams[-1].queue.put_nowait(
            {"type": "group_changed", **group(role="removed"), "change": "remove",
             "member": ME, "member_name": "me", "you": True})
        await until(lambda: "you were removed" in page_text(controller), 10, "the page to follow")
        assert "me (you)" not in page_text(controller)
    finally:
        await controller.stop()


async def test_an_open_groups_page_follows_an_invitation() -> None:
    backend = MembersBackend()
    backend.group_list = []
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group list")
        assert "none yet" in page_text(controller)
        backend.group_list = [group(role="invited")]
        backend.streams[-1].queue.put_nowait(
            {"type": "group_invited", **group(role="invited"), "invited_by_name": "bob"})
        await until(lambda: "club" in page_text(controller), 10, "the page to follow")
    finally:
        await controller.stop()


def test_group_lines_name_a_renamed_contact_by_their_new_name() -> None:
    state = loaded_state()
    bob = f"bob ({BOB[:7]})"
    state.set_contacts([contact(BOB, bob)])
    state.apply({"type": "group_joined", **group(), "by": ME, "by_name": "me"})
    state.apply({"type": "group_changed", **group(), "change": "add", "member": BOB,
                 "member_name": bob, "you": False, "number": 2, "text": f"you invited {bob}"})
    state.load_history(GROUP, [
        {"type": "message", "notice": "membership", "id": "join-2", "conversation": GROUP,
         "author": BOB, "author_name": "group", "own": False, "status": None,
         "sent_at": "2026-01-01T10:00:00.000+00:00", "change": "join", "member": BOB,
         "member_name": bob, "you": False, "text": f"{bob} joined"}])
    state.apply(message(GROUP, "m1", "hello hikers", author_name=bob) | {"author": BOB})
    state.set_contacts([contact(BOB, "mallory")])  # /rename, here or from the CLI
    lines = [m.text for m in state.conversations[GROUP].messages if m.system]
    assert "you invited mallory" in lines and "mallory joined" in lines
    assert not any(bob in line for line in lines)
    assert [m.author_name for m in state.conversations[GROUP].messages
            if not m.system] == ["mallory"]
