"""What was left of the newcomers' trials of the chat screen (issue 23, round 2), without a
node: the view-model, the controller over the scripted backend of test_controller, and keys on
prompt_toolkit's pipe input."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.utils import get_cwidth

from p2pchat.cli.remote import _print_groups
from p2pchat.tui.app import CONVERSATIONS_WIDTH, ChatApp
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_rows import notice_rows
from p2pchat.tui.notify import TOLD_FILE, Notifier
from p2pchat.tui.panes import header_rows, pasted
from p2pchat.tui.render import header
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_screen import ENTER, running
from tests.tui.test_state import BOB, CAROL, DAVE, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def sent(backend: FakeBackend) -> list[Any]:
    return [call[1] for call in backend.calls if call[0] == "send"]


async def test_no_to_a_question_says_what_was_not_done() -> None:
    """5: "n" to /block said nothing at all."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/block bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.confirm is None, 10, "the answer")
        assert f"bob ({BOB[:7]}) not blocked" in [n.text for n in chat.state.notices]
        for question, said in (("Leave club? You get none of its messages after. y/n",
                                "not left: you stay in club"),
                               ("Forget club and delete all its messages? y/n",
                                "club not forgotten"),
                               ("That message is 20000 bytes; the limit is 16384. Send it as"
                                " 2 messages? y/n", "not sent: your text stays in the input")):
            chat.ask(question, lambda: None)
            keys.send_text(f"n{ENTER}")
            await until(lambda: chat.confirm is None, 10, "the answer")
            assert chat.state.notices[-1].text.startswith(said), chat.state.notices[-1]


async def test_a_paste_ending_in_a_newline_sends_no_blank_line() -> None:
    """6: a bracketed paste ending in a newline sent a trailing blank line."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.select(BOB)
        keys.send_text(f"{PASTE_START}hello there\n{PASTE_END}")
        await until(lambda: chat.input.text == "hello there", 10, "the paste, no newline")
        keys.send_text(ENTER)
        await until(lambda: sent(backend), 10, "the message")
        keys.send_text(f"{PASTE_START}\r\n\n{PASTE_END}{ENTER}")
        keys.send_text(f"x{ENTER}")
        await until(lambda: len(sent(backend)) == 2, 10, "the x")
        assert sent(backend) == [(BOB, "hello there"), (BOB, "x")]  # never an empty one
    assert pasted("a\n\nb\n \n") == "a\n\nb" and pasted("\n") == ""


class VerifyingBackend(FakeBackend):
    async def verify(self, who: str, verified: bool) -> dict[str, Any]:
        self.calls.append(("verify", (who, verified)))
        return contact(BOB, "bob") | {"verified": verified}


async def test_verify_yes_closes_the_verify_page_and_says_so() -> None:
    """4: after /verify bob yes the page with its QR code stayed open until Esc."""
    controller = Controller(VerifyingBackend())
    await controller.start()
    try:
        await controller.execute("/verify bob")
        assert controller.state.page is not None and controller.state.page.title == "Verify bob"
        await controller.execute("/verify bob yes")
        assert controller.state.page is None
        assert controller.state.notices[-1].text.startswith("bob is marked verified")
        await controller.execute("/help")  # another page stays for a /verify typed under it
        await controller.execute("/verify bob no")
        assert controller.state.page is not None
    finally:
        await controller.stop()


async def test_invitation_hints_name_the_group_not_its_id(
        capsys: pytest.CaptureFixture[str]) -> None:
    """10: the invitation hint said `group accept 3fa9…` (the name works)."""
    invited = group("club", role="invited") | {"invited_by_name": "bob", "members": 2}
    _print_groups([invited])
    said = capsys.readouterr().out
    assert "(p2pchat group accept club, or decline)" in said and f"accept {GROUP}" not in said
    other = invited | {"group": "ab" * 16}  # two groups named club: only the id tells
    _print_groups([invited, other])
    assert f"accept {GROUP}" in capsys.readouterr().out
    backend = GroupBackend()
    backend.group_list = [invited]
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group list")
        page = controller.state.page
        assert page is not None
        assert any("/group accept club" in line for _, line in page.lines), page.lines
    finally:
        await controller.stop()


async def test_one_off_answers_go_at_the_next_command_or_switch() -> None:
    """1 (trial 3, 18): "nothing unread" lingered through several later commands."""
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        for conv in controller.state.conversations.values():
            conv.unread = 0
        controller.state.notice("info", "an older notice")
        controller.next_unread()
        controller.next_unread()  # said once, not twice
        assert said(controller).count("nothing unread") == 1, said(controller)
        await controller.execute("/help")
        assert "nothing unread" not in said(controller)
        controller.next_unread()
        assert said(controller)[-1] == "nothing unread"
        controller.switch(1)
        assert "nothing unread" not in said(controller)
        assert "an older notice" in said(controller)  # others go as they did
    finally:
        await controller.stop()


def said(controller: Controller) -> list[str]:
    return [n.text for n in controller.state.notices]


def test_no_desktop_notifications_is_said_once_per_home_and_in_help(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1 (trial 3, 18): the notify-send note came back at every start, and lingered."""
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no notify-send here
    for start in range(2):
        notifier = Notifier(lambda text: None, bell=False, desktop=True)
        notifier.remember_in(tmp_path)
        state = loaded_state()
        state.select(BOB)
        notifier.update(state)
        state.apply(message(CAROL, f"c{start}", "psst", author_name="carol"))
        notifier.update(state)
        told = [n for n in state.notices if "no desktop notifications" in n.text]
        assert len(told) == (1 if start == 0 else 0), told
        assert any("notify-send is missing" in line for line in notifier.status_lines())
    assert (tmp_path / TOLD_FILE).exists()


async def test_the_status_page_says_desktop_notifications_are_unavailable() -> None:
    """1: the note is said once per home; /peers (the status page) says it whenever asked."""
    async with running(FakeBackend()) as (chat, keys):
        chat.controller.networks.notes = lambda: ["No desktop notifications here (x)"]
        keys.send_text(f"/peers{ENTER}")
        await until(lambda: chat.state.page is not None, 10, "the peers page")
        assert chat.state.page is not None
        assert chat.state.page.lines[-1][1] == "No desktop notifications here (x)"
    chat = ChatApp(FakeBackend(), notifier=Notifier(lambda text: None, desktop=False))
    assert chat.controller.networks.notes() == []  # turned off: nothing to say


@pytest.mark.parametrize("columns", [80, 120])
def test_page_titles_wrap_and_are_never_cut_at_the_edge(columns: int) -> None:
    """7: page titles were cut at 120 columns (and at 80), the "(Esc to close)" first."""
    width = columns - CONVERSATIONS_WIDTH - 1
    state = loaded_state()
    titles = ["Help", "Contacts", "Verify Bartholomew Oppenheimer-Smith",
              "Safety number with Bartholomew Oppenheimer-Smith", "Nearby", "Peers", "Groups",
              "climbing club of the north: 12 members, 3 invited",
              "no matches for 'a longer search term' (searched 12 conversations)",
              "Who has your message 'see you at the station at eight, bring'",
              "History with Bartholomew Oppenheimer-Smith, no longer a contact (read-only)"]
    for title in titles:
        state.show_page(title, [])
        shown = header(state)
        rows = [text_of(row) for row in header_rows(shown, width)]
        assert all(get_cwidth(row) <= width for row in rows), rows
        assert " ".join(" ".join(rows).split()) == " ".join(shown.split()), (title, rows)


def text_of(row: Any) -> str:
    return "".join(fragment[1] for fragment in row)


@pytest.mark.parametrize("columns", [80, 120])
def test_an_impostors_request_shows_its_commands_in_three_notice_rows(columns: int) -> None:
    """2: "bob (27J2TD2) asks to connect ..." was cut before its commands at 80 columns,
    under a second, long warning notice."""
    state = loaded_state()
    state.upsert_contact({**contact(BOB, "bob"), "verified": True})
    state.notice("info", "an older notice")
    name = f"bob ({DAVE[:7]})"
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": name, "note": "hi",
                 "same_name_as": BOB, "same_name_verified": True})
    rows = [text_of(row) for row in notice_rows(state.notices, None,
                                                columns - CONVERSATIONS_WIDTH - 1, 3)]
    shown = " ".join(" ".join(rows).split())
    assert "…" not in shown and "NEW KEY" in shown and "VERIFIED" in shown, rows
    assert shown.endswith(f"/verify {name} first, /block {name} or /accept {name}"), rows
