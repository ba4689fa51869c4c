"""The view-model applying event sequences, as the node would send them."""

from __future__ import annotations

from typing import Any

from p2pchat.core.identity import Identity
from p2pchat.tui.state import ChatState

ME = Identity.from_seed(b"m" * 32).fingerprint
BOB = Identity.from_seed(b"b" * 32).fingerprint
CAROL = Identity.from_seed(b"c" * 32).fingerprint
DAVE = Identity.from_seed(b"d" * 32).fingerprint


def contact(fp: str, name: str, state: str = "contact", online: bool = False) -> dict[str, Any]:
    return {"fingerprint": fp, "name": name, "state": state, "note": "", "addrs": [],
            "online": online}


def message(conv: str, mid: str, text: str, *, own: bool = False, status: str | None = None,
            at: str = "2026-01-01T10:00:00.000+00:00", author_name: str = "bob") -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message", "id": mid, "conversation": conv, "author": ME if own else conv,
        "author_name": "me" if own else author_name, "seq": 1, "text": text, "sent_at": at,
        "own": own,
    }
    if own:
        event["status"] = status
    return event


def loaded_state() -> ChatState:
    state = ChatState()
    state.set_status({"name": "me", "fingerprint": ME, "public_key": "00" * 32, "links": 0,
                      "mdns": False, "presence": "public"})
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol")])
    return state


def test_first_contact_is_selected_and_requests_come_first() -> None:
    state = loaded_state()
    assert state.current is not None and state.current.name == "bob"
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": "dave", "note": "hi"})
    assert [c.name for c in state.order()] == ["dave", "bob", "carol"]
    assert state.conversations[DAVE].state == "request"
    assert state.selected == BOB  # a request does not steal the selection
    notice = state.notices[-1]
    assert notice.kind == "request" and "/accept dave" in notice.text and "hi" in notice.text


def test_unread_counts_only_other_peoples_messages_elsewhere() -> None:
    state = loaded_state()  # bob selected
    state.apply(message(BOB, "b1", "in view"))
    state.apply(message(CAROL, "c1", "one", author_name="carol"))
    state.apply(message(CAROL, "c2", "two", author_name="carol"))
    state.apply(message(CAROL, "c3", "mine", own=True, status="sent"))
    assert state.conversations[BOB].unread == 0
    assert state.conversations[CAROL].unread == 2
    state.select_next(1)
    assert state.selected == CAROL and state.conversations[CAROL].unread == 0
    state.apply(message(BOB, "b2", "while away"))
    assert state.conversations[BOB].unread == 1
    state.select_next(1)  # wraps around to bob
    assert state.selected == BOB and state.conversations[BOB].unread == 0


def test_delivery_updates_own_message_status() -> None:
    state = loaded_state()
    state.apply(message(BOB, "m1", "hello", own=True, status="sent"))
    state.apply({"type": "delivery", "id": "m1", "status": "delivered", "fingerprint": BOB})
    assert state.conversations[BOB].messages[0].status == "delivered"


def test_status_only_moves_forward_whatever_the_order() -> None:
    state = loaded_state()
    # The delivery overtakes the message (e.g. the send's reply is applied after the event).
    state.apply({"type": "delivery", "id": "m1", "status": "delivered", "fingerprint": BOB})
    state.apply(message(BOB, "m1", "hello", own=True, status="queued"))
    messages = state.conversations[BOB].messages
    assert [(m.id, m.status) for m in messages] == [("m1", "delivered")]
    state.apply(message(BOB, "m1", "hello", own=True, status="sent"))  # a late reply
    assert [(m.id, m.status) for m in messages] == [("m1", "delivered")]
    state.apply(message(BOB, "m2", "again", own=True, status="queued"))
    state.apply(message(BOB, "m2", "again", own=True, status="sent"))
    assert messages[-1].status == "sent"


def test_history_merges_with_live_events_in_time_order() -> None:
    state = loaded_state()
    state.apply(message(BOB, "new", "live", at="2026-01-01T10:05:00.000+00:00"))
    state.load_history(BOB, [
        message(BOB, "old", "earlier", at="2026-01-01T09:00:00.000+00:00"),
        message(BOB, "new", "live", at="2026-01-01T10:05:00.000+00:00"),
    ])
    conv = state.conversations[BOB]
    assert conv.loaded and [m.id for m in conv.messages] == ["old", "new"]
    assert conv.unread == 0


def test_links_set_online_and_ask_for_the_status() -> None:
    state = loaded_state()
    assert state.apply({"type": "link_up", "fingerprint": BOB, "name": "bob", "contact": True,
                        "address": "127.0.0.1:1"}) == {"status"}
    assert state.conversations[BOB].online
    state.apply({"type": "link_down", "fingerprint": BOB, "name": "bob", "reason": "x"})
    assert not state.conversations[BOB].online


def test_message_from_an_unknown_conversation_asks_for_contacts() -> None:
    state = loaded_state()
    assert state.apply(message(DAVE, "d1", "hi", author_name="dave")) == {"contacts"}
    assert state.conversations[DAVE].name == "dave"
    assert state.conversations[DAVE].unread == 1


def test_key_mismatch_is_a_loud_notice() -> None:
    state = loaded_state()
    state.apply({"type": "key_mismatch", "address": "10.0.0.2:7331", "name": "bob",
                 "expected": BOB, "presented": DAVE})
    notice = state.notices[-1]
    assert notice.kind == "warning" and "bob" in notice.text and DAVE in notice.text


def test_storage_failing_and_healing_are_notices() -> None:
    state = loaded_state()
    state.apply({"type": "storage", "state": "failing",
                 "error": "database error: database or disk is full\x1b[2J"})
    failing = state.notices[-1]
    assert failing.kind == "warning" and "disk is full" in failing.text
    assert "\x1b" not in failing.text
    state.apply({"type": "storage", "state": "ok"})
    assert state.notices[-1].kind == "info" and "works again" in state.notices[-1].text


def test_blocking_keeps_the_place_and_forgetting_moves_the_selection() -> None:
    state = loaded_state()
    state.upsert_contact(contact(BOB, "bob", state="blocked"))  # marked (trial 3, 9)
    assert state.conversations[BOB].state == "blocked" and state.selected == BOB
    state.forget(BOB)
    assert state.selected == CAROL
    state.forget(CAROL)
    assert state.selected is None and state.current is None
    assert state.select_next(1) is None


def test_set_contacts_keeps_messages_and_drops_the_gone() -> None:
    state = loaded_state()
    state.apply(message(CAROL, "c1", "x", author_name="carol"))
    state.set_contacts([contact(CAROL, "caroline", online=True)])
    assert list(state.conversations) == [CAROL]
    conv = state.conversations[CAROL]
    assert (conv.name, conv.online, len(conv.messages)) == ("caroline", True, 1)
    assert state.selected == CAROL and conv.unread == 0  # bob went: carol is now in view


def test_find_by_name_or_fingerprint() -> None:
    state = loaded_state()
    assert state.find("BOB") is state.conversations[BOB]
    assert state.find(BOB.replace("-", "").lower()) is state.conversations[BOB]
    assert state.find(" carol ") is state.conversations[CAROL]
    assert state.find("nobody") is None


def test_everything_from_peers_is_sanitised() -> None:
    state = loaded_state()
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": "da\x1b[31mve\u202e",
                 "note": "\x07bell"})
    state.apply(message(BOB, "m1", "line one\r\nline\x1b]0;pwned\x07 two\tend\x00",
                        author_name="b\x9bob"))
    conv = state.conversations[BOB]
    assert conv.messages[0].text == "line one\nline\ufffd]0;pwned\ufffd two    end\ufffd"
    assert conv.messages[0].author_name == "b\ufffdob"
    assert state.conversations[DAVE].name == "da\ufffd[31mve\ufffd"
    for notice in state.notices:
        assert not any(ord(ch) < 32 or ch in "\x7f\u202e" for ch in notice.text)
