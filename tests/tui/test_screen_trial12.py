"""notes/s34/trial12.md on the chat screen, point 18 (stale or doubled notices): the removal
of a contact whose node still has us said it twice (B4); our own nick notices piled up, and a
nick from the CLI left the last one standing (B5, B5b); a removed member's invitation and
join stayed beside their removal (B7)."""

from __future__ import annotations

import pytest

from p2pchat.storage import keystore
from p2pchat.tui.backend import ControlBackend
from p2pchat.tui.controller import Controller
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import cli, control_of

pytestmark = pytest.mark.timeout(60)


def own_nick(chat: Controller) -> list[str]:
    return [n.text for n in chat.state.notices if n.text.startswith("you are now")]


async def test_a_newer_own_nick_replaces_the_older(make_local_node: MakeLocalNode) -> None:
    """B5: "you are now Bobby; the 1 linked now see it at once, ..." stayed above "you are
    now bob; ..."; B5b: `p2pchat nick "Dave D"` then `p2pchat nick dave` left "you are now
    called Dave D" on the screen."""
    dave = await make_local_node("dave")
    keystore.create(dave.home, dave.identity, "dave", None)
    async with control_of(dave):
        chat = Controller(await ControlBackend.connect(dave.home, timeout=10))
        await chat.start()
        try:
            await cli(dave, "rename_self", name="Dave D")  # `p2pchat nick "Dave D"`
            await until(lambda: own_nick(chat) == ["you are now called Dave D"], 10, "Dave D")
            await until(lambda: chat.state.me.name == "Dave D", 10, "the status line's name")
            await cli(dave, "rename_self", name="dave")  # and back, from the CLI
            await until(lambda: own_nick(chat) == ["you are now called dave"], 10,
                        "the newer name only")
            await chat.execute("/nick Bobby")
            await chat.execute("/nick bob")
            said = own_nick(chat)
            assert len(said) == 1 and said[0].startswith("you are now bob;"), said
        finally:
            await chat.stop()
