"""Issue 22 on the chat screen: pending invitations in the list, /group accept|decline|forget,
an equivocation said in words, and a group titled like a contact never taking /msg."""

from __future__ import annotations

from typing import Any

from p2pchat.tui.controller import Controller
from p2pchat.tui.render import row_mark
from tests.aio import until
from tests.tui.test_controller import notices
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_state import BOB, contact, loaded_state


class ConsentBackend(GroupBackend):
    async def group_consent(self, action: str, group_id: str) -> dict[str, Any]:
        self.calls.append((action, group_id))
        return group(role="member" if action == "accept" else action)


def invited() -> dict[str, Any]:
    return {"type": "group_invited", **group(role="invited"), "invited_by": BOB,
            "invited_by_name": "bob"}


def test_a_pending_invitation_is_in_the_list_with_how_to_answer() -> None:
    state = loaded_state()
    state.apply(invited())
    assert state.conversations[GROUP].state == "invited"
    assert "/group accept club" in state.notices[-1].text
    assert row_mark(state.conversations[GROUP])[0] == "?"  # a request, like a contact's
    state.apply({"type": "group_invitation_closed", "group": GROUP, "title": "club",
                 "reason": "expired"})
    assert GROUP not in state.conversations


def test_an_equivocation_is_a_warning_naming_the_author() -> None:
    state = loaded_state()
    state.apply({"type": "equivocation", "title": "club", "author_name": "mallory",
                 "text": "mallory sent different members different versions of the same"
                         " message (#2)"})
    assert state.notices[-1].kind == "warning"
    assert "mallory sent different members" in state.notices[-1].text


async def test_group_accept_and_decline_by_name_or_the_open_one() -> None:
    backend = ConsentBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        controller.state.apply(invited())
        await controller.execute("/group accept club")
        assert ("accept", GROUP) in backend.calls
        assert controller.state.conversations[GROUP].state == "member"
        controller.state.apply(invited())
        controller.state.select(GROUP)
        await controller.execute("/group decline")
        assert ("decline", GROUP) in backend.calls
        assert GROUP not in controller.state.conversations
    finally:
        await controller.stop()


async def test_group_forget_asks_first() -> None:
    backend = ConsentBackend()
    controller = Controller(backend)
    asked: list[tuple[str, Any]] = []
    controller.ask = lambda question, yes: asked.append((question, yes))
    await controller.start()
    try:
        controller.state.upsert_group(group(role="left"))
        await controller.execute("/group forget club")
        assert asked and "Forget club" in asked[0][0]
        assert ("forget", GROUP) not in backend.calls  # not before the yes
        asked[0][1]()  # yes: it runs as a task
        await until(lambda: ("forget", GROUP) in backend.calls, 5, "the forget")
        await until(lambda: GROUP not in controller.state.conversations, 5, "gone")
    finally:
        await controller.stop()


async def test_msg_to_a_name_that_is_a_contact_and_a_group_says_how_to_pick() -> None:
    backend = ConsentBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        controller.state.upsert_contact(contact(BOB, "club"))
        controller.state.upsert_group(group("club"))
        await controller.execute("/msg club hello")
        assert "#club" in notices(controller) and "@club" in notices(controller)
        assert not any(call[0] == "send" for call in backend.calls)
        await controller.execute("/msg #club hello")
        assert ("send", (GROUP, "hello")) in backend.calls
    finally:
        await controller.stop()


async def test_an_equivocation_line_in_the_log_is_never_marked_read() -> None:
    backend = ConsentBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group create club")
        notice = {"type": "message", "notice": "equivocation", "id": "equivocation-ab-2",
                  "conversation": GROUP, "author": BOB, "author_name": "warning",
                  "own": False, "sent_at": "2026-01-01T10:00:00.000+00:00", "text": "x",
                  "group": "club"}
        backend.streams[0].queue.put_nowait(notice)
        await until(lambda: controller.state.conversations[GROUP].find("equivocation-ab-2"),
                    5, "the line shown")
        await controller.execute("/group members")
        assert not any(call[0] == "read" and call[1][1].startswith("equivocation")
                       for call in backend.calls)
    finally:
        await controller.stop()


def test_declining_an_invitation_to_a_group_you_were_removed_from_keeps_it() -> None:
    """Trial 13b, B2: the kept group (removed, history readable) stays as it was, live."""
    state = loaded_state()
    state.upsert_group(group(role="removed"))
    state.apply(invited())
    assert state.conversations[GROUP].state == "invited"
    refresh = state.apply({"type": "group_invitation_closed", "group": GROUP, "title": "club",
                           "reason": "declined"})  # the CLI's decline
    assert state.conversations[GROUP].state == "removed"
    assert "groups" in refresh  # re-read: the node's kept view
    state.apply({"type": "group_forgotten", "group": GROUP})
    assert GROUP not in state.conversations


async def test_group_decline_in_the_chat_leaves_a_kept_group_removed() -> None:
    backend = ConsentBackend()
    backend.group_list = [group(role="removed")]
    controller = Controller(backend)
    await controller.start()
    try:
        assert controller.state.conversations[GROUP].state == "removed"
        controller.state.apply(invited())
        await controller.execute("/group decline club")
        assert ("decline", GROUP) in backend.calls
        assert controller.state.conversations[GROUP].state == "removed"
        # the node's event after the command's answer: still there
        controller.state.apply({"type": "group_invitation_closed", "group": GROUP,
                                "title": "club", "reason": "declined"})
        assert controller.state.conversations[GROUP].state == "removed"
    finally:
        await controller.stop()


async def test_the_groups_page_claims_no_presence_in_a_group_you_were_removed_from() -> None:
    """Trial 13b, B13: "club  3 members, you are removed", no "1 other online"."""
    backend = ConsentBackend()
    backend.group_list = [group(role="removed", online=1)]
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group list")
        page = controller.state.page
        assert page is not None
        text = "\n".join(line for _, line in page.lines)
        assert "you are removed" in text and "online" not in text
    finally:
        await controller.stop()


def test_changes_learned_just_after_you_joined_are_lines_not_news() -> None:
    """Trial 13b, B8: the chain catching up after an accept ("carol invited ~dave", "~dave
    joined": both before you joined) went on the row as news; a change later is news."""
    state = loaded_state()
    now = [100.0]
    state.clock = lambda: now[0]
    state.apply({"type": "group_joined", **group(), "by": BOB, "by_name": "carol",
                 "number": 2})
    dave = "D" * 52
    state.apply({"type": "group_changed", **group(), "change": "add", "member": dave,
                 "member_name": "dave", "you": False, "number": 3,
                 "text": "carol invited ~dave"})
    assert not any("dave" in n.text for n in state.notices)
    assert state.conversations[GROUP].find("change-3") is not None  # the line is there
    erin = "E" * 52
    state.apply({"type": "group_changed", **group(), "change": "remove", "member": erin,
                 "member_name": "erin", "you": False, "number": 4,
                 "text": "~erin was removed by carol"})
    assert any("erin" in n.text for n in state.notices)  # a removal is news still
    now[0] += 120
    state.apply({"type": "group_changed", **group(), "change": "leave", "member": dave,
                 "member_name": "dave", "you": False, "number": 5, "text": "~dave left"})
    assert any("~dave left" in n.text for n in state.notices)
