"""What a newcomer's trial of the chat screen hit (issue 23, notes/s31/trial1.md), without a
node: the view-model, the controller over the scripted backend of test_controller, and keys on
prompt_toolkit's pipe input."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from p2pchat.tui.render import row_mark
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_group_consent_ui import ConsentBackend, invited
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_screen import ENTER, running
from tests.tui.test_state import BOB, CAROL, DAVE, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)


def requests_said(texts: list[str]) -> list[str]:
    return [t for t in texts if "asks to connect" in t]


def test_a_request_notice_goes_once_the_request_is_answered_by_any_route() -> None:
    """18: "dave asks to connect (/accept dave...)" stayed after dave was accepted (here or
    from the CLI: the contacts re-read) or blocked."""
    state = loaded_state()
    request = {"type": "contact_request", "fingerprint": DAVE, "name": "dave", "note": ""}
    state.apply(request)
    assert requests_said([n.text for n in state.notices])
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol"), contact(DAVE, "dave")])
    assert requests_said([n.text for n in state.notices]) == []
    state.forget(DAVE)
    state.apply(request)  # asks again, then is blocked
    state.upsert_contact(contact(DAVE, "dave", state="blocked"))
    assert requests_said([n.text for n in state.notices]) == []


async def test_an_open_contacts_page_follows_the_node() -> None:
    """18: /names showed carol "online" after /block and "offline [blocked]" after
    /unblock: the page was drawn once."""
    backend = FakeBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/contacts")
        page = controller.state.page
        assert page is not None and "[request]" in " ".join(t for _, t in page.lines)
        backend.contact_list = [contact(BOB, "bob", online=True),
                                contact(CAROL, "carol", state="blocked")]
        backend.streams[-1].queue.put_nowait({"type": "contacts_changed",
                                              "fingerprint": CAROL})

        def shown() -> str:
            page = controller.state.page
            return " ".join(t for _, t in page.lines) if page is not None else ""
        await until(lambda: "[blocked]" in shown(), 5, "the page redrawn")
        assert "online" in shown().split("bob")[1].split("carol")[0]
    finally:
        await controller.stop()


async def test_a_request_accepted_elsewhere_loads_its_history() -> None:
    """B11: "No messages with alice yet (loading)." stayed: the request became a contact
    (accepted from the CLI) while open, and nothing read its history."""
    backend = FakeBackend()  # carol asks
    controller = Controller(backend)
    await controller.start()
    try:
        conv = controller.state.conversations[CAROL]
        await controller.switch_to(conv)  # opened while a request: its kept log only
        assert conv.state == "request"
        backend.calls.clear()
        backend.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol")]
        backend.streams[-1].queue.put_nowait({"type": "contacts_changed",
                                              "fingerprint": CAROL})
        await until(lambda: conv.loaded and ("history", CAROL) in backend.calls, 5,
                    "carol's history read")
        assert conv.state == "contact"
    finally:
        await controller.stop()


async def test_group_accept_alone_takes_the_only_invitation() -> None:
    """B10: with one invitation and no group open, /group accept needed its name."""
    backend = ConsentBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        controller.state.apply(invited())
        assert controller.state.current is not None and controller.state.current.kind == "dm"
        await controller.execute("/group accept")
        assert ("accept", GROUP) in backend.calls
        assert "you joined club (your only pending invitation): opened it" \
            in notices(controller)
        assert controller.state.selected == GROUP  # opened (trial 5, B2)
        controller.state.select(BOB)
        await controller.execute("/group decline")  # never guessed: it cannot be undone
        assert "/group decline NAME" in notices(controller)
    finally:
        await controller.stop()


def test_a_removed_contacts_old_group_lines_read_as_new_ones() -> None:
    """B9: carol's old group lines said "carol:", the new ones "~carol:"."""
    state = loaded_state()
    state.upsert_group(group())
    state.apply(message(GROUP, "g1", "hi all", author_name="carol") | {
        "group": "club", "author": CAROL})
    state.forget(CAROL)  # removed (or blocked)
    state.apply(message(GROUP, "g2", "still here", author_name="carol") | {
        "group": "club", "author": CAROL, "author_contact": False})
    names = [m.author_name for m in state.conversations[GROUP].messages]
    assert names == ["~carol", "~carol"]
    state.upsert_contact(contact(CAROL, "carol"))  # a contact again: no mark
    assert [m.author_name for m in state.conversations[GROUP].messages] == ["carol", "carol"]


async def test_a_rename_names_the_old_name() -> None:
    """B9: "QPCZLVT is now called Bob B" said the fingerprint, not who it was."""
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        await controller.execute("/rename bob Bob B")
        assert f"bob ({BOB[:7]}) is now called Bob B" in notices(controller)
    finally:
        await controller.stop()


def test_an_impostors_request_is_marked_in_the_list() -> None:
    """B15: "? Bob B (HVE2FUY)" looked like any request."""
    state = loaded_state()
    state.upsert_contact(contact(BOB, "bob") | {"verified": True})
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": "bob (DAVEXXX)",
                 "note": "", "same_name_as": BOB, "same_name_verified": True})
    assert row_mark(state.conversations[DAVE])[0] == "!"
    state.apply({"type": "contact_request", "fingerprint": CAROL, "name": "carol"})
    assert row_mark(state.conversations[CAROL])[0] == "?"


async def test_the_contacts_page_shows_who_is_verified() -> None:
    """B15: the Contacts page never said who was verified."""
    backend = FakeBackend()
    backend.contact_list = [contact(BOB, "bob") | {"verified": True}, contact(CAROL, "carol")]
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/contacts")
        page = controller.state.page
        assert page is not None
        lines = {t.split()[0]: t for _, t in page.lines}
        assert "(verified)" in lines["bob"] and "(verified)" not in lines["carol"]
    finally:
        await controller.stop()


async def test_the_search_header_counts_matches_then_what_was_searched() -> None:
    """25: "1 found for 'hello' in 3 conversations" read oddly."""
    class Talk(FakeBackend):
        async def history(self, who: str, limit: int | None = None,
                          **options: Any) -> list[dict[str, Any]]:
            return [message(BOB, "b1", "hello there")] if who == BOB else []

    controller = Controller(Talk())
    await controller.start()
    try:
        await controller.execute("/search hello")
        page = controller.state.page
        assert page is not None and page.title == "1 match for 'hello' (searched 1 conversation)"
        await controller.execute("/search nothing")
        page = controller.state.page
        assert page is not None and page.title.startswith("no matches for 'nothing'")
    finally:
        await controller.stop()


async def test_quit_names_the_conversation_whose_draft_would_be_lost() -> None:
    """B13: /quit asked about "unsent text" typed in another conversation without saying
    which; refusing said the question again, which read as a second question."""
    backend = FakeBackend()
    backend.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol")]
    async with running(backend) as (chat, keys):
        keys.send_text("for carol, later")
        await until(lambda: chat.input.text == "for carol, later", 10, "the draft")
        chat.controller.select(CAROL if chat.state.selected == BOB else BOB)
        other = chat.state.current
        assert other is not None
        await until(lambda: chat.input.text == "", 10, "the other conversation's input")
        keys.send_text(f"/quit{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        named = "carol" if other.name == "bob" else "bob"
        assert chat.confirm is not None
        assert f"You have unsent text for {named}." in chat.confirm[0], chat.confirm[0]
        keys.send_text("\x03")  # Ctrl-C again: not an answer
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        said = [n.text for n in chat.state.notices][-1]
        assert "not quitting" in said and "?" not in said


async def test_a_pending_invitation_never_stops_the_first_load() -> None:
    """B11, the cause seen in tmux: the load asked for the invited group's log, which does
    not exist yet; the error ended the load before the open conversation was read."""
    from p2pchat.tui.backend import BackendError

    class Invited(ConsentBackend):
        async def history(self, who: str, limit: int | None = None,
                          **options: Any) -> list[dict[str, Any]]:
            if who == GROUP:
                raise BackendError("unknown_contact", f"no contact named {who!r}")
            return await super().history(who, limit, **options)

    backend = Invited()
    backend.group_list = [group(role="invited")]
    controller = Controller(backend)
    await controller.start()
    try:
        current = controller.state.current
        assert current is not None and current.id == BOB and current.loaded
        assert "no contact named" not in notices(controller)
    finally:
        await controller.stop()
