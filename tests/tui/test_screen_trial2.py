"""What a newcomer's second trial of the chat screen hit (issue 23, notes/s31/trial2.md),
without a node: the view-model, the controller over the scripted backend of test_controller,
and keys on prompt_toolkit's pipe input."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

import pytest

from p2pchat.tui.controller import SUPERSEDED_AFTER, Controller
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_screen import ENTER, running, text, with_history
from tests.tui.test_state import BOB, CAROL, DAVE, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)


async def test_a_question_that_comes_while_text_is_typed_is_not_put() -> None:
    """B3: a "y" typed after the command, before its question showed, must not answer it."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text("y")
        await until(lambda: chat.input.text == "y", 10, "the typed y")
        said: list[str] = []
        chat.ask("Block bob? y/n", lambda: said.append("yes"))
        assert chat.confirm is None and said == []
        assert "not asked, so nothing done: Block bob?" in chat.state.notices[-1].text
        keys.send_text(ENTER)
        await until(lambda: chat.input.text == "", 10, "the y sent as typed")
        assert said == [] and BOB in chat.state.conversations


async def test_lines_typed_after_an_asking_command_wait_for_the_answer() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/block bob{ENTER}/help{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert chat.state.page is None  # /help waits
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.state.page is not None, 10, "/help after the answer")
        assert BOB in chat.state.conversations


def test_a_long_notice_shows_from_its_start_and_ends_in_an_ellipsis() -> None:
    """18, B9: the row showed the tail of long notices ("  asked again", "  undoes it")."""
    chat = with_history(0)
    chat.state.notice("info", "removed alice; the history is kept: /log alice shows it\n"
                              "They can ask again: /block alice refuses them for good, and"
                              " /unblock alice undoes it, whenever you like, at any time")
    rows = text(chat._notice_rows(30, 3))
    assert len(rows) == 3, rows
    assert rows[0].startswith("removed alice;") and rows[-1].endswith("…"), rows
    chat.state.notice("error", "no conversation named 'bob'")
    rows = text(chat._notice_rows(30, 3))
    assert rows[-1] == "no conversation named 'bob'" and rows[0].startswith("removed"), rows


def test_notices_about_something_done_go_when_it_is_done() -> None:
    """18: "/rename bob Bobby to call them that too" stayed after the rename; the NEW KEY
    warning stayed after the key was blocked; "… club … refused" stayed above "admitted"."""
    state = loaded_state()
    state.apply({"type": "peer_renamed", "fingerprint": BOB, "name": "bob",
                 "their_name": "Bobby"})
    assert any("to call them that too" in n.text for n in state.notices)
    state.upsert_contact(contact(BOB, "Bobby"))
    assert not any("to call them that too" in n.text for n in state.notices)

    state.upsert_contact({**contact(BOB, "Bobby"), "verified": True})
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": "Bobby",
                 "note": "", "same_name_as": BOB, "same_name_verified": True})
    assert any("NEW KEY" in n.text for n in state.notices)
    state.upsert_contact(contact(DAVE, "Bobby", state="blocked"))
    assert not any("NEW KEY" in n.text or "asks to connect" in n.text for n in state.notices)

    state.networks_waiting = ["club"]
    state.notice("error", "network club: the nodes asked refused your passphrase")
    state.apply({"type": "networks_changed", "networks": ["club"], "waiting": []})
    assert [n.text for n in state.notices if "club" in n.text] == ["admitted to club"]


async def test_a_commands_information_goes_once_superseded_a_while_later() -> None:
    """18: /id's output stayed in the notice row for over 3 minutes."""
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        await controller.execute("/id")
        assert any("your fingerprint" in n.text for n in controller.state.notices)
        controller.state.notices = deque(  # said a while ago
            replace(n, at=n.at - SUPERSEDED_AFTER - 1) for n in controller.state.notices)
        await controller.execute("/help")
        assert not any("your fingerprint" in n.text for n in controller.state.notices)
    finally:
        await controller.stop()


class LeavingBackend(GroupBackend):
    """The node's log has a "you left" line once the group is left, as `log` shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.left = False

    async def create_group(self, title: str) -> dict[str, Any]:
        # The owner alone: an owner with others in it is refused leaving (trial 8, B8).
        return {**await super().create_group(title), "members": 1}

    async def leave_group(self, group_id: str) -> dict[str, Any]:
        self.left = True
        return group(role="left")

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        if who == GROUP and self.left and changes:
            return [{"type": "message", "notice": "membership", "id": "change-4",
                     "text": "you left", "sent_at": "2026-12-06T08:00:00.000+00:00",
                     "conversation": GROUP}]
        return []


async def test_your_own_leave_shows_in_the_open_group_at_once() -> None:
    """7: bob's "you left" line appeared in his open chat only after a restart."""
    backend = LeavingBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group create club")
        await controller.execute("/group leave")
        conv = controller.state.conversations[GROUP]
        assert [m.text for m in conv.messages if m.system] == ["you left"]
    finally:
        await controller.stop()


class KeptBackend(FakeBackend):
    """The node keeps bob's history after /remove, as `p2pchat log FP` shows it."""

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        if who != BOB:
            return []
        return [message(BOB, "k1", "the waves were high", author_name="bob")]


async def test_a_removed_contacts_kept_history_is_reachable_from_the_chat() -> None:
    """27: after /remove, `/msg FINGERPRINT` said "no conversation named…" and /search
    did not cover the kept history."""
    controller = Controller(KeptBackend())
    await controller.start()
    try:
        await controller.execute("/remove bob")
        # In its place, read-only, until the screen starts again (trial 4, 9).
        assert controller.state.conversations[BOB].state == "removed"
        assert "/msg bob shows it" in notices(controller)
        for typed in ("bob", "@bob", BOB, BOB.replace("-", " ").lower()):
            controller.state.selected = None
            await controller.execute(f"/msg {typed}")
            assert controller.state.selected == BOB, typed
        await controller.execute("/search waves")
        page = controller.state.page
        assert page is not None and page.title.startswith("1 match for 'waves'"), page.title
        assert any("[bob, removed]" in line and "waves" in line for _, line in page.lines)
        assert [c for c, _ in controller.backend.calls if c == "send"] == []
    finally:
        await controller.stop()
    restarted = KeptBackend()  # the next start: the node lists no bob any more
    restarted.contact_list = []
    controller = Controller(restarted)
    await controller.start()
    try:
        for typed in (BOB, BOB.replace("-", " ").lower()):
            controller.state.page = None
            await controller.execute(f"/msg {typed}")
            page = controller.state.page
            assert page is not None and page.title.startswith("History with bob"), typed
            assert any("the waves were high" in line for _, line in page.lines)
    finally:
        await controller.stop()


class NearbyBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.nearby: list[dict[str, Any]] = []

    async def peers(self) -> dict[str, Any]:
        return {"links": [], "nearby": list(self.nearby), "requests": []}


async def test_the_first_nearby_says_it_is_still_looking_and_follows_the_node() -> None:
    """B16: the first /nearby, 3 s after the start, showed nothing at all."""
    backend = NearbyBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/nearby")
        page = controller.state.page
        assert page is not None and page.title == "Nearby"
        assert page.lines[0][1].startswith("Nobody nearby yet (still looking…)")
        backend.nearby = [{"name": "carol", "fingerprint": CAROL, "contact": False}]
        backend.streams[0].queue.put_nowait({"type": "nearby_changed"})
        await until(lambda: controller.state.page is not None and any(
            "carol" in line for _, line in controller.state.page.lines), 10, "carol heard")
    finally:
        await controller.stop()


class ActiveCarolBackend(FakeBackend):
    """bob comes first by name, carol by activity (the top of the list)."""

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        return [message(CAROL, "c1", "newest")] if who == CAROL else []

    async def unread(self) -> dict[str, int]:
        return {BOB: 2}


async def test_the_chat_opens_on_the_top_of_the_list_and_keeps_unread_counts() -> None:
    """B18: after a restart the chat opened on "Bob Builder", not the top of the list."""
    backend = ActiveCarolBackend()
    backend.contact_list = [contact(BOB, "Bob Builder"), contact(CAROL, "carol")]
    controller = Controller(backend)
    await controller.start()
    try:
        assert controller.state.order()[0].name == "carol"
        assert controller.state.selected == CAROL
        assert controller.state.conversations[BOB].unread == 2
    finally:
        await controller.stop()


async def test_esc_closes_a_page_then_clears_the_notices() -> None:
    """B9: Esc with no page open clears the notices (with a page open it closes the page)."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/id{ENTER}")
        await until(lambda: any("fingerprint" in n.text for n in chat.state.notices), 10,
                    "/id said")
        keys.send_text(f"/help{ENTER}")
        await until(lambda: chat.state.page is not None, 10, "the help page")
        keys.send_text("\x1b")
        await until(lambda: chat.state.page is None, 10, "the page closed")
        assert chat.state.notices
        keys.send_text("\x1b")
        await until(lambda: not chat.state.notices, 10, "the notices cleared")
