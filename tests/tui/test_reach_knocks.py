"""A contact who removed us, and our node's knocks (net/dialer.py): each knock is a link that
comes up and that their node closes at once ("contact request received"). The screen took the
knock's link_up for "linked again": the notice "dave's node no longer knows you" went at each
knock, the header said only "offline", and the reach watch said it again at its next read (the
flaky tests/tui/test_screen_trial8_reach.py::test_a_contact_who_removed_us_is_said_on_the_screen
failed when it looked between the two)."""

from __future__ import annotations

from typing import Any

from p2pchat.tui.render import header
from tests.tui.test_controller import BOB, started


def link(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, "fingerprint": BOB, "name": "bob", "contact": True,
            "address": "127.0.0.1:9", "path": "direct", "relay": None} | more


async def test_a_knock_on_a_contact_who_removed_us_leaves_the_reason_said() -> None:
    chat, backend, _ = await started()
    try:
        chat.state.select(BOB)
        conv = chat.state.conversations[BOB]
        backend.contact_list[0] = backend.contact_list[0] | {"online": True}
        await chat.reach.check()  # the screen saw bob linked: he knew us
        backend.contact_list[0] = backend.contact_list[0] | {"online": False,
                                                              "awaits_answer": True}
        await chat.reach.check()
        why = conv.unreachable
        assert why.startswith("bob's node no longer knows you")
        assert [n.text for n in chat.state.notices if "removed you" in n.text] == [why]

        await chat._on_event(link("link_up"))  # a knock: their node closes it at once
        await chat._on_event(link("link_down", reason="closed by peer: contact request"
                                  " received", online=False))
        assert [n.text for n in chat.state.notices if "removed you" in n.text] == [why]
        assert conv.unreachable == why
        assert why in header(chat.state)

        backend.contact_list[0] = backend.contact_list[0] | {"online": True,
                                                              "awaits_answer": False}
        await chat._on_event(link("link_up"))  # they added us again: the node says online
        await chat.reach.check()
        assert not [n for n in chat.state.notices if "removed you" in n.text]
        assert conv.unreachable == ""
    finally:
        await chat.stop()
