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
    controller = Controller(RequestBackend())
    await controller.start()
    try:
        await controller.execute(f"/unblock {CAROL}")
        assert "unblocked carol: a request again, /accept carol to chat" in notices(controller)
        assert controller.state.conversations[CAROL].state == "request"
    finally:
        await controller.stop()
