"""notes/s32/trial4.md on the chat screen's state: a rename said once (B6), a refused network
said refused (B22), an open page following the node (7), group lines under a contact's current
name (20), and how long event notices stay (18)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import age_notices, user_acted
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
        assert "not admitted: club" in said and "/network join club PASSPHRASE" in said
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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_event_notices_go_a_minute_after_the_user_acted_warnings_stay() -> None:
    state = loaded_state()
    state.clock = clock = Clock()
    state.apply({"type": "group_changed", **group(), "change": "remove", "member": BOB,
                 "member_name": "bob", "you": False, "text": "bob was removed"})
    state.apply({"type": "peer_renamed", "fingerprint": BOB, "name": "bob",
                 "their_name": "Robert"})
    state.notice("info", "note: this identity is stored without a passphrase")
    state.notice("warning", "cannot save to disk: disk full")
    state.apply({"type": "contact_request", "fingerprint": "D" * 56, "name": "dave"})
    clock.now += 100
    assert not age_notices(state)  # nobody at the screen: still there to be found
    user_acted(state)  # a line typed, a conversation switched to
    clock.now += 1
    assert age_notices(state)
    kinds = sorted(n.kind for n in state.notices)
    assert kinds == ["request", "warning"], [n.text for n in state.notices]
    # One said after the user acted stays its minute, then goes at their next act.
    state.notice("info", "you joined hike")
    clock.now += 59
    user_acted(state)
    assert not age_notices(state) and "you joined hike" in [n.text for n in state.notices]
    clock.now += 2
    assert age_notices(state) and "you joined hike" not in [n.text for n in state.notices]


def test_a_notice_about_something_still_going_on_stays() -> None:
    state = loaded_state()
    state.clock = clock = Clock()
    state.networks_waiting = ["club"]
    state.notice("info", "networks: none; waiting to be admitted: club", key="admission:club")
    state.notice("info", "added dave; they see a request until they add you too",
                 key=f"pending:{BOB}")
    clock.now += 600
    user_acted(state)
    clock.now += 1
    assert not age_notices(state) and len(state.notices) == 2
    state.networks_waiting = []  # admitted: "waiting" is no news any more
    assert age_notices(state) and len(state.notices) == 1


async def test_typing_a_line_ages_the_event_notices() -> None:
    controller, _ = await started()
    controller.state.clock = clock = Clock()
    try:
        controller.state.notice("info", "bob now calls themself 'Robert'", key=f"renamed:{BOB}")
        clock.now += 30
        await controller.execute("/help")
        assert "Robert" in notices(controller)  # seen, but news for a minute
        clock.now += 31
        assert age_notices(controller.state)  # what the controller does every few seconds
        assert "Robert" not in notices(controller)
    finally:
        await controller.stop()


def test_a_port_that_had_to_change_is_said_once() -> None:
    """Trial 4, 16: friends who typed the old address need to know; said once per start."""
    from p2pchat.tui.news import port_news

    state = loaded_state()
    port_news(state, {"port_changed_from": None})
    assert not [n for n in state.notices if "new port" in n.text]
    for _ in range(2):  # every status read repeats the field
        port_news(state, {"port_changed_from": 43477})
    said = [n.text for n in state.notices if "new port" in n.text]
    assert said == ["listening on a new port: 43477 (last time's) was taken; friends who typed"
                    " your address need the new one (/id shows it)"]


def test_a_join_notice_names_a_member_not_a_contact_with_a_tilde() -> None:
    """Trial 5, B9: "dave joined (climb)" for dave, no contact: the Members page says ~dave."""
    state = loaded_state()
    state.upsert_group({"group": "g1", "title": "climb", "role": "member"})
    base = {"type": "group_changed", "group": "g1", "title": "climb", "role": "member",
            "member": "DAVE", "member_name": "dave", "you": False}
    state.apply({**base, "change": "add", "number": 4, "text": "alice invited dave",
                 "member_contact": False, "by_name": "alice"})
    assert "alice invited ~dave (climb)" in [n.text for n in state.notices]
    state.apply({**base, "change": "join", "number": 5, "text": "dave joined",
                 "member_contact": False})
    said = [n.text for n in state.notices]  # one notice per member, the newest (trial 12, B7)
    assert "~dave joined (climb)" in said and "alice invited ~dave (climb)" not in said, said
    state.apply({**base, "change": "add", "number": 4, "text": "alice invited dave",
                 "member_contact": False, "by_name": "alice"})  # told again, late
    assert "alice invited ~dave (climb)" not in [n.text for n in state.notices]
    state.apply({**base, "change": "leave", "number": 6, "text": "dave left",
                 "member_contact": True})
    assert "dave left (climb)" in [n.text for n in state.notices]
