"""What a newcomer's third trial of the chat screen hit (issue 23, notes/s31/trial3.md),
without a node: the view-model and the controller over the scripted backend of
test_controller."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from p2pchat.core.identity import Identity
from p2pchat.node.networks import Networks
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import header, history_rows, row_mark
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_groups_ui import GROUP
from tests.tui.test_screen import text
from tests.tui.test_screen_trial2 import LeavingBackend
from tests.tui.test_state import BOB, CAROL, DAVE, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)


class AskingAgainBackend(FakeBackend):
    """carol, removed here, asks to connect again: the node kept the history with her."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(CAROL, "carol", state="request")]

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        self.calls.append(("history", who))
        return [message(CAROL, "k1", "no worries", author_name="carol")] if who == CAROL \
            else []

    async def accept(self, who: str) -> dict[str, Any]:
        self.contact_list = [contact(CAROL, "carol")]
        return contact(who, "carol")


async def test_a_removed_contact_who_asks_again_shows_the_kept_history() -> None:
    """27: `/msg carol` opened the "carol asks to connect" page without the kept messages,
    and once accepted, /search listed her message twice ([carol] and [carol, removed])."""
    controller = Controller(AskingAgainBackend())
    await controller.start()
    try:
        controller.kept.note_removed(CAROL, "carol")
        for typed in ("carol", CAROL):
            await controller.execute(f"/msg {typed}")
            assert controller.state.page is None
            rows = "\n".join(text(history_rows(controller.state, 100)))
            assert "carol asks to connect" in rows and "no worries" in rows, rows
        await controller.execute("/accept carol")
        await controller.execute("/search worries")
        page = controller.state.page
        assert page is not None and page.title.startswith("1 match"), page
        assert sum("no worries" in line for _, line in page.lines) == 1, page.lines
    finally:
        await controller.stop()


def test_a_namesake_s_request_says_its_tag_once_and_its_commands_in_full() -> None:
    """18: "bob (27J2TD2) (27J2TD2) asks to connect", cut with "…" before its commands."""
    state = loaded_state()
    state.upsert_contact({**contact(BOB, "bob"), "verified": True})
    name = f"bob ({DAVE[:7]})"  # as the node names a second "bob"
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": name,
                 "note": "", "same_name_as": BOB, "same_name_verified": True})
    said = [n.text for n in state.notices if n.key == f"request:{DAVE}"]
    assert said == [f"WARNING: {name} asks to connect: a NEW KEY, not the bob you VERIFIED."
                    f" /verify {name} first, /block {name} or /accept {name}"], said


def test_a_refused_passphrase_is_one_notice(caplog: pytest.LogCaptureFixture,
                                            tmp_path: Path) -> None:
    """18: the node's log line and the screen's event notice said the refusal twice; the
    chat screen skips log records marked as shown by their event (tui/main.py)."""
    networks = Networks(tmp_path, Identity.generate(), "me", on_change=lambda: None)
    with caplog.at_level(logging.WARNING, logger="p2pchat"):
        networks.refuse("club", "wrong")
    assert [getattr(r, "shown_as_event", False) for r in caplog.records] == [True]


def test_a_contact_blocked_elsewhere_keeps_its_number_and_its_notices_go() -> None:
    """9: blocking bob from the CLI took him off the list, carol moved from 2 to 1 and the
    open conversation switched; after unblock he came back as number 4. 18: the "blocked
    bob" notice stayed up after a CLI unblock."""
    state = loaded_state()
    state.fix_numbers()
    before = [c.id for c in state.order()]
    state.select(BOB)
    state.notice("info", "blocked bob: …", key=f"contact:{BOB}")
    state.set_contacts([contact(BOB, "bob", state="blocked"), contact(CAROL, "carol")])
    assert [c.id for c in state.order()] == before and state.selected == BOB
    assert state.conversations[BOB].state == "blocked"
    assert text(history_rows(state, 80)) != []  # still readable
    assert "blocked (/unblock bob)" in header(state)
    assert not any(n.key == f"contact:{BOB}" for n in state.notices)
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol")])
    assert [c.id for c in state.order()] == before
    assert state.conversations[BOB].state == "contact"
    # One blocked before this screen read its list is listed the same way, marked × (round 2,
    # 3: it was missing).
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol"),
                        contact(DAVE, "dave", state="blocked")])
    assert state.conversations[DAVE].state == "blocked" and state.selected == BOB
    assert row_mark(state.conversations[DAVE])[0] == "×"


async def test_a_message_to_a_blocked_contact_is_not_sent() -> None:
    backend = FakeBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/block bob")
        controller.state.select(BOB)
        await controller.execute("hello")
        assert not [call for call in backend.calls if call[0] == "send"]
        assert "bob is blocked: /unblock bob" in controller.state.notices[-1].text
    finally:
        await controller.stop()


async def test_group_leave_asks_first() -> None:
    """B3: /group leave left at once, where /group forget and /block ask y/n."""
    backend = LeavingBackend()
    controller = Controller(backend)
    asked: list[tuple[str, Any]] = []
    await controller.start()
    try:
        await controller.execute("/group create club")
        controller.ask = lambda question, yes: asked.append((question, yes))
        await controller.execute("/group leave")
        assert asked and "Leave club?" in asked[0][0] and not backend.left
        asked[0][1]()  # yes: it runs as a task
        await until(lambda: backend.left, 5, "the leave")
        await until(lambda: any(m.text == "you left" for m in
                                controller.state.conversations[GROUP].messages), 5, "its line")
    finally:
        await controller.stop()
