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
