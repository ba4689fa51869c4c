"""Forged and malformed mDNS adverts on 127.0.0.1: an advert suggests, the handshake decides."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.presence import SERVICE_TYPE
from tests.aio import next_event, until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)



@pytest.fixture
async def forger() -> AsyncIterator[Callable[[str, int, dict[bytes, bytes]], Awaitable[None]]]:
    """Registers raw adverts of our choosing, as an attacker on the LAN could."""
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"])
    infos: list[AsyncServiceInfo] = []

    async def advertise(instance: str, port: int, properties: dict[bytes, bytes]) -> None:
        # A random suffix: another run on this host's loopback must not hold the same name.
        instance = f"{instance}-{os.urandom(4).hex()}"
        info = AsyncServiceInfo(
            SERVICE_TYPE, f"{instance}.{SERVICE_TYPE}", port=port, properties=properties,
            addresses=[socket.inet_aton("127.0.0.1")], server=f"{instance}.local.",
        )
        await aiozc.async_register_service(info)
        infos.append(info)

    yield advertise
    for info in infos:
        await aiozc.async_unregister_service(info)
    await aiozc.async_close()


async def test_forged_advert_never_changes_who_a_contact_is(make_local_node: MakeLocalNode,
                                                            forger: Any) -> None:
    alice = await make_local_node("alice", mdns=True, mdns_interfaces=("127.0.0.1",))
    mallory = await make_local_node("mallory")
    bob_identity = Identity.generate()
    bob_fp = fingerprint(bob_identity.public_key)
    events = alice.events.subscribe()
    # Mallory's endpoint, advertised under bob's fingerprint and name; and some junk.
    await forger("forged-bob", mallory.listen_addresses[0][1],
                 {b"v": b"1", b"fp": bob_fp.encode(), b"n": b"bob"})
    await forger("junk", 9, {b"v": b"1", b"fp": b"\xff" * 250, b"n": b"\x1b[2J" * 60})
    await forger("future", 9, {b"v": b"99", b"fp": bob_fp.encode()})
    await until(lambda: any(n["fingerprint"] == bob_fp for n in alice.peers()["nearby"]), 20,
                "alice to see the forged advert")
    for entry in alice.peers()["nearby"]:  # junk is dropped or cleaned, never a crash
        assert entry["name"] is None or "\x1b" not in entry["name"]

    await alice.add_contact(bob_fp, "bob")  # a fingerprint, no address
    mismatch = await next_event(events, "key_mismatch", 20)
    assert mismatch["expected"] == bob_fp
    assert mismatch["presented"] == fingerprint(mallory.key)
    assert not alice.links.is_linked(bob_identity.public_key) and not alice.links.by_peer
    assert mallory.db.contacts.list_all() == [] and mallory.db.conversations.list_all() == []

    # The real bob appears: the same pinned contact reaches him, and only him.
    bob = await make_local_node("bob", identity=bob_identity, mdns=True,
                                mdns_interfaces=("127.0.0.1",))
    await bob.add_contact(fingerprint(alice.key), "alice")
    await alice.send("bob", "only for the real bob")
    await until(lambda: [m["text"] for m in bob.history("alice")] == ["only for the real bob"],
                20, "the real bob to receive it")
    assert alice.links.by_peer[bob.key].remote_key == bob.key
    assert [c["fingerprint"] for c in alice.list_contacts()] == [bob_fp]
    assert mallory.db.conversations.list_all() == []
