"""Groups in the UI: the side panel (with unread counts), the join line, /group commands."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.commands import Named, ParseError, parse, parse_group
from p2pchat.tui.controller import Controller
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_state import BOB, CAROL, loaded_state, message

pytestmark = pytest.mark.timeout(30)

GROUP = "ab" * 16


def group(title: str = "club", role: str = "member", online: int = 1) -> dict[str, Any]:
    return {"group": GROUP, "title": title, "role": role, "owner": BOB, "owner_name": "bob",
            "members": 3, "online": online, "epoch": 3, "has_key": True}


def test_an_invitation_puts_the_group_in_the_panel_and_says_so() -> None:
    state = loaded_state()
    state.apply({"type": "group_joined", **group(), "by": BOB, "by_name": "bob"})
    assert state.conversations[GROUP].name == "club"
    assert state.conversations[GROUP].kind == "group"
    assert state.conversations[GROUP].state == "member"
    assert "you joined club (bob invited you" in state.notices[-1].text
    state.apply(message(GROUP, "m1", "hello all", author_name="carol") | {"group": "club"})
    state.apply(message(GROUP, "m2", "again", author_name="carol") | {"group": "club"})
    assert state.conversations[GROUP].unread == 2
    state.select(GROUP)
    assert state.conversations[GROUP].unread == 0
    state.set_contacts([])  # contacts re-read: the group stays
    assert GROUP in state.conversations


def test_a_message_of_an_unknown_group_asks_for_the_groups() -> None:
    state = loaded_state()
    refresh = state.apply(message(GROUP, "m1", "hi", author_name="carol") | {"group": "club"})
    assert refresh == {"groups"} and state.conversations[GROUP].name == "club"


def test_membership_changes_are_one_line_each() -> None:
    state = loaded_state()
    state.apply({"type": "group_changed", **group(), "change": "add", "member": BOB,
                 "member_name": "dave", "you": False})
    state.apply({"type": "group_changed", **group(role="removed"), "change": "remove",
                 "member": BOB, "member_name": "me", "you": True})
    lines = [n.text for n in state.notices]
    assert lines[-2:] == ["dave was invited to club", "you were removed from club"]
    assert state.conversations[GROUP].note == "removed"


@pytest.mark.parametrize(("line", "expected"), [
    ("/group create the club", ("create", "the club")),
    ("/group invite carol", ("invite", "carol")),
    ("/group remove bob (ABCDEFG)", ("remove", "bob (ABCDEFG)")),
    ("/group members", ("members", "")),
    ("/group LEAVE", ("leave", "")),
    ("/group list", ("list", "")),
])
def test_group_commands_parse(line: str, expected: tuple[str, str]) -> None:
    command = parse(line)
    assert isinstance(command, Named) and command.command == "group"
    assert parse_group(command.who) == expected


@pytest.mark.parametrize("line", ["/group", "/group create", "/group leave now", "/group eat x"])
def test_group_command_mistakes(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line)


class GroupBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.group_list: list[dict[str, Any]] = []

    async def groups(self) -> list[dict[str, Any]]:
        return list(self.group_list)

    async def create_group(self, title: str) -> dict[str, Any]:
        self.calls.append(("create_group", title))
        self.group_list = [group(title, role="owner")]
        return self.group_list[0]

    async def invite(self, group_id: str, who: str) -> dict[str, Any]:
        self.calls.append(("invite", (group_id, who)))
        return group(role="owner")

    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": BOB, "name": "bob", "owner": True, "you": False,
                 "online": True}]


async def test_group_commands_act_on_the_selected_group() -> None:
    backend = GroupBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group invite bob")
        assert "open a group first" in notices(controller)
        await controller.execute("/group create club")
        assert controller.state.selected == GROUP
        await controller.execute("/group invite bob")
        await controller.execute("/group members")
        await controller.execute("hello club")
        assert ("invite", (GROUP, "bob")) in backend.calls
        assert ("send", (GROUP, "hello club")) in backend.calls
        assert controller.state.page is not None
        assert "  bob (owner): online" in [text for _, text in controller.state.page.lines]
    finally:
        await controller.stop()


async def test_reading_the_open_group_is_reported_to_the_node() -> None:
    backend = GroupBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group create club")
        assert controller.state.selected == GROUP
        event = message(GROUP, "g1", "hi", author_name="carol") | {"group": "club"}
        backend.streams[0].queue.put_nowait(event)
        await until(lambda: ("read", (GROUP, "g1")) in backend.calls, 10,
                    "the open group marked read")
    finally:
        await controller.stop()


def test_a_group_row_is_marked_apart_and_shows_the_nodes_unread_count() -> None:
    from p2pchat.tui.render import header, row_mark

    state = loaded_state()
    state.apply({"type": "group_joined", **group(online=0), "by": BOB, "by_name": "bob"})
    conv = state.conversations[GROUP]
    assert row_mark(conv) == ("#", "class:offline")
    state.upsert_group(group(online=2))
    assert row_mark(conv) == ("#", "class:online")
    state.apply(message(GROUP, "m1", "hi", author_name="carol") | {"group": "club"})
    assert conv.unread == 1  # counted as it arrives
    state.set_unread({GROUP: 4})  # the node's count, kept across restarts, as for a contact
    assert conv.unread == 4
    state.select(GROUP)
    assert header(state) == " club · group · 3 members"
    state.upsert_group(group(role="left"))
    assert header(state) == " club · group (you left)"


async def test_members_of_one_name_are_told_apart_by_their_short_fingerprint() -> None:
    """Trial 6, B5: "bob (you)" and "~bob" with nothing to tell them apart."""
    backend = GroupBackend()
    controller = Controller(backend)
    await controller.start()
    me = controller.state.me.name

    async def members(group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": "SELFFPX-AAAA", "name": me, "you": True, "online": True},
                {"fingerprint": "N6PYCKC-BBBB", "name": me.upper(), "contact": False,
                 "online": True},
                {"fingerprint": BOB, "name": "carol", "online": False}]

    backend.group_members = members  # type: ignore[method-assign]
    try:
        await controller.execute("/group create club")
        await controller.execute("/group members")
        assert controller.state.page is not None
        lines = [text for _, text in controller.state.page.lines]
        assert f"  {me} (you): online" in lines
        assert f"  ~{me.upper()} (N6PYCKC): online" in lines
        assert "  carol: offline" in lines
    finally:
        await controller.stop()


def test_tab_after_group_invite_offers_only_contacts_not_in_the_group() -> None:
    """Trial 6, B16: `/group invite ` + Tab offered bob, already a member."""
    from p2pchat.tui.completing import completions
    from tests.tui.test_state import CAROL, ME

    state = loaded_state()
    state.apply({"type": "group_joined", **group(), "by": BOB, "by_name": "bob",
                 "member_fingerprints": [BOB, ME]})
    state.select(GROUP)
    assert completions(state, "/group invite ") == [("carol ", 0)]
    state.apply({"type": "group_changed", **group(), "change": "add", "member": CAROL,
                 "member_name": "carol", "you": False, "number": 4,
                 "member_fingerprints": [BOB, CAROL, ME]})
    assert completions(state, "/group invite ") == []


def test_our_own_invitation_told_by_the_node_is_a_line_not_a_third_notice() -> None:
    """Trial 10, B9: after accepting, "alice invited you (hikers)" and "you joined hikers:
    opened it" were two notices for one accept; the invitation had its own notice before."""
    state = loaded_state()
    state.apply({"type": "group_changed", **group(), "change": "add", "you": True,
                 "member_name": "you", "text": "bob invited you", "number": 4})
    assert not [n for n in state.notices if "invited you" in n.text]
    assert state.conversations[GROUP].find("change-4") is not None  # the line is there
    state.apply({"type": "group_changed", **group(), "change": "add", "member": CAROL,
                 "member_name": "carol", "text": "bob invited carol", "number": 5})
    assert [n.text for n in state.notices if "invited" in n.text] == ["bob invited carol (club)"]
