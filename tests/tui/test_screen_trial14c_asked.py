"""Trial 14c, B6 on the chat screen: after mallory's restart her header for alice read "asked:
your request waits here until alice's node is reached", though alice's node held the request:
it reads "asked, waiting for alice to accept" still (the node keeps it, schema v11)."""

from __future__ import annotations

import pytest

from p2pchat.node import Node
from p2pchat.tui.render import header
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import fp
from tests.tui.test_screen_trial8_reach import polls, watched

pytestmark = pytest.mark.timeout(60)


async def test_asked_waiting_outlives_a_restart(make_local_node: MakeLocalNode) -> None:
    alice, mallory = await make_local_node("alice"), await make_local_node("mallory")
    await mallory.add_contact(fp(alice), "alice", [":".join(map(str, alice.listen_addresses[0]))])
    await until(lambda: [c.get("awaits_answer") for c in mallory.list_contacts()] == [True],
                30, "alice's node has the request")
    await alice.stop()  # out of reach from now on
    before = await seen(mallory, fp(alice))
    identity = mallory.identity
    await mallory.stop()
    mallory = await make_local_node("mallory", identity)  # the same home: a restart
    assert await seen(mallory, fp(alice)) == before
    assert "waits here" not in before, before


async def seen(node: Node, who: str) -> str:
    chat = await watched(node)
    try:
        chat.state.select(who)
        await polls(2)
        return header(chat.state)
    finally:
        await chat.stop()
