"""Trial 4, B1 on the chat side: /unblock of a request says it is a request again."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_state import CAROL, contact

pytestmark = pytest.mark.timeout(30)


class RequestBackend(FakeBackend):
    async def unblock(self, who: str) -> dict[str, Any]:
        return contact(who, "carol", state="request")  # what the node now restores


async def test_unblocking_a_request_leaves_a_request_and_says_accept() -> None:
    # Blocked first: one not blocked is told so (trial 14c, B9).
    controller = Controller(BlockedRequestBackend())
    await controller.start()
    try:
        await controller.execute(f"/unblock {CAROL}")
        assert "unblocked carol: a request again" in notices(controller)
        assert "asks to connect (/accept carol" in notices(controller)
        assert controller.state.conversations[CAROL].state == "request"
    finally:
        await controller.stop()


class BlockedRequestBackend(RequestBackend):
    """carol blocked while she asked: /unblock makes her a request again."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(CAROL, "carol", state="blocked")]

    async def unblock(self, who: str) -> dict[str, Any]:
        self.contact_list = [await super().unblock(who)]
        return self.contact_list[0]


async def test_a_request_unblocked_stays_on_the_row_until_answered() -> None:
    """Session 35: "unblocked dave: a request again, /accept dave to chat" was the only
    notice of the request, a command's answer: it went two minutes later (or at the next
    command a while later) while dave still asked."""
    now = [1000.0]
    backend = BlockedRequestBackend()
    controller = Controller(backend)
    controller.state.clock = lambda: now[0]
    await controller.start()
    try:
        await controller.execute(f"/unblock {CAROL}")
        now[0] += 150.0  # past every answer's lifetime
        await controller.execute("/notices")
        assert "asks to connect (/accept carol" in notices(controller), notices(controller)
    finally:
        await controller.stop()
