"""What the node tells a screen about links: a replaced link never makes a linked peer look
offline (issue 23, point 3)."""

from __future__ import annotations

import pytest

from p2pchat.node import Node
from p2pchat.tui.state import ChatState
from tests.aio import next_event, until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


def fp(node: Node) -> str:
    return node.status()["fingerprint"]


async def test_a_replaced_link_goes_down_saying_the_peer_is_still_linked(
    make_local_node: MakeLocalNode,
) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    events = alice.events.subscribe()
    await alice.add_contact(fp(bob), "bob", [f"127.0.0.1:{bob.listen_addresses[0][1]}"])
    await bob.add_contact(fp(alice), "alice", [])
    await until(lambda: alice.links.is_linked(bob.key), what="the first link")
    first = alice.links.by_peer[bob.key]
    # The side that dialled dials again (a restart's redial): the newer link wins.
    dialler, other = (alice, bob) if first.outbound else (bob, alice)
    await dialler.links.dial(other.key, other.listen_addresses[0])
    await until(lambda: first.closed and alice.links.is_linked(bob.key), what="the new link")
    state = ChatState()
    state.set_contacts(alice.list_contacts())
    state.apply(await next_event(events, "link_up"))  # the first link's
    up, down = await next_event(events, "link_up"), await next_event(events, "link_down")
    assert down["online"] is True and down["reason"] == "replaced by a newer link"
    state.apply(up)
    state.apply(down)
    assert state.conversations[fp(bob)].online  # as the node says
    assert alice.list_contacts()[0]["online"]
