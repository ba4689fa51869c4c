"""notes/s32/trial5.md on the chat screen: a command's refusals pass at the next command (18),
a new key under a verified name asks first (B5), accepting opens and says so (B2), /names in a
1:1 conversation (B6), only the passphrase masked (B11), the Members page's tags (B15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from p2pchat.tui.render import header
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_group_consent_ui import ConsentBackend, invited
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_state import BOB, CAROL, ME, contact

pytestmark = pytest.mark.timeout(30)


def said(controller: Controller) -> list[str]:
    return [n.text for n in controller.state.notices]


async def test_a_commands_refusal_goes_at_the_next_command() -> None:
    """18: "no contact named 'nobody'" stayed in the notice row after five more commands."""
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        await controller.execute("/block nobody")
        assert any("no contact named 'nobody'" in s for s in said(controller)), said(controller)
        await controller.execute("/help")
        assert not any("nobody" in s for s in said(controller)), said(controller)
        await controller.execute("/nosuchcommand")  # a parse error passes too
        assert said(controller), "the parse error is said"
        await controller.execute("/help")
        assert not any("nosuchcommand" in s for s in said(controller)), said(controller)
        await controller.execute("/unblock nobody")
        controller.switch(1)  # a conversation switch is an action too
        assert not any("nobody" in s for s in said(controller)), said(controller)
        controller.state.notice("error", "lost the connection to the node")  # not an answer
        await controller.execute("/help")
        assert "lost the connection to the node" in said(controller)
    finally:
        await controller.stop()


class ImpostorBackend(FakeBackend):
    """bob verified; a request from a new key that also calls itself bob."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [
            {**contact(BOB, "bob"), "verified": True},
            {**contact(CAROL, f"bob ({CAROL[:7]})", state="request"),
             "same_name_as": BOB, "same_name_verified": True},
        ]

    async def accept(self, who: str, anyway: bool = False) -> dict[str, Any]:
        # The node refuses a new key under a verified name unless `anyway` (issue 23).
        self.calls.append(("accept", who) if anyway else ("refused", who))
        return contact(who, f"bob ({CAROL[:7]})")


async def test_accepting_a_new_key_under_a_verified_name_asks_first() -> None:
    """B5: `/accept bob (DLUBGO3)` of a new key under a verified bob went through at once."""
    backend = ImpostorBackend()
    controller = Controller(backend)
    asked: list[tuple[str, Callable[[], None]]] = []
    controller.ask = lambda question, yes: asked.append((question, yes))
    await controller.start()
    try:
        name = f"bob ({CAROL[:7]})"
        await controller.execute(f"/accept {name}")
        assert ("accept", CAROL) not in backend.calls
        assert asked and asked[0][0] == (
            f"{name} is a NEW KEY, not the bob you verified: accept anyway? y/n"
            f" (compare safety numbers first: /verify {name})"), asked
        asked[0][1]()  # y
        await until(lambda: ("accept", CAROL) in backend.calls, 10, "accepted after the yes")
        controller.ask = None  # nobody to ask: refused, never accepted on its own
        backend.calls.clear()
        again = controller.state.conversations[CAROL]
        again.state, again.impostor_of = "request", "bob"
        await controller.execute(f"/accept {name}")
        assert ("accept", CAROL) not in backend.calls
        assert any("NEW KEY" in s for s in said(controller)), said(controller)
    finally:
        await controller.stop()


async def test_accepting_opens_the_conversation_and_says_so() -> None:
    """B2: /accept carol switched silently; /group accept club did not switch at all."""
    backend = ConsentBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        controller.state.select(BOB)
        await controller.execute("/accept carol")
        assert controller.state.selected == CAROL
        assert "accepted carol: opened carol's conversation" in said(controller)
        assert "carol" in header(controller.state)
        controller.state.apply(invited())
        await controller.execute("/group accept club")
        assert controller.state.selected == GROUP
        assert "you joined club: opened it" in said(controller), said(controller)
        assert "club" in header(controller.state)
    finally:
        await controller.stop()


class OwnerBackend(GroupBackend):
    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": ME, "name": "me", "owner": True, "you": True, "online": True},
                {"fingerprint": BOB, "name": "bob", "admin": True, "online": False}]


async def test_the_members_page_puts_your_tags_in_one_parenthesis() -> None:
    """B15: "alice (owner) (you): online" on the Members page."""
    backend = OwnerBackend()
    backend.group_list = [group()]
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/msg club")
        await controller.execute("/group members")
        page = controller.state.page
        assert page is not None
        lines = [text for _, text in page.lines]
        assert "  me (you, owner): online" in lines, lines
        assert "  bob (admin): offline" in lines, lines
    finally:
        await controller.stop()


async def test_a_passing_answer_stays_until_the_next_command() -> None:
    """B15: "not answered, so nothing done: Block carol?" seemed replaced within 2 s: it
    stays through the node's events and the ageing, and goes at the next command."""
    from p2pchat.tui.notice_ageing import PASSING, age_notices
    from tests.tui.test_state import message
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        told = "not answered, so nothing done: Block carol (4DUVTAL)?"
        controller.state.notice("info", told, key=f"{PASSING}:Block carol (4DUVTAL)?")
        await controller._on_event(message(BOB, "m1", "hi"))
        await controller._on_event({"type": "contact", **contact(CAROL, "carol",
                                                                 state="request")})
        age_notices(controller.state)
        assert told in said(controller), said(controller)
        await controller.execute("/help")
        assert told not in said(controller)
    finally:
        await controller.stop()


async def test_a_refused_line_passes_at_the_next_command_too() -> None:
    """18: the screen's own refusals of a typed line (not a command run) go the same way."""
    from tests.tui.test_screen import ENTER, running
    async with running(FakeBackend()) as (chat, keys):
        keys.send_text(f"network join club topsecret{ENTER}")
        await until(lambda: any("not sent: that is /network join" in s for s in said(
            chat.controller)), 10, "the refusal")
        chat.input.text = ""
        keys.send_text(f"/help{ENTER}")
        await until(lambda: chat.state.page is not None, 10, "the help page")
        await until(lambda: not any("not sent" in s for s in said(chat.controller)), 10,
                    "the refusal gone at the next command")
