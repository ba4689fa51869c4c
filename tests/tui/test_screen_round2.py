"""The chat screen's second round (issue 23), without a node: keys on prompt_toolkit's pipe
input with the scripted backend of test_controller."""

from __future__ import annotations

from typing import Any

import pytest

from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_screen import CTRL_C, ENTER, running

pytestmark = pytest.mark.timeout(30)


def sent(backend: FakeBackend) -> list[object]:
    return [args for call, args in backend.calls if call == "send"]


async def test_enter_on_a_pending_question_cancels_it_and_sends_no_draft() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text("a draft")
        await until(lambda: chat.input.text == "a draft", 10, "the draft")
        keys.send_text(CTRL_C)
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text(ENTER)
        await until(lambda: chat.confirm is None, 10, "the question cancelled")
        assert chat.input.text == "a draft" and sent(backend) == []
        assert any("nothing done" in n.text for n in chat.state.notices)


async def test_a_key_on_a_pending_question_goes_to_the_input() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/block bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text("/help")
        await until(lambda: chat.input.text == "/help", 10, "the whole command in the input")
        assert chat.confirm is None
        keys.send_text(ENTER)
        await until(lambda: chat.state.page is not None, 10, "the help page")
        assert sent(backend) == []


async def test_network_join_without_its_slash_is_never_sent() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text("network join club topsecret")
        await until(lambda: chat.input.text.endswith("topsecret"), 10, "the typed line")
        shown = "".join(f[1] for f in chat.input.control.create_content(60, 3).get_line(0))
        assert "topsecret" not in shown
        keys.send_text(ENTER)
        await until(lambda: any("not sent" in n.text for n in chat.state.notices), 10,
                    "the refusal")
        assert sent(backend) == [] and chat.input.text == "network join club topsecret"


async def test_network_join_after_a_draft_is_masked_and_never_sent() -> None:
    """Trial 9, B12: a draft "and then" left in the input, then "/network join room9 PASS"
    typed at its end went out as one message with the passphrase in clear."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text("and then/network join room9 crisp-print")
        await until(lambda: chat.input.text.endswith("crisp-print"), 10, "the typed line")
        shown = "".join(f[1] for f in chat.input.control.create_content(80, 3).get_line(0))
        assert "crisp" not in shown and shown.rstrip().endswith("room9 " + "*" * len("crisp-print"))
        keys.send_text(ENTER)
        await until(lambda: any("after other text" in n.text for n in chat.state.notices), 10,
                    "the refusal")
        assert sent(backend) == [] and chat.input.text.endswith("crisp-print")


async def test_block_of_an_unknown_name_says_so_without_asking() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/block nobody{ENTER}")
        await until(lambda: any("no contact named 'nobody'" in n.text
                                for n in chat.state.notices), 10, "the error")
        assert chat.confirm is None


async def test_a_long_paste_is_counted_and_offered_in_parts() -> None:
    from p2pchat.core.messages import MAX_TEXT_BYTES
    from p2pchat.tui.commands import split_message

    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.input.text = "word " * (MAX_TEXT_BYTES // 6)  # over 3/4 of the limit
        status = "".join(text for _, text in chat._status_text())
        assert f"/{MAX_TEXT_BYTES} bytes" in status
        chat.input.text = "é" * 10 + " " + "x" * MAX_TEXT_BYTES
        keys.send_text(ENTER)
        await until(lambda: chat.confirm is not None, 10, "the offer")
        assert "Send it as 2 messages" in chat.confirm[0]
        keys.send_text(f"y{ENTER}")
        await until(lambda: len(sent(backend)) == 2, 10, "both parts sent")
        assert "".join(text for _, text in sent(backend)) == "é" * 10 + " " + "x" * MAX_TEXT_BYTES
        assert chat.input.text == ""
    parts = split_message("/" + "a" * 40, 16)
    assert all(len(p.encode()) <= 16 for p in parts) and parts[0].startswith("//")
    assert all(not p.startswith("/") or p.startswith("//") for p in parts)


async def test_a_network_join_shows_its_check_code() -> None:
    class Networks(FakeBackend):
        async def network(self, action: str, name: str = "",
                          passphrase: str = "") -> dict[str, Any]:
            return {"networks": [name], "check_codes": {name: "9006 1712"}}

    async with running(Networks()) as (chat, keys):
        keys.send_text(f"/network join club owl{ENTER}")
        await until(lambda: any("club (check code 9006 1712)" in n.text
                                for n in chat.state.notices), 10, "the code")
        assert any("another network of the same name" in n.text for n in chat.state.notices)


async def test_a_network_join_that_waits_says_what_to_check() -> None:
    class Waiting(FakeBackend):
        async def network(self, action: str, name: str = "",
                          passphrase: str = "") -> dict[str, Any]:
            return {"networks": [], "waiting": [name], "check_codes": {}}

        async def status(self) -> dict[str, Any]:  # as the node says it after the join
            return await super().status() | {"networks_waiting": ["club"]}

    async with running(Waiting()) as (chat, keys):
        keys.send_text(f"/network join club owl{ENTER}")
        await until(lambda: any("joining club: waiting for a member nearby to admit you" in n.text
                                for n in chat.state.notices), 10, "the waiting network")


async def test_verify_yes_marks_the_contact_verified() -> None:
    from tests.tui.test_state import BOB, contact

    class Verifying(FakeBackend):
        async def verify(self, who: str, verified: bool) -> dict[str, Any]:
            self.calls.append(("verify", (who, verified)))
            return contact(BOB, "bob") | {"verified": verified}

    backend = Verifying()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/verify bob{ENTER}")
        await until(lambda: chat.state.page is not None, 10, "the safety number page")
        assert any("/verify bob yes" in text for _, text in chat.state.page.lines)
        keys.send_text(f"/verify bob yes{ENTER}")
        await until(lambda: chat.state.conversations[BOB].verified, 10, "marked")
        assert ("verify", (BOB, True)) in backend.calls


async def test_j_opens_and_never_sends_and_me_is_an_action() -> None:
    from p2pchat.tui import render

    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/j club topsecret{ENTER}")
        await until(lambda: any("no conversation named 'club' (/j takes a name" in n.text
                                for n in chat.state.notices), 10, "the refusal")
        keys.send_text(f"/me waves{ENTER}")  # the refused line is not in the input: Up has it
        # Entered a moment after the refused /j, it waits once (trial 13a, B6): Enter again.
        await until(lambda: any("/j club topsecret failed" in n.text
                                for n in chat.state.notices), 10, "the line held once")
        assert chat.input.text == "/me waves" and sent(backend) == []
        keys.send_text(ENTER)
        await until(lambda: sent(backend), 10, "the action sent")
        assert sent(backend) == [(chat.state.selected, "/me waves")]
        text = "".join(t for _, t in render.history(chat.state)[0])
        assert "* me waves" in text


async def test_a_removed_member_s_list_says_it_is_as_it_was() -> None:
    from p2pchat.tui.controller import Controller
    from tests.tui.test_groups_ui import GROUP, GroupBackend

    backend = GroupBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/group create club")
        controller.state.apply({"type": "group_changed", "group": GROUP, "title": "club",
                                "role": "removed", "change": "remove", "member": "x",
                                "member_name": "me", "you": True})
        await controller.execute("/group members")
        assert controller.state.page is not None
        assert "(you were removed)" in controller.state.page.title
        assert ("info", "As they were when you were removed: no news reaches you since.") \
            in controller.state.page.lines
        lines = [m.text for m in controller.state.conversations[GROUP].messages if m.system]
        assert lines == ["you were removed from club"]
    finally:
        await controller.stop()
