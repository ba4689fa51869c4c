"""notes/s36/trial14c.md B1 on the chat screen: a NEW KEY request that renames itself (mallory,
asking as "bob", then `/nick carol`) keeps its "!" and its WARNING, which names it as the list
does, so the commands it prints work as printed."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.cli.contact_warnings import lookalike_note
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import history_rows, row_mark
from p2pchat.tui.state import ChatState
from tests.tui.test_screen_trial5 import ImpostorBackend, said
from tests.tui.test_state import BOB, CAROL, DAVE, contact, loaded_state

pytestmark = pytest.mark.timeout(60)
BEFORE, AFTER = f"bob ({DAVE[:7]})", f"carol ({DAVE[:7]})"


def renamed(name: str = AFTER) -> dict[str, Any]:
    """The node's view of mallory's request once she calls herself carol: still bob's."""
    return {**contact(DAVE, name, state="request"), "same_name_as": BOB,
            "same_name_verified": True, "claimed_name": "bob"}


def warned() -> ChatState:
    state = loaded_state()
    state.upsert_contact({**contact(BOB, "bob"), "verified": True})
    state.upsert_contact(contact(CAROL, "carol"))
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": BEFORE,
                 "same_name_as": BOB, "same_name_verified": True})
    return state


def test_the_warning_follows_the_requests_new_name_and_the_mark_stays() -> None:
    state = warned()
    state.upsert_contact(renamed())
    assert row_mark(state.conversations[DAVE])[0] == "!"
    warning = [n.text for n in state.notices if n.text.startswith("WARNING")]
    assert len(warning) == 1, warning
    assert warning[0].startswith(f"WARNING: {AFTER} asks to connect: a NEW KEY, not the bob"
                                 " you VERIFIED."), warning
    assert f"/verify {AFTER} first, /block {AFTER} or /accept {AFTER}" in warning[0], warning
    assert BEFORE not in warning[0], warning


class Renamed(ImpostorBackend):
    """bob verified, carol a contact, and mallory's request now called "carol (DAVE7)"."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [{**contact(BOB, "bob"), "verified": True},
                             contact(CAROL, "carol"), renamed()]


async def test_the_warnings_own_verify_command_works_as_printed() -> None:
    controller = Controller(Renamed())
    await controller.start()
    try:
        warning = next(s for s in said(controller) if s.startswith("WARNING"))
        assert f"/verify {AFTER}" in warning, warning
        before = len(said(controller))
        await controller.execute(f"/verify {AFTER}")
        assert not any(s.startswith("usage") for s in said(controller)[before:]), \
            said(controller)
    finally:
        await controller.stop()


def page(state: ChatState, fp: str) -> str:
    state.select(fp)
    return " ".join("".join(f[1] for f in row) for row in history_rows(state, 100))


def test_the_request_page_says_whose_name_it_asked_under_whatever_it_is_called_now() -> None:
    """Rule 1 for a contact not verified: zed asked as "carol" (a contact), then "zed"."""
    state = loaded_state()
    state.upsert_contact(contact(CAROL, "carol"))
    state.upsert_contact({**contact(DAVE, "zed", state="request"), "same_name_as": CAROL,
                          "same_name_verified": False, "claimed_name": "carol"})
    assert row_mark(state.conversations[DAVE])[0] == "?"
    assert "Not your contact carol: another key, that asked under the name carol." \
        in page(state, DAVE)
    state = warned()
    state.upsert_contact(renamed())
    assert "WARNING: a NEW KEY under the name of bob, whom you VERIFIED." in page(state, DAVE)


def test_contacts_in_the_cli_notes_a_look_alike_of_a_contact_not_verified() -> None:
    request = {**contact(DAVE, "zed", state="request"), "same_name_as": CAROL,
               "same_name_verified": False}
    assert lookalike_note(request, [contact(CAROL, "carol"), request]).startswith(
        "note: not your contact carol: another key, that asked under their name")
    assert lookalike_note({**request, "same_name_verified": True}, [contact(CAROL, "c")]) == ""


async def test_nearby_and_contacts_say_whose_name_a_request_asked_under() -> None:
    """/nearby listed mallory, renamed carol, as "carol (AYWKDPS) (asks to connect)", and
    /contacts said nothing of bob either."""
    from tests.tui.test_screen_trial2 import NearbyBackend

    backend = NearbyBackend()
    backend.contact_list = [{**contact(BOB, "bob"), "verified": True},
                            contact(CAROL, "carol"), renamed()]
    backend.nearby = [{"fingerprint": DAVE, "name": "carol", "contact": False}]
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute("/nearby")
        page = chat.state.page
        assert page is not None
        assert any("(asks to connect) (not your contact bob: another key)" in line
                   for _, line in page.lines), page.lines
        await chat.execute("/contacts")
        assert chat.state.page is not None
        assert any(AFTER in line and "WARNING: a new key under the name of bob" in line
                   for _, line in chat.state.page.lines), chat.state.page.lines
    finally:
        await chat.stop()


def test_a_request_that_asked_under_your_own_name_says_so() -> None:
    state = loaded_state()  # "me"
    state.upsert_contact({**contact(DAVE, "zed", state="request"), "same_name_yours": True,
                          "claimed_name": "me"})
    assert "Not you: another key, that asked under your name." in page(state, DAVE)
    assert lookalike_note({**contact(DAVE, "zed", state="request"), "same_name_yours": True},
                          []).startswith("note: not you: another key")
