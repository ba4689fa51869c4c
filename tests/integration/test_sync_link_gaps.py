"""A link that comes up while a 1:1 log has a hole: the hole is filled on that link.

Found by the churn test (test_sync_churn.py, seed 59 failed about one run in three): after a
restart, a new message pushed at link start marked everything below it as handed to the link, and
the receiver still counted the gap it had asked a closed link to fill as asked. Both sides then
waited for each other for as long as the link lasted. Each side's rule is driven here by a
hand-built peer (a real Session over a real socket) against a real node.
"""

from __future__ import annotations

import pytest

from p2pchat.core.messages import Envelope, SyncRequest, SyncVector, envelope_hash
from tests.hostile_peer import HostilePeer, envelope, hostile_contact
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


async def test_a_gap_asked_of_a_closed_link_is_asked_again_on_the_next(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    chain: list[Envelope] = []
    for seq in range(1, 5):
        prev = envelope_hash(chain[-1]) if chain else envelope(alice, mallory, 1, "").prev
        chain.append(envelope(alice, mallory, seq, f"m{seq}", prev=prev))
    address = alice.listen_addresses[0]
    async with HostilePeer.connect(mallory, address, remote_key=alice.key) as first:
        await first.send(chain[2])  # seq 3: alice asks for 1..2 on this link
        asked = await first.recv_until(SyncRequest)
        assert (asked.first, asked.last) == (1, 2)
    # The link closed unanswered. On the next one a later message shows the hole again: alice
    # must ask this link for all of it (seq 3 went with the link that brought it).
    async with HostilePeer.connect(mallory, address, remote_key=alice.key) as second:
        await second.send(chain[3])
        again = await second.recv_until(SyncRequest)
        assert (again.first, again.last) == (1, 3)
        await second.send_many(list(chain[:3]))
        vector = await second.recv_until(SyncVector)
        while vector.vector.get(mallory.public_key) != 4:
            vector = await second.recv_until(SyncVector)
    assert [m["text"] for m in alice.history("mallory")] == ["m1", "m2", "m3", "m4"]


async def test_a_message_pushed_at_link_start_does_not_hide_the_ones_before_it(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    await alice.send("mallory", "one")  # queued: mallory is away
    await alice.send("mallory", "two")
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        start = await peer.recv_until(SyncVector)  # alice's link is up: a send is pushed now
        await alice.send("mallory", "three")
        pushed = await peer.recv_until(Envelope)
        assert pushed.seq == 3
        # Only now does mallory say what it holds (nothing): alice sends what lies below.
        await peer.send(SyncVector(conv=start.conv, vector={}))
        got = {(await peer.recv_until(Envelope)).seq for _ in range(2)}
        assert got == {1, 2}
