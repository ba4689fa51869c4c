"""When a node acknowledges what a contact sent it: one vector for a stream, after its commit.

A hand-built contact (tests/hostile_peer.py: a real Session over a real socket) writes to a real
node in this process. The waits are stretched to a second, so each step below has a second's
margin; every step is synchronised on the node's own state, never on a sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from p2pchat.core import sync
from p2pchat.core.identity import Identity
from p2pchat.core.messages import ZERO_HASH, Envelope, SyncVector, envelope_hash
from p2pchat.node import Node, conversations
from tests.aio import turns, until
from tests.hostile_peer import HostilePeer, envelope, hostile_contact
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)

WAIT = 1.0  # seconds: ACK_DELAY for these tests


async def test_envelopes_that_keep_coming_share_one_vector(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversations, "ACK_DELAY", WAIT)
    monkeypatch.setattr(sync, "ACK_DELAY", WAIT)
    monkeypatch.setattr(sync, "ACK_DELAY_MAX", 600.0)
    monkeypatch.setattr(conversations, "ACK_DELAY_MAX", 600.0)
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    chain: list[Envelope] = []
    for seq in (1, 2, 3):
        prev = envelope_hash(chain[-1]) if chain else ZERO_HASH
        chain.append(envelope(alice, mallory, seq, f"m{seq}", prev))
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.recv_until(SyncVector)  # the link's opening vector
        await peer.send(chain[0])
        link = await until(lambda: alice.links.by_peer.get(mallory.public_key), 5, "the link")
        conv = chain[0].conv
        wait = await until(lambda: link.peer.ack_pending.get(conv), 5, "the first wait")
        await peer.send(chain[1])  # within the first wait: it is renewed when it ends
        await until(lambda: wait.more == 1, 5, "the second envelope")
        await until(lambda: wait.more == 0, 5, "the wait to be renewed")
        assert link.peer.ack_pending.get(conv) is wait  # renewed, nothing sent
        await peer.send(chain[2])  # within the renewed wait: renewed once more
        await until(lambda: wait.more == 1, 5, "the third envelope")
        vector = await peer.recv_until(SyncVector, timeout=10)
    # One vector, for all three: before, the first wait's end acknowledged two of them alone.
    assert vector.vector.get(mallory.public_key) == 3
    assert conv not in link.peer.ack_pending
    assert [m["text"] for m in alice.history("mallory")] == ["m1", "m2", "m3"]



async def test_a_node_stopped_while_an_acknowledgement_waits_keeps_what_it_received(
        make_local_node: MakeLocalNode) -> None:
    failures: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: failures.append(context))
    identity = Identity.generate()
    alice = await make_local_node("alice", identity=identity)
    mallory = await hostile_contact(alice)
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.recv_until(SyncVector)
        await peer.send(envelope(alice, mallory, 1, "just before the stop"))
        link = await until(lambda: alice.links.by_peer.get(mallory.public_key), 5, "the link")
        await until(lambda: link.peer.ack_pending, 5, "the acknowledgement to wait")
        await alice.stop()
    # The wait's timer then fires on a stopped node: it must find nothing left to do.
    await until(lambda: not link.peer.ack_pending, 5, "the wait's timer")
    await turns()  # and whatever it scheduled
    assert failures == []
    again = Node(alice.home, identity, "alice", alice.config)
    await again.start()
    try:
        assert [m["text"] for m in again.history("mallory")] == ["just before the stop"]
    finally:
        await again.stop()
