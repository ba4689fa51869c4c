"""notes/s35/trial13b.md on the chat screen, point 18 (stale notices): the removal's notices
stayed after /add of the same contact (B4); "added carol; ... so you are linked" stayed beside
"offline" (B9); `p2pchat contacts unblock` of a request left the open screen silent (B10)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_screen_trial5 import ImpostorBackend
from tests.tui.test_screen_trial7_add import MutualBackend
from tests.tui.test_screen_trial12 import IMPOSTOR, warnings
from tests.tui.test_screen_trial13_notices import AddRemoveBackend, link_up
from tests.tui.test_state import CAROL, DAVE, contact

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("how", ["/add", "cli"])
async def test_a_contact_again_takes_the_removal_notices(how: str) -> None:
    """B4: `/remove Gus M`, then `/add Gus M` (or the CLI's add): "removed Gus M; the history is
    kept ... They can ask again: /block ..." stayed 2 minutes."""
    backend = AddRemoveBackend()
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute(f"/add {DAVE} dave")
        await chat.execute("/remove dave")
        assert "removed dave; the history is kept" in notices(chat), notices(chat)
        assert "They can ask again" in notices(chat), notices(chat)
        if how == "/add":
            await chat.execute("/add dave")
        else:  # `p2pchat contacts add` while the screen is open
            backend.contact_list = [*backend.contact_list, contact(DAVE, "dave")]
            await chat._on_event({"type": "contacts_changed"})
        assert chat.state.conversations[DAVE].state == "contact"
        assert "removed dave" not in notices(chat), notices(chat)
        assert "They can ask again" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


def link_down(fingerprint: str) -> dict[str, Any]:
    return {"type": "link_down", "fingerprint": fingerprint, "name": "carol", "online": False}


@pytest.mark.parametrize("online", [True, False])
async def test_linked_goes_when_the_link_does(online: bool) -> None:
    """B9: "added carol; they had added you too, so you are linked: you can chat" stayed a
    minute on the row after carol quit and showed offline; said at /add (linked then) or when
    the link came up after it."""
    chat = Controller(MutualBackend(online=online))
    await chat.start()
    try:
        await chat.execute(f"/add {CAROL} carol")
        if not online:
            chat.state.apply(link_up(CAROL, "carol"))
        assert "so you are linked: you can chat" in notices(chat), notices(chat)
        chat.state.apply({**link_down(CAROL), "online": True})  # replaced: still linked
        assert "so you are linked" in notices(chat), notices(chat)
        chat.state.apply(link_down(CAROL))
        assert not chat.state.conversations[CAROL].online
        assert "so you are linked" not in notices(chat), notices(chat)
        # Trial 14a, B12: still the answer, true again when a link is (a flap erased it)
        assert "so you can chat (the link comes up when they are online)" in notices(chat)
        chat.state.apply(link_up(CAROL, "carol"))
        assert "so you are linked: you can chat" in notices(chat), notices(chat)
    finally:
        await chat.stop()


class CliUnblock(ImpostorBackend):
    """The impostor's request, blocked here, then unblocked from the CLI."""

    async def block(self, who: str) -> dict[str, Any]:
        self.set_impostor("blocked")
        return contact(CAROL, IMPOSTOR, state="blocked")

    def set_impostor(self, state: str) -> None:
        self.contact_list[1] = {**self.contact_list[1], "state": state}


async def test_a_cli_unblock_brings_the_new_key_warning_back_once() -> None:
    """B10: `p2pchat contacts unblock 'bob (LA5DK2U)'` with the chat open: the list went back
    to `!`, but no notice and no WARNING (the chat's /unblock says both)."""
    backend = CliUnblock()
    chat = Controller(backend)
    chat.ask = None  # blocked at once
    await chat.start()
    try:
        assert len(warnings(chat)) == 1, notices(chat)
        await chat.execute(f"/block {IMPOSTOR}")
        assert not warnings(chat), notices(chat)
        backend.set_impostor("request")  # the CLI's unblock
        await chat._on_event({"type": "contacts_changed"})
        assert chat.state.conversations[CAROL].state == "request"
        assert len(warnings(chat)) == 1, notices(chat)
        await chat._on_event({"type": "contacts_changed"})  # read again: not said twice
        assert len(warnings(chat)) == 1, notices(chat)
        chat.state.clear_notices()  # Esc keeps it (13c, B16); a re-read adds no second
        await chat._on_event({"type": "contacts_changed"})
        assert len(warnings(chat)) == 1, notices(chat)
    finally:
        await chat.stop()


class PlainCliUnblock(FakeBackend):
    """dave's request, blocked here, then unblocked from the CLI."""

    def set_dave(self, state: str) -> dict[str, Any]:
        dave = contact(DAVE, "dave", state=state)
        self.contact_list = [c for c in self.contact_list if c["fingerprint"] != DAVE] + [dave]
        return dave

    async def block(self, who: str) -> dict[str, Any]:
        return self.set_dave("blocked")


async def test_a_cli_unblock_of_a_request_says_the_request() -> None:
    backend = PlainCliUnblock()
    backend.set_dave("request")
    chat = Controller(backend)
    chat.ask = None
    await chat.start()
    try:
        await chat.execute("/block dave")
        assert "asks to connect (/accept dave," not in notices(chat), notices(chat)
        backend.set_dave("request")
        await chat._on_event({"type": "contacts_changed"})
        assert notices(chat).count("asks to connect (/accept dave,") == 1, notices(chat)
    finally:
        await chat.stop()
