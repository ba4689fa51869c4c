"""A hand-driven peer (tests/hostile_peer.py) against real in-process nodes on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from nacl.secret import SecretBox

from p2pchat.core.identity import Identity
from p2pchat.core.messages import (
    MAX_SENT_AT,
    Envelope,
    Hello,
    SyncRequest,
    SyncVector,
    envelope_hash,
)
from tests.aio import until
from tests.hostile_peer import (
    HostilePeer,
    PeerClosed,
    envelope,
    hostile_contact,
    raw_envelope,
    raw_hash,
)
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)

NOW_MS = 1_700_000_000_000


async def test_hostile_peer_talks_to_a_real_node(make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        assert peer.established is not None and peer.established.pattern == "IK"
        assert peer.established.remote_key == alice.key
        hello = await peer.recv_until(Hello)
        assert (hello.name, hello.knows_you) == ("alice", True)
        first = envelope(alice, mallory, 1, "hello from a hand-driven peer")
        await peer.send(first)
        ack = await peer.recv_until(SyncVector)
        while ack.vector.get(mallory.public_key) != 1:  # the link-start vector comes first
            ack = await peer.recv_until(SyncVector)
        assert [m["text"] for m in alice.history("mallory")] == ["hello from a hand-driven peer"]
    # A throwaway identity gets the XX handshake and a stranger's welcome: nothing more.
    async with HostilePeer.connect(Identity.generate(), alice.listen_addresses[0]) as stranger:
        assert stranger.established is not None and stranger.established.pattern == "XX"
        hello = await stranger.recv_until(Hello)
        assert hello.knows_you is False


async def test_far_future_sent_at_is_refused_and_history_stays_readable(
    make_local_node: MakeLocalNode,
) -> None:
    # Finding 3: an envelope dated after the year 9999 used to be stored, and then every view
    # of the conversation raised, for good. Now the codec refuses it at the door.
    alice = await make_local_node("alice")
    identity = alice.identity
    mallory = await hostile_contact(alice)
    address = alice.listen_addresses[0]
    good = envelope(alice, mallory, 1, "an ordinary message")
    async with HostilePeer.connect(mallory, address, remote_key=alice.key) as peer:
        await peer.send(good)
        edge = envelope(alice, mallory, 2, "the last millisecond of 9999", envelope_hash(good),
                        sent_at=MAX_SENT_AT)
        await peer.send(edge)
        await until(lambda: len(alice.history("mallory")) == 2, what="both messages")
        await peer.send(raw_envelope(envelope(alice, mallory, 3, "from the year 292 million",
                                              envelope_hash(edge)), sent_at=2**63 - 1))
        reason = await peer.wait_closed()
    assert "bad record" in reason and "sent_at" in reason
    views = alice.history("mallory")
    assert [m["text"] for m in views] == ["an ordinary message", "the last millisecond of 9999"]
    assert views[1]["sent_at"].startswith("9999-12-31T23:59:59")
    await alice.stop()
    again = await make_local_node("alice", identity=identity)
    assert [m["text"] for m in again.history("mallory")] == [m["text"] for m in views]


def poison_as_an_older_version_would(db: Path, identity: Identity, env: Envelope) -> bytes:
    """Rewrite `env`'s row as a version without the sent_at bound stored it; its new id."""
    poisoned = raw_envelope(env, sent_at=2**63 - 1)
    sealed = SecretBox(identity.derive_key("store")).encrypt(poisoned)
    with sqlite3.connect(db) as conn:
        changed = conn.execute(
            "UPDATE messages SET sealed = ?, hash = ?, sent_at = ? WHERE author = ? AND seq = ?",
            (bytes(sealed), raw_hash(poisoned), 2**63 - 1, env.author, env.seq),
        ).rowcount
    assert changed == 1
    return raw_hash(poisoned)


async def test_history_reads_around_a_row_an_older_version_stored(
    make_local_node: MakeLocalNode, tmp_path: Path
) -> None:
    alice = await make_local_node("alice")
    identity = alice.identity
    mallory = await hostile_contact(alice)
    first = envelope(alice, mallory, 1, "one")
    second = envelope(alice, mallory, 2, "two", envelope_hash(first))
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.send(first)
        await peer.send(second)
        await until(lambda: len(alice.history("mallory")) == 2, what="both messages")
    await alice.send("mallory", "three, from alice")
    await alice.stop()
    poison_as_an_older_version_would(tmp_path / "alice" / "p2pchat.db", identity, second)

    alice = await make_local_node("alice", identity=identity)
    texts = [m["text"] for m in alice.history("mallory")]
    assert texts == ["one", "(unreadable message)", "three, from alice"]
    assert [m["text"] for m in alice.history("mallory", limit=2)] == texts[1:]
    # Sync still serves what precedes the bad row, and never a stand-in for it.
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.send(SyncVector(conv=first.conv, vector={}))  # "I hold nothing"
        # Answered after everything the vector triggered: marks the end of that reply.
        await peer.send(SyncRequest(conv=first.conv, author=alice.key, first=1, last=1))
        seen: list[Envelope] = []
        while sum(e.author == alice.key for e in seen) < 2 and len(seen) < 10:
            seen.append(await peer.recv_until(Envelope))
    assert [e for e in seen if e.author == mallory.public_key] == [first]
    assert alice.db.conversations.envelopes(first.conv, mallory.public_key, 1, 2) == [first]


async def test_a_peer_that_fails_the_handshake_is_reported(
    make_local_node: MakeLocalNode,
) -> None:
    alice = await make_local_node("alice", presence="private")
    # Private presence takes only IK from peers that know its key: XX from a stranger is cut.
    with pytest.raises(PeerClosed, match="handshake"):
        async with HostilePeer.connect(Identity.generate(), alice.listen_addresses[0]):
            pass

