"""notes/s36/trial14b.md B7 on the chat screen, against real nodes: alice's /add answered
"added frank; the request waits here until frank's node is reached (it is being dialled); they
see it then"; frank had added her before, so the link came up as contacts, and the answer went
without a word where it should say they are linked."""

from __future__ import annotations

import pytest

from p2pchat.tui.notice_ageing import LINKED_KEY, link_lost
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, fp, screen

pytestmark = pytest.mark.timeout(60)


async def test_adds_answer_says_linked_when_they_had_added_you(
        make_local_node: MakeLocalNode) -> None:
    alice, frank = await make_local_node("alice"), await make_local_node("frank")
    await frank.add_contact(fp(alice), "alice", [])  # no address: his node never reached hers
    chat = await screen(alice)
    try:
        await chat.execute(f"/add {fp(frank)} frank {addr(frank)}")
        linked = "added frank; they added you too, so you are linked: you can chat"

        def said() -> list[str]:
            return [n.text for n in chat.state.notices]

        await until(lambda: linked in said(), 20, "the answer saying linked")
        assert not any("request waits" in t or "see a request" in t for t in said()), said()
        [answer] = [n for n in chat.state.notices if n.text == linked]
        assert answer.key == f"{LINKED_KEY}{fp(frank)}" and answer.answer, answer
        link_lost(chat.state, fp(frank))  # keyed as the linked answer: a link down rewords it
        assert ("added frank; they added you too, so you can chat (the link comes up when they"
                " are online)") in said(), said()
    finally:
        await chat.stop()
