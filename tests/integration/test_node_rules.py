"""Nodes in one process on 127.0.0.1: who may link, who may write, one link per peer."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from p2pchat.core.session import SessionConfig
from p2pchat.node import CommandError, Node, NodeConfig
from tests.aio import next_event, until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)



def addr(node: Node) -> str:
    host, port = node.listen_addresses[0]
    return f"{host}:{port}"


def fp(node: Node) -> str:
    return node.status()["fingerprint"]


def texts(node: Node, who: str) -> list[str]:
    return [m["text"] for m in node.history(who)]


async def test_stranger_asks_then_is_accepted(make_local_node: MakeLocalNode) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    events = bob.events.subscribe()
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await alice.send("bob", "it's alice, add me?")
    request = await next_event(events, "contact_request", 10)
    assert request["fingerprint"] == fp(alice) and request["name"] == "alice"
    [listed] = bob.list_contacts()
    assert listed["state"] == "request"
    assert [r["fingerprint"] for r in bob.peers()["requests"]] == [fp(alice)]
    # The stranger's link is closed once its request is in, and nothing else was stored.
    await until(lambda: not bob.links.is_linked(alice.key), what="the stranger link to close")
    assert bob.db.conversations.list_all() == []
    await bob.accept_contact("alice")  # bob dials alice back at the address her Hello gave
    await until(lambda: texts(bob, "alice") == ["it's alice, add me?"], what="the message")
    await until(lambda: alice.history("bob")[0]["status"] == "delivered", what="delivery")
    await bob.send("alice", "welcome")
    await until(lambda: "welcome" in texts(alice, "bob"), what="the reply")


async def test_blocked_peer_gets_nothing_through(make_local_node: MakeLocalNode) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(fp(alice), "alice", [addr(alice)])
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await until(lambda: bob.links.is_linked(alice.key), what="the link")
    await bob.block_contact("alice")
    await until(lambda: not alice.links.is_linked(bob.key), what="the link to drop")
    await alice.send("bob", "let me in")
    await alice.links.dial(bob.key, bob.listen_addresses[0])  # dialling again is refused too
    assert not bob.links.is_linked(alice.key)
    assert texts(bob, "alice") == []
    assert bob.list_contacts()[0]["state"] == "blocked"


async def test_simultaneous_dials_keep_one_agreed_link(make_local_node: MakeLocalNode) -> None:
    for round in range(3):
        alice, bob = await make_local_node(f"alice{round}"), await make_local_node(f"bob{round}")
        await _dial_each_other(alice, bob)
        await alice.stop()
        await bob.stop()


async def _dial_each_other(alice: Node, bob: Node) -> None:
    await asyncio.gather(alice.add_contact(fp(bob), "bob", [addr(bob)]),
                         bob.add_contact(fp(alice), "alice", [addr(alice)]))
    await asyncio.gather(alice.links.dial(bob.key, bob.listen_addresses[0]),
                         bob.links.dial(alice.key, alice.listen_addresses[0]))

    def settled() -> bool:
        a, b = alice.links.by_peer.get(bob.key), bob.links.by_peer.get(alice.key)
        live = [c for c in alice.links.connections if c.remote_key == bob.key and not c.closed]
        return bool(a and b and not a.closed and not b.closed and len(live) == 1)

    await until(settled, what="one link")
    # The link initiated by the smaller key wins, on both sides.
    smaller_is_alice = alice.key < bob.key
    assert alice.links.by_peer[bob.key].outbound == smaller_is_alice
    assert bob.links.by_peer[alice.key].outbound == (not smaller_is_alice)
    await alice.send("bob", "one link")
    await until(lambda: texts(bob, "alice") == ["one link"], what="delivery")


async def test_trickling_handshake_is_cut_off(make_local_node: MakeLocalNode) -> None:
    fast = dataclasses.replace(SessionConfig(), handshake_timeout=1.0)
    bob = await make_local_node("bob", session=fast)
    host, port = bob.listen_addresses[0]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for byte in b"\x00\x21\x01":  # the start of a frame, one byte at a time
            writer.write(bytes([byte]))
            await writer.drain()
        # Without the handshake timeout the node would wait for the rest forever.
        assert await asyncio.wait_for(reader.read(100), 10) == b""  # the node hung up
    finally:
        writer.close()
    assert not bob.links.connections or all(c.closed for c in bob.links.connections)


async def test_strangers_are_bounded(make_local_node: MakeLocalNode) -> None:
    bob = await make_local_node("bob", max_strangers=2, max_requests=3)
    strangers = [await make_local_node(f"s{i}") for i in range(5)]
    for s in strangers:
        await s.add_contact(fp(bob), "bob", [addr(bob)])
    await until(lambda: len(bob.list_contacts()) >= 2, what="requests")
    for s in strangers:
        s.links.dialer.wake(bob.key)
    await until(lambda: len(bob.list_contacts()) == 3, what="three requests")
    live = [c for c in bob.links.connections if c.peer.stranger and not c.closed]
    assert len(live) <= 2
    assert len(bob.list_contacts()) == 3  # never more than max_requests


async def test_key_mismatch_is_an_event_and_no_link(make_local_node: MakeLocalNode) -> None:
    alice, mallory = await make_local_node("alice"), await make_local_node("mallory")
    bob_key = Identity.generate().public_key
    from p2pchat.core.identity import fingerprint

    events = alice.events.subscribe()
    await alice.add_contact(fingerprint(bob_key), "bob", [addr(mallory)])
    event = await next_event(events, "key_mismatch", 10)
    assert event["expected"] == fingerprint(bob_key) and event["presented"] == fp(mallory)
    assert not alice.links.is_linked(bob_key) and not alice.links.by_peer


async def test_command_errors_are_clear(make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    with pytest.raises(CommandError, match="not valid"):
        await alice.add_contact("ABC", "x")
    with pytest.raises(CommandError, match="your own"):
        await alice.add_contact(fp(alice), "me")
    with pytest.raises(CommandError, match="no contact"):
        await alice.send("nobody", "hi")
    other = Identity.generate().public_key
    from p2pchat.core.identity import fingerprint

    await alice.add_contact(fingerprint(other), "bob", ["127.0.0.1:9"])
    with pytest.raises(CommandError, match="already"):
        await alice.add_contact(fingerprint(other), "bob")
    with pytest.raises(CommandError, match="nothing to send"):
        await alice.send("bob", "   ")
    with pytest.raises(CommandError, match="HOST:PORT"):
        await alice.add_contact(fingerprint(Identity.generate().public_key), "c", ["nope"])


async def test_second_node_on_the_same_home_is_refused(make_local_node: MakeLocalNode,
                                                       tmp_path: Path) -> None:
    alice = await make_local_node("alice")
    twin = Node(alice.home, alice.identity, "alice", NodeConfig(mdns=False))
    with pytest.raises(CommandError, match="already running"):
        await twin.start()


async def test_peer_may_only_write_as_itself(make_local_node: MakeLocalNode) -> None:
    from p2pchat.core.messages import ZERO_HASH, Envelope, dm_conversation_id, encode_text

    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(fp(alice), "alice", [addr(alice)])
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await until(lambda: alice.links.has_working_link(bob.key)
                and bob.links.has_working_link(alice.key), what="the link")
    conv = dm_conversation_id(alice.key, bob.key)

    def forged(author: bytes) -> Envelope:
        return Envelope(conv=conv, author=author, seq=1, lamport=1, sent_at=0, prev=ZERO_HASH,
                        body=encode_text("forged"))

    link = alice.links.by_peer[bob.key]
    alice.outbox.queue(link, forged(bob.key))  # bob's own words, "pushed back": ignored, link stays
    await alice.send("bob", "real")
    await until(lambda: texts(bob, "alice") == ["real"], what="the real message")
    assert not link.closed and [m["text"] for m in bob.history("alice")] == ["real"]
    carol = Identity.generate().public_key
    alice.outbox.queue(link, forged(carol))  # someone else's words on alice's link: refused
    await until(lambda: link.closed, what="the link to be cut")
    assert "may not write" in (link.close_reason or "")  # bob told alice why
    assert [m["text"] for m in bob.history("alice")] == ["real"]


async def test_default_listener_serves_ipv4_and_ipv6_on_one_port(
        make_local_node: MakeLocalNode) -> None:
    import socket

    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6")
    bob = await make_local_node("bob", listen=(("::", 0),))
    [(host4, port), (host6, port6)] = bob.listen_addresses  # one socket, both families
    assert (host4, host6) == ("0.0.0.0", "::") and port == port6
    assert bob.status()["listen"] == [f"0.0.0.0:{port}", f"[::]:{port}"]
    alice, carol = await make_local_node("alice"), await make_local_node("carol")
    for friend, address in ((alice, f"127.0.0.1:{port}"), (carol, f"[::1]:{port}")):
        await bob.add_contact(fp(friend), friend.name)
        await friend.add_contact(fp(bob), "bob", [address])
        await friend.send("bob", f"hi from {friend.name}")
        await until(lambda f=friend: texts(bob, f.name) == [f"hi from {f.name}"],
                    what=f"{friend.name}'s message over {address}")
    addresses = {link.remote_key: link.address[0] for link in bob.links.by_peer.values()}
    assert addresses[alice.key] == "127.0.0.1"  # v4-mapped shown plain
    assert addresses[carol.key] == "::1"


async def test_a_burst_of_messages_is_committed_in_few_batches(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    from p2pchat.storage.store import Store

    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(fp(alice), "alice", [addr(alice)])
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await until(lambda: alice.links.has_working_link(bob.key), what="the link")
    await bob.stop()  # alice queues while bob is away
    for i in range(200):
        await alice.send("bob", f"queued {i}")
    bob = await make_local_node("bob2", identity=bob.identity)  # a fresh process, same person
    commits = 0
    real_commit = Store.commit

    def counting_commit(self: Store) -> None:
        nonlocal commits
        if self is bob.store:
            commits += 1
        real_commit(self)

    monkeypatch.setattr(Store, "commit", counting_commit)
    await bob.add_contact(fp(alice), "alice", [addr(alice)])
    await until(lambda: len(bob.history("alice")) == 200, 20, "the burst to arrive")
    print(f"{commits} commits for 200 received messages")
    assert commits < 40, f"{commits} commits for 200 messages: writes are not batched"


async def test_private_peer_still_accepts_us_after_our_clock_steps_back(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    bob = await make_local_node("bob", presence="private")  # IK only: no XX fallback
    alice = await make_local_node("alice")
    await bob.add_contact(fp(alice), "alice")
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await until(lambda: alice.links.has_working_link(bob.key), what="the first link")
    await bob.links.dialer.stop()  # only alice dials from here on: her timestamps are under test
    real_time_ns = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() - 3600 * 10**9)
    old = alice.links.by_peer[bob.key]
    bob.links.by_peer[alice.key].close("test: drop the link")
    await until(lambda: alice.links.by_peer.get(bob.key) not in (None, old)
                and alice.links.has_working_link(bob.key), what="a new link")
    new = alice.links.by_peer[bob.key]
    assert new.outbound and new.session.pattern == "IK"
