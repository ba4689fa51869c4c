"""What a hostile contact or stranger can do to a node, driven by hand against real nodes.

Each test plays the attack with tests/hostile_peer.py (a real Session over a real TCP socket)
and shows the rule that now holds (docs/protocol.md, docs/privacy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from p2pchat.control_client import ControlClient
from p2pchat.core.framing import encode_frame
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import (
    ContactRequest,
    Envelope,
    Hello,
    SyncVector,
    dm_conversation_id,
    envelope_hash,
)
from p2pchat.core.session import KIND_RETRY_XX, Session, SessionConfig
from p2pchat.node import Node
from tests.aio import next_event, until
from tests.hostile_peer import HostilePeer, envelope, hostile_contact
from tests.local_nodes import MakeLocalNode
from tests.nodes import NodeProcess

pytestmark = pytest.mark.timeout(90)


def _vm_hwm_kib(node: NodeProcess) -> int:
    """The process's peak resident memory so far (kernel's VmHWM), in KiB."""
    assert node.proc is not None
    status = Path(f"/proc/{node.proc.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


# -- 1. sync amplification ----------------------------------------------------------------------

async def test_a_flood_of_vectors_costs_no_memory_and_the_node_keeps_answering(
        make_node: Callable[[str], NodeProcess]) -> None:
    alice = make_node("alice").start()
    mallory = Identity.generate()
    alice.cli("contacts", "add", fingerprint(mallory.public_key), "--name", "mallory",
              check=True)
    text = "x" * 16_000  # near the largest message: 1,000 of them are 16 MB
    with ControlClient(alice.home) as control:
        for _ in range(1000):
            control.call("send", to="mallory", text=text)
    alice_key = bytes.fromhex(alice.json("status")["public_key"])
    conv = dm_conversation_id(alice_key, mallory.public_key)
    before = _vm_hwm_kib(alice)
    async with HostilePeer.connect(mallory, ("127.0.0.1", alice.port),
                                   remote_key=alice_key) as peer:
        # 100 "I have nothing" vectors in one write: once, each made the node load, decrypt and
        # queue all 16 MB again (1.6 GB).
        await peer.send_many([SyncVector(conv=conv, vector={})] * 100)
        first = await peer.recv_until(Envelope)
        assert first.seq == 1
        # Mallory now reads nothing more. The node must keep answering its user meanwhile.
        started = time.monotonic()
        status = await asyncio.to_thread(alice.json, "status")
        assert status["links"] == 1 and time.monotonic() - started < 5
        peak = _vm_hwm_kib(alice)
    assert peak - before < 48 * 1024, (before, peak)  # KiB: a few batches, never the range


async def test_vectors_and_requests_beyond_the_budget_cost_the_link(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    conv = dm_conversation_id(alice.key, mallory.public_key)
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.recv_until(Hello)
        await peer.send_many([SyncVector(conv=conv, vector={})] * 2000)
        assert "too many sync records" in await peer.wait_closed()


async def test_acknowledgements_that_lag_behind_ask_for_nothing_twice(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    conv = dm_conversation_id(alice.key, mallory.public_key)
    for n in range(40):
        await alice.send("mallory", f"queued {n}")
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.send(SyncVector(conv=conv, vector={}))
        seqs = [(await peer.recv_until(Envelope)).seq for _ in range(40)]
        # The same stale vector again, many times: everything it asks for is already sent.
        await peer.send_many([SyncVector(conv=conv, vector={})] * 20)
        await peer.send(SyncVector(conv=conv, vector={alice.key: 40}))
        with pytest.raises(AssertionError, match="timed out"):
            await peer.recv_until(Envelope, timeout=1.0)
    assert seqs == list(range(1, 41))


# -- 2. connection slots --------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def idle_connections(port: int, hosts: list[str], each: int
                           ) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """TCP connections that never say a word, from several source addresses."""
    writers = []
    try:
        for host in hosts:
            for _ in range(each):
                _, writer = await asyncio.open_connection("127.0.0.1", port,
                                                          local_addr=(host, 0))
                writers.append(writer)
        yield writers
    finally:
        for writer in writers:
            writer.close()


async def test_a_stranger_holding_every_handshake_slot_never_keeps_contacts_out(
        make_local_node: MakeLocalNode) -> None:
    bob = await make_local_node("bob")
    alice = await make_local_node("alice")  # dials bob: needs a handshake slot at bob
    carol = await make_local_node("carol")  # only bob dials: bob's own dial must get out
    port = bob.listen_addresses[0][1]
    hosts = [f"127.0.0.{n}" for n in range(2, 12)]  # 10 addresses x 4: more than 32 slots
    async with idle_connections(port, hosts, 4):
        await until(lambda: len(bob.links.connections) >= bob.config.max_handshakes, 10,
                    "the idle connections to be taken")
        async with idle_connections(port, ["127.0.0.12"], 4):  # and they keep coming
            await alice.add_contact(fingerprint(bob.key), "bob",
                                    [f"127.0.0.1:{port}"])
            await bob.add_contact(fingerprint(alice.key), "alice")
            await bob.add_contact(fingerprint(carol.key), "carol",
                                  [f"127.0.0.1:{carol.listen_addresses[0][1]}"])
            await carol.add_contact(fingerprint(bob.key), "bob")
            await until(lambda: bob.links.is_linked(alice.key) and bob.links.is_linked(carol.key),
                        15, "bob's contacts to link through the held slots")
            handshaking = [c for c in bob.links.connections
                           if not c.outbound and not c.peer.up and not c.closed]
            assert len(handshaking) <= bob.config.max_handshakes


# -- 4. IK replay and the timestamp table ---------------------------------------------------------

def _ik1(identity: Identity, node: Node, ts: int) -> tuple[Session, bytes]:
    session = Session(identity=identity, initiator=True, now=0.0, remote_key=node.key,
                      ik_timestamp=ts)
    return session, session.data_to_send()


async def test_strangers_leave_no_ik_timestamps_and_a_replayed_ik_never_links(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    fast = dataclasses.replace(SessionConfig(), handshake_timeout=1.0)
    bob = await make_local_node("bob", session=fast)
    for _ in range(30):  # throwaway keys: each completes an IK handshake as a stranger
        async with HostilePeer.connect(Identity.generate(), bob.listen_addresses[0],
                                       remote_key=bob.key) as peer:
            await peer.recv_until(Hello)
    assert bob.db.ik_stamps.latest() == {}  # nothing about strangers is written down

    eve = Identity.generate()
    _, ik1 = _ik1(eve, bob, time.time_ns())
    events = bob.events.subscribe()
    # A recorded IK1 of a key the guard does not hold (a stranger's, after a restart): the
    # timestamp check passes, but the replayer has no keys, so the link must never come up.
    reader, writer = await asyncio.open_connection(*bob.listen_addresses[0])
    writer.write(ik1)
    ik2 = await asyncio.wait_for(reader.read(65536), 5)
    assert ik2  # answered...
    assert await asyncio.wait_for(reader.read(65536), 5) == b""  # ...then dropped, unlinked
    writer.close()
    assert not bob.links.is_linked(eve.public_key)
    assert all(e is None or e["type"] != "link_up" for e in _drain(events))


def _drain(queue: asyncio.Queue[dict[str, object] | None]) -> list[dict[str, object] | None]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_a_contacts_recorded_ik_is_refused_after_a_restart(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    bob_identity = Identity.generate()
    bob = await make_local_node("bob", identity=bob_identity)
    alice = Identity.generate()
    await bob.add_contact(fingerprint(alice.public_key), "alice")
    session, ik1 = _ik1(alice, bob, time.time_ns())
    reader, writer = await asyncio.open_connection(*bob.listen_addresses[0])
    writer.write(ik1)
    session.receive_data(await asyncio.wait_for(reader.read(65536), 5), 0.0)
    assert session.established
    writer.write(session.data_to_send())  # key confirmation: now the link is real
    await until(lambda: bob.links.is_linked(alice.public_key), 5, "the genuine link")
    writer.close()
    await bob.stop()

    again = Node(bob.home, bob_identity, "bob", bob.config)
    await again.start()
    try:
        reader, writer = await asyncio.open_connection(*again.listen_addresses[0])
        writer.write(ik1)  # the same bytes, recorded: the stored timestamp refuses them
        answer = await asyncio.wait_for(reader.read(65536), 5)
        assert answer == encode_frame(bytes([KIND_RETRY_XX]))
        writer.close()
        assert set(again.db.ik_stamps.latest()) == {alice.public_key}
    finally:
        await again.stop()


# -- 6. backdating --------------------------------------------------------------------------------

async def test_a_contact_cannot_backdate_before_what_it_acknowledged(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)
    conv = dm_conversation_id(alice.key, mallory.public_key)
    first = envelope(alice, mallory, 1, "first", lamport=1)
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.send(first)
        await until(lambda: len(alice.history("mallory")) == 1, 5, "the first message")
        for n in range(3):
            await alice.send("mallory", f"alice {n}")  # lamports 2, 3, 4
        for _ in range(3):
            await peer.recv_until(Envelope)
        # Mallory acknowledges all three, then writes "before" them, dated in 2020.
        await peer.send(SyncVector(conv=conv, vector={alice.key: 3, mallory.public_key: 1}))
        prev = envelope_hash(first)
        backdated = envelope(alice, mallory, 2, "I owe nothing", prev, lamport=2,
                             sent_at=1_580_000_000_000)
        await peer.send(backdated)
        same_clock = envelope(alice, mallory, 2, "as old as my last", prev, lamport=1)
        await peer.send(same_clock)
        honest = envelope(alice, mallory, 2, "after all that", prev, lamport=5)
        await peer.send(honest)
        await until(lambda: len(alice.history("mallory")) == 5, 5, "the honest message")
    texts = [m["text"] for m in alice.history("mallory")]
    assert texts == ["first", "alice 0", "alice 1", "alice 2", "after all that"]


async def test_the_backdating_floor_outlives_a_restart(make_local_node: MakeLocalNode) -> None:
    identity = Identity.generate()
    alice = await make_local_node("alice", identity=identity)
    mallory = await hostile_contact(alice)
    conv = dm_conversation_id(alice.key, mallory.public_key)
    first = envelope(alice, mallory, 1, "first", lamport=1)
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await peer.send(first)
        await alice.send("mallory", "seen by mallory")  # lamport 2
        await peer.recv_until(Envelope)
        await peer.send(SyncVector(conv=conv, vector={alice.key: 1, mallory.public_key: 1}))
        await until(lambda: alice.history("mallory")[-1]["status"] == "delivered", 5, "the ack")
    await alice.stop()
    again = Node(alice.home, identity, "alice", alice.config)
    await again.start()
    try:
        async with HostilePeer.connect(mallory, again.listen_addresses[0],
                                       remote_key=again.key) as peer:
            await peer.recv_until(Hello)
            await peer.send(envelope(again, mallory, 2, "backdated", envelope_hash(first),
                                     lamport=2))
            await peer.send(envelope(again, mallory, 2, "fine", envelope_hash(first),
                                     lamport=3))
            await until(lambda: len(again.history("mallory")) == 3, 5, "the honest message")
        assert [m["text"] for m in again.history("mallory")] == [
            "first", "seen by mallory", "fine"]
    finally:
        await again.stop()


# -- 7. the request inbox -------------------------------------------------------------------------

async def test_throwaway_requests_never_lock_a_genuine_one_out(
        make_local_node: MakeLocalNode) -> None:
    bob = await make_local_node("bob", max_requests=6)
    events = bob.events.subscribe()

    async def ask(name: str, host: str) -> Identity:
        identity = Identity.generate()
        async with HostilePeer.connect(identity, bob.listen_addresses[0],
                                       local_host=host) as peer:
            await peer.send(ContactRequest(name=name, note=""))
            await peer.wait_closed()
        return identity

    for n in range(5):  # one address: only 4 may wait
        await ask(f"spam {n}", "127.0.0.2")
    await until(lambda: bob.trust.requests_dropped == 1, 5, "the fifth to be dropped")
    dropped = await next_event(events, "requests_dropped", 5)
    assert "127.0.0.2" in str(dropped["reason"])
    for n in range(2):  # other addresses fill the inbox...
        await ask(f"more spam {n}", f"127.0.0.{3 + n}")
    carol = await ask("carol", "127.0.0.9")  # ...and a genuine one still gets in
    requests = bob.peers()["requests"]
    assert len(requests) == 6
    assert fingerprint(carol.public_key) in {r["fingerprint"] for r in requests}
    assert "spam 0" not in {r["name"] for r in requests}  # the oldest made room
    assert bob.status()["requests_dropped"] == 2

