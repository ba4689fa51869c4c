"""notes/s32/trial5.md on the chat screen: a command's refusals pass at the next command (18),
a new key under a verified name asks first (B5), accepting opens and says so (B2), /names in a
1:1 conversation (B6), only the passphrase masked (B11), the Members page's tags (B15)."""

from __future__ import annotations

import pytest

from p2pchat.tui.controller import Controller
from tests.tui.test_controller import FakeBackend

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
