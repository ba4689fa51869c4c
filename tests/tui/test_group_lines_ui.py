"""A group's membership lines on the chat screen: the node's words live, the same lines (same
ids) when the history is read again, never twice; the header counts the invited apart
(issue 23)."""

from __future__ import annotations

from typing import Any

from p2pchat.tui import render
from tests.tui.test_state import BOB, loaded_state

GROUP = "cd" * 16


def group(**extra: Any) -> dict[str, Any]:
    return {"group": GROUP, "title": "hall", "role": "owner", "owner": BOB, "owner_name": "me",
            "members": 3, "invited": 1, "online": 1, "epoch": 3, "has_key": True, **extra}


def line(number: int, text: str, at: str, kind: str = "change") -> dict[str, Any]:
    return {"type": "message", "notice": "membership", "id": f"{kind}-{number}",
            "conversation": GROUP, "author": BOB, "author_name": "group", "own": False,
            "status": None, "sent_at": at, "group": "hall", "text": text}


def test_live_lines_are_the_nodes_and_the_history_does_not_double_them() -> None:
    state = loaded_state()
    state.apply({"type": "group_changed", **group(), "change": "add", "member": BOB,
                 "member_name": "bob", "you": False, "number": 2, "text": "you invited bob"})
    conv = state.conversations[GROUP]
    state.select(GROUP)
    assert render.header(state) == " hall · group · 2 members, 1 invited"
    state.apply({"type": "group_changed", **group(invited=0), "change": "join", "member": BOB,
                 "member_name": "bob", "you": False, "number": 2, "text": "bob joined"})
    assert render.header(state) == " hall · group · 3 members"
    assert [m.text for m in conv.messages] == ["you invited bob", "bob joined"]
    # Reopened: the node's log brings the same lines, by id; the older one goes first.
    state.load_history(GROUP, [
        line(1, "you started the group", "2026-01-01T09:00:00.000+00:00"),
        line(2, "you invited bob", "2026-01-01T10:00:00.000+00:00"),
        line(2, "bob joined", "2026-01-01T10:01:00.000+00:00", kind="join")])
    assert [m.text for m in conv.messages] == ["you started the group", "you invited bob",
                                               "bob joined"]
    assert all(m.system for m in conv.messages)
    assert not any("joined" in n.text and "invited" in n.text for n in state.notices)


def test_the_invitee_sees_the_lines_log_keeps() -> None:
    state = loaded_state()
    state.apply({"type": "group_joined", **group(role="member", invited=0), "by": BOB,
                 "by_name": "alice", "number": 4})
    conv = state.conversations[GROUP]
    assert [(m.id, m.text) for m in conv.messages] == [("change-4", "alice invited you"),
                                                       ("join-4", "you joined")]
    assert any("you joined hall (alice invited you" in n.text for n in state.notices)


def test_a_declined_invitation_is_not_someone_leaving() -> None:
    state = loaded_state()
    state.apply({"type": "group_changed", **group(), "change": "leave", "member": BOB,
                 "member_name": "carol", "you": False, "declined": True})
    texts = [m.text for m in state.conversations[GROUP].messages]
    assert texts == ["carol declined the invitation to hall"]


def test_a_join_seen_with_the_first_message_goes_just_before_it() -> None:
    from tests.tui.test_state import message

    state = loaded_state()
    state.upsert_group(group())
    state.apply(message(GROUP, "m1", "carol here", author_name="carol",
                        at="2026-01-01T10:00:00.000+00:00") | {"group": "hall"})
    state.apply({"type": "group_changed", **group(invited=0), "change": "join", "member": BOB,
                 "member_name": "carol", "you": False, "number": 3, "text": "carol joined",
                 "sent_at": "2026-01-01T09:59:59.999+00:00"})
    texts = [m.text for m in state.conversations[GROUP].messages]
    assert texts == ["carol joined", "carol here"]
