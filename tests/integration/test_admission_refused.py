"""A joiner with a wrong network passphrase is told, and stops asking (issue 23, point 15):
the members it hears refuse it, its network's state becomes "refused", and joining again with
the right passphrase admits it."""

from __future__ import annotations

import pytest

from p2pchat.core.presence import Advert
from p2pchat.node import Node
from p2pchat.tui.state import ChatState
from tests.aio import next_event, until
from tests.integration.test_admission import PASSPHRASE, _addr, _member
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


def _advert(member: Node) -> Advert:
    return Advert("x", (_addr(member),), "1",
                  sealed=tuple(member.networks.properties(0).values())[1:])


async def test_a_wrong_passphrase_is_refused_said_and_no_longer_tried(
        make_local_node: MakeLocalNode) -> None:
    members = [await make_local_node(name) for name in ("alice", "carol", "dave")]
    for member in members:
        _member(member)
    joiner = await make_local_node("bob")
    joiner.admissions._adverts = lambda: [_advert(m) for m in members]
    events = joiner.events.subscribe()
    screen = ChatState()
    screen.set_status(joiner.status())

    await joiner.networks.join("lab", "a-typo-" + PASSPHRASE)
    event = await next_event(events, "networks_changed")  # the join itself
    screen.apply(event)
    event = await next_event(events, "networks_changed")  # the refusal
    assert event["refused"] == ["lab"] and event["networks"] == []
    assert joiner.networks.view()["states"] == {"lab": "refused"}
    assert joiner.status()["networks_refused"] == ["lab"]
    assert [m.admissions.failed_guesses for m in members] == [1, 1, 1]
    screen.apply(event)
    # A node not in lab would have said the same (docs/protocol.md 10.7): never "wrong
    # passphrase" for sure (trial 11).
    assert any("lab: no node nearby admitted you: either nobody here is in lab yet, or the"
               " passphrase is wrong (check it with whoever created lab)" in n.text
               and n.kind == "warning" for n in screen.notices), [n.text for n in screen.notices]

    # Refused, so no longer shown as waiting (the refusers are never asked that passphrase
    # again: the next test shows it).
    assert joiner.networks.waiting() == []

    # Joined again, with the right passphrase: admitted, and the screen says so.
    await joiner.networks.join("lab", PASSPHRASE)
    screen.apply(await next_event(events, "networks_changed"))
    await until(lambda: joiner.networks.names() == ["lab"], 15, "the admission")
    screen.apply(await next_event(events, "networks_changed"))
    assert joiner.networks.view()["states"] == {"lab": "member"}
    assert any(n.text == "admitted to lab" for n in screen.notices)
    assert not any("refused" in n.text for n in screen.notices)  # the stale notice went


async def test_members_of_another_network_of_that_name_never_make_a_right_passphrase_fail(
        make_local_node: MakeLocalNode) -> None:
    """A joiner cannot tell a member of another 'lab' from one of its own (by design): three of
    them refuse, the network shows as refused, and a member of the right one that appears
    later still admits it, with no rejoin; each refuser was asked once."""
    others = [await make_local_node(name) for name in ("o1", "o2", "o3")]
    for other in others:
        _member(other, key=bytes(range(1, 33)), passphrase="another-lab-entirely-x")
    heard = [_advert(o) for o in others]
    joiner = await make_local_node("bob")
    joiner.admissions._adverts = lambda: list(heard)
    await joiner.networks.join("lab", PASSPHRASE)
    await until(lambda: joiner.networks.view()["states"] == {"lab": "refused"}, 15,
                "the refusal by the other network's members")
    member = await make_local_node("alice")
    _member(member)
    heard.append(_advert(member))
    joiner.admissions.wake()
    await until(lambda: joiner.networks.names() == ["lab"], 15, "the admission")
    assert [o.admissions.failed_guesses for o in others] == [1, 1, 1]
