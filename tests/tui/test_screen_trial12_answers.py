"""notes/s34/trial12.md on the chat screen, what commands answer: an answer outlived the
documented two minutes (B7b: "left club; networks: none", "you joined hikers: opened it")."""

from __future__ import annotations

from typing import Any

import pytest
from prompt_toolkit.document import Document

from p2pchat.cli.remote import _print_contacts
from p2pchat.core.identity import Identity
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import age_notices
from p2pchat.tui.render import header
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_group_consent_ui import ConsentBackend, invited
from tests.tui.test_screen import running
from tests.tui.test_state import BOB, CAROL, DAVE, contact

ERIN, FRANK = (Identity.from_seed(seed * 32).fingerprint for seed in (b"e", b"f"))

pytestmark = pytest.mark.timeout(30)


class AnswersBackend(ConsentBackend):
    async def network(self, action: str, name: str = "", passphrase: str = "",
                      *via: str) -> dict[str, Any]:
        return {"networks": [], "waiting": [], "legacy": [], "states": {}, "check_codes": {}}


async def test_a_command_answer_goes_after_two_minutes_whatever_its_key() -> None:
    """B7b: mallory's "left club; networks: none" (/network leave club at 17:36:45) and dave's
    "you joined hikers: opened it" (/group accept at 17:37:10) were on the row at 17:41:06,
    nothing typed since; README: what a command said goes after two minutes."""
    controller = Controller(AnswersBackend())
    now = [1000.0]
    controller.state.clock = lambda: now[0]
    await controller.start()
    try:
        controller.state.apply(invited())
        await controller.execute("/group accept club")
        await controller.execute("/network leave club")
        said = notices(controller)
        # the newer command's answer replaced the older one (trial 14b, B11)
        assert "you joined club" not in said and "left club; networks: none" in said, said
        now[0] += 60.0
        age_notices(controller.state)  # a minute, nothing typed since: still there to read
        assert "left club; networks: none" in notices(controller)
        now[0] += 61.0
        age_notices(controller.state)
        said = notices(controller)
        assert "you joined club" not in said and "left club" not in said, said
    finally:
        await controller.stop()


async def test_a_command_answer_goes_once_another_command_runs_a_while_later() -> None:
    """README: what a command said goes once another command runs a while later."""
    controller = Controller(AnswersBackend())
    now = [1000.0]
    controller.state.clock = lambda: now[0]
    await controller.start()
    try:
        await controller.execute("/network leave club")
        now[0] += 30.0
        await controller.execute("/help")
        assert "left club" not in notices(controller), notices(controller)
    finally:
        await controller.stop()


class PresenceBackend(FakeBackend):
    """bob's node is seen nearby, not linked; dave has our request; erin closes us unanswered;
    carol is away; frank asks, seen nearby."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [
            contact(BOB, "bob"), {**contact(DAVE, "dave"), "awaits_answer": True},
            {**contact(ERIN, "erin"), "unanswered": True}, contact(CAROL, "carol"),
            contact(FRANK, "frank", state="request")]
        self.nearby = [{"name": "bob", "fingerprint": BOB},
                       {"name": "frank", "fingerprint": FRANK}]

    async def peers(self) -> dict[str, Any]:
        return {"links": [], "nearby": list(self.nearby), "requests": []}


async def test_names_says_how_contacts_are_in_the_clis_words(
        capsys: pytest.CaptureFixture[str]) -> None:
    """B10: /names listed "bob (VIJYYUM) offline" and "Caro offline" while `p2pchat contacts`
    said "nearby" for both at the same moment: one rule, from the same reads."""
    backend = PresenceBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/names")
        page = controller.state.page
        assert page is not None and page.title == "Contacts"
        screen = {line.split()[0]: line for _, line in page.lines}
        _print_contacts(await backend.contacts(),
                        {str(n["fingerprint"]) for n in (await backend.peers())["nearby"]})
        cli = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()
               if line and not line.startswith(" ")}
        for name, word in (("bob", "nearby"), ("dave", "asked, waiting"),
                           ("erin", "not linked"), ("carol", "offline"),
                           ("frank", "nearby")):
            assert f" {word} " in screen[name], (name, screen[name])
            assert f" {word} " in cli[name], (name, cli[name])
        controller.state.page = None
        controller.state.select(BOB)  # the header too, with what it adds after the word
        assert header(controller.state) == " bob · nearby"
    finally:
        await controller.stop()


FOUND = {"relay": "127.0.0.1:42605#" + "R" * 8, "found_by": "mdns", "state": "attached",
         "links": 0, "last_error": None}


class FoundRelayBackend(FakeBackend):
    mode = "attached"  # a node that ran before the screen

    def __init__(self, relays: list[dict[str, Any]]) -> None:
        super().__init__()
        self.relays = relays

    async def status(self) -> dict[str, Any]:
        return {**await super().status(), "relays": list(self.relays)}


def attached_notices(controller: Controller) -> list[str]:
    return [n.text for n in controller.state.notices if "found nearby" in n.text]


async def test_a_screen_opened_on_a_running_node_does_not_repeat_a_found_relay() -> None:
    """B12: a freshly opened chat repeated "attached to relay 127.0.0.1:42605 found nearby
    (not one you chose)..." of a relay its node had attached to before: once per relay."""
    backend = FoundRelayBackend([FOUND])
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.reach.check()
        assert attached_notices(controller) == []
        backend.relays = [FOUND, {**FOUND, "relay": "127.0.0.1:35237#" + "S" * 8,
                                  "links": 1}]
        await controller.reach.check()  # one carrying a link while the screen is open: said
        assert attached_notices(controller) == [
            "a link goes through relay 127.0.0.1:35237, found nearby (not one you chose):"
            " 'p2pchat settings found-relays off' (or --no-found-relays) turns that off"]
    finally:
        await controller.stop()


async def test_ctrl_u_clears_every_line_before_the_cursor() -> None:
    """B14: after a burst the input held "/msg nobody" / "burst two"; Ctrl-U cleared only the
    current line. As readline: everything before the cursor, whatever its lines."""
    async with running(FakeBackend()) as (chat, keys):
        buffer = chat.input.buffer
        buffer.document = Document("/msg nobody\nburst two", len("/msg nobody\nburst two"))
        keys.send_text("\x15")  # Ctrl-U
        await until(lambda: chat.input.text == "", 10, "the input cleared")
        buffer.document = Document("hello world", len("hello"))  # one line: up to the cursor
        keys.send_text("\x15")
        await until(lambda: chat.input.text == " world", 10, "the start cleared")
        keys.send_text("\x19")  # Ctrl-Y: back
        await until(lambda: chat.input.text == "hello world", 10, "yanked back")


async def test_an_open_contacts_page_follows_who_is_nearby() -> None:
    """B10: the page says "nearby" as the CLI does; when discovery hears carol, it says so."""
    backend = PresenceBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/names")

        def carol() -> str:
            page = controller.state.page
            return next((line for _, line in page.lines if line.split()[0] == "carol"), "") \
                if page is not None else ""
        assert " offline " in carol()
        backend.nearby.append({"name": "carol", "fingerprint": CAROL})
        backend.streams[0].queue.put_nowait({"type": "nearby_changed"})
        await until(lambda: " nearby " in carol(), 10, "carol nearby on the open page")
    finally:
        await controller.stop()
