"""A contact who simply stopped reads as offline, not as refusing us (notes/s35/trial13a.md
B1b): the relay's NotHere and a link that came up (either way) clear "closes unanswered"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.net.relay_connection import NOT_ON_RELAY
from tests.groups_net import befriend, wait_linked
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


def _closed(reason: str) -> SimpleNamespace:
    """A relayed link that ended before its handshake, for `reason`."""
    return SimpleNamespace(close_reason=reason, relay=object(), remote_key=None)


async def test_the_relay_saying_not_here_is_offline_not_refusing(
        make_local_node: MakeLocalNode) -> None:
    erin = await make_local_node("erin")
    dan = bytes(range(32))
    erin.links._note_answer(dan, _closed("handshake timed out"), False)  # a refused stream
    assert dan in erin.links.unanswered
    erin.links._note_answer(dan, _closed(NOT_ON_RELAY), False)  # dan stopped: not attached
    assert dan not in erin.links.unanswered


async def test_a_link_up_either_way_clears_a_refusal_noted_before(
        make_local_node: MakeLocalNode) -> None:
    """Trial 13 B1b: erin's dials with her network's PSK went unanswered (dan is in no
    network) while dan's own link to her was up; when dan stopped, that old note read as
    "dan's node closes the connection unanswered"."""
    dan, erin = await make_local_node("dan"), await make_local_node("erin")
    erin.links.unanswered.add(dan.key)  # noted before the link came up
    await befriend(dan, erin)  # dan dials: the link is inbound to erin
    await wait_linked([(dan, erin)])
    assert dan.key not in erin.links.unanswered
    view = next(c for c in erin.trust.list_contacts()
                if c["fingerprint"] == fingerprint(dan.key))
    assert not view.get("unanswered")


async def test_a_direct_refusal_stays_when_the_relay_has_not_got_them(
        make_local_node: MakeLocalNode) -> None:
    """Trial 13b, B3: alice's node (in a closed network) closed erin's direct dials unanswered,
    and the relay erin also tried said alice was not there: each NotHere cleared the note, and
    erin's header went from "not linked: ... closed network" to "offline". The address that
    refused, refusing the connection itself, does clear it: their node went."""
    import socket

    erin = await make_local_node("erin")
    alice = bytes(range(32))
    with socket.socket() as probe:  # a port nobody listens on, once closed
        probe.bind(("127.0.0.1", 0))
        gone = probe.getsockname()
    direct = SimpleNamespace(close_reason="connection closed by peer", relay=None,
                             remote_key=None, dialed=gone)
    erin.links._note_answer(alice, direct, False)
    erin.links._note_answer(alice, _closed(NOT_ON_RELAY), False)
    assert alice in erin.links.unanswered
    assert await erin.links.dial(alice, gone) is False  # alice's node stopped
    assert alice not in erin.links.unanswered
