"""Trial 2, B4: a node listed ITSELF under Nearby ("(private) 127.0.0.1:PORT", its own address)
and others showed that private entry twice: the advert of the node's previous run (killed, so
no goodbye; a private advert has a random instance name) stays in every cache for its TTL, at
the address and port the node listens on again. Real processes, real mDNS on 127.0.0.1."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from p2pchat.core.presence import Advert
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)

LOOPBACK_MDNS = ("--mdns-interface", "127.0.0.1")
PRIVATE = (*LOOPBACK_MDNS, "--presence", "private")


def _at(node: NodeProcess, port: int | None) -> list[dict[str, Any]]:
    return [n for n in node.json("peers")["nearby"]
            if any(a.endswith(f":{port}") for a in n["addresses"])]


def test_others_list_a_restarted_node_once(make_node: Callable[[str], NodeProcess]) -> None:
    """Alice's private run is killed (no goodbye) and she comes back, public, on the same port:
    bob lists her once, by name, not also as "(private)" at the same address."""
    alice, bob = make_node("alice"), make_node("bob")
    alice.start(*PRIVATE, mdns=True)
    bob.start(*LOOPBACK_MDNS, mdns=True)
    wait_for(lambda: _at(bob, alice.port), 15, "bob hears alice's private advert")
    alice.stop(signal.SIGKILL)  # no goodbye: her advert stays in bob's cache
    alice.start(*LOOPBACK_MDNS, mdns=True)  # the same port again (NodeProcess keeps it)
    wait_for(lambda: any(n["name"] == "alice" for n in _at(bob, alice.port)), 15,
             "bob hears alice's new advert")
    assert [n["name"] for n in _at(bob, alice.port)] == ["alice"]


async def test_a_node_never_lists_an_advert_at_its_own_address(
        make_local_node: MakeLocalNode) -> None:
    """What a run of ours left in a cache, heard back (a private advert at our own address and
    port, as alice's peers page showed): not listed; the same advert elsewhere is."""
    a = await make_local_node("alice", mdns=True, mdns_interfaces=("127.0.0.1",))
    assert a.nearby.discovery is not None
    port = a.listen_addresses[0][1]
    stale = Advert(instance="x1", addresses=(("127.0.0.1", port),), version="1", tag="t" * 16)
    a.nearby.discovery._adverts.clear()  # another process's adverts on loopback are not ours
    a.nearby.discovery._adverts["x1.stale"] = stale
    a.nearby.discovery._adverts["x2.other"] = replace(stale, addresses=(("127.0.0.1", 9),))
    assert [n["addresses"] for n in a.peers()["nearby"]] == [["127.0.0.1:9"]]


async def test_a_linked_contacts_old_private_advert_is_not_a_second_node(
        make_local_node: MakeLocalNode) -> None:
    """Issue 23: bob, linked to alice, also listed "(private) 127.0.0.1:PORT" at her address:
    the advert she made inside a network she has left, still cached. A keyless advert at
    where a linked peer listens is that peer's, on both sides, whichever link won (both dial:
    she has his address, he hears her advert): he learned her port from her Hello, or he
    dialled her at the address of an advert since gone (the flake of s33: half the runs kept
    his link, and hers was listed twice). One elsewhere is still listed."""
    from tests.groups_net import befriend, wait_linked

    loopback = {"mdns": True, "mdns_interfaces": ("127.0.0.1",)}
    alice = await make_local_node("alice", **loopback)
    bob = await make_local_node("bob", **loopback)
    await befriend(alice, bob)  # alice dials bob at his address
    await wait_linked([(alice, bob)])
    # Each side knows where the other listens once its Hello arrived (under load, after the
    # link is up): only then can an advert at that address be told to be theirs.
    await until(lambda: all((link := n.links.by_peer.get(o.key)) is not None
                            and link.peer.their_name is not None
                            for n, o in ((alice, bob), (bob, alice))), 15, "both Hellos")
    for node, other in ((bob, alice), (alice, bob)):
        assert node.nearby.discovery is not None
        port = other.listen_addresses[0][1]
        node.nearby.discovery._adverts.clear()  # her current advert is elsewhere, or none
        stale = Advert(instance="x1", addresses=(("127.0.0.1", port),), version="1",
                       tag="t" * 16)
        node.nearby.discovery._adverts["x1.stale"] = stale
        node.nearby.discovery._adverts["x2.other"] = replace(stale, addresses=(("127.0.0.1", 9),))
        private = [n["addresses"] for n in node.peers()["nearby"] if n["fingerprint"] is None]
        link = node.links.by_peer[other.key]
        assert private == [["127.0.0.1:9"]], (node.name, private, link.outbound, link.dialed)
