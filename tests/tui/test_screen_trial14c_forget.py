"""Trial 14c, B4: after `/group forget` (asked, then forgotten) the conversation the screen
moved to read "No messages with alice yet (loading)." until switched away and back: its
history loads at once now. Real nodes, in-process, the screen's controller on alice's."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.backend import NodeBackend
from p2pchat.tui.controller import Controller
from tests.aio import until
from tests.groups_net import befriend, wait_linked
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import fp

pytestmark = pytest.mark.timeout(60)


async def test_the_conversation_shown_after_a_forget_loads_its_history(
        make_local_node: MakeLocalNode) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await befriend(alice, bob)
    await wait_linked([(alice, bob)])
    await alice.send("bob", "hello bob")
    group = await alice.create_group("crew")
    await alice.leave_group(str(group["group"]))
    chat = Controller(NodeBackend(alice))
    asked: list[tuple[str, Any]] = []
    chat.ask = lambda question, yes: asked.append((question, yes))
    await chat.start()
    try:
        crew = next(c for c in chat.state.conversations.values() if c.kind == "group")
        await chat.switch_to(crew)
        shown = chat.state.conversations[fp(bob)]
        # Not read yet, as every conversation but the open one after a start or a reconnect
        shown.loaded = False
        shown.messages.clear()
        await chat.execute("/group forget crew")
        assert asked and "Forget crew" in asked[0][0], asked
        asked[0][1]()  # yes
        await until(lambda: crew.id not in chat.state.conversations, 10, "crew forgotten")
        assert chat.state.selected == fp(bob)
        await until(lambda: shown.loaded and any("hello bob" in m.text
                                                 for m in shown.messages), 5,
                    "bob's history, not '(loading)'")
    finally:
        await chat.stop()
