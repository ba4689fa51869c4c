"""Real nodes on real (namespaced) hosts: found by mDNS with nothing typed but fingerprints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.netns.netns import Network
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(90)

MakeNode = Callable[[str], NodeProcess]


def _start(node: NodeProcess, host: object, *extra: str) -> NodeProcess:
    return node.start(*extra, listen="0.0.0.0:0", mdns=True, host=host)


def _add(a: NodeProcess, b: NodeProcess) -> None:
    """Only the fingerprint is typed: no address."""
    a.cli("contacts", "add", b.fingerprint, "--name", b.name, check=True)


def _befriend(a: NodeProcess, b: NodeProcess) -> None:
    _add(a, b)
    _add(b, a)


def _texts(node: NodeProcess, who: str) -> list[str]:
    """What `who` wrote in the conversation, as `node` shows it."""
    return [m["text"] for m in node.log_json(who) if not m["own"]]


def _linked(a: NodeProcess, b: NodeProcess) -> bool:
    return any(p["fingerprint"] == b.fingerprint and p["state"] == "contact"
               for p in a.json("peers")["links"])


def test_two_hosts_chat_with_only_fingerprints(
        make_network: Callable[[int], Network], make_node: MakeNode) -> None:
    net = make_network(2)
    alice, bob = make_node("alice"), make_node("bob")
    _start(alice, net.hosts[0])
    _start(bob, net.hosts[1])
    nearby = wait_for(lambda: alice.json("peers")["nearby"], 10, "bob in alice's nearby list")
    assert nearby[0]["fingerprint"] == bob.fingerprint and nearby[0]["name"] == "bob"
    assert nearby[0]["addresses"][0].startswith(net.hosts[1].address + ":")
    _befriend(alice, bob)
    started = time.monotonic()
    alice.cli("send", "bob", "found you", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["found you"], 10, "the message over mDNS")
    print(f"message delivered {time.monotonic() - started:.2f}s after send")


def test_three_hosts_all_chat(
        make_network: Callable[[int], Network], make_node: MakeNode) -> None:
    net = make_network(3)
    people = [make_node(n) for n in ("alice", "bob", "carol")]
    for person, host in zip(people, net.hosts, strict=True):
        _start(person, host)
    for a in people:
        for b in people:
            if a is not b:
                _add(a, b)
    for a in people:
        for b in people:
            if a is not b:
                a.cli("send", b.name, f"{a.name} to {b.name}", check=True)
    for a in people:
        for b in people:
            if a is not b:
                wait_for(lambda a=a, b=b: _texts(b, a.name) == [f"{a.name} to {b.name}"], 15,
                         f"{a.name}'s message to {b.name}")


def test_a_host_that_changes_address_is_found_again(
        make_network: Callable[[int], Network], make_node: MakeNode) -> None:
    net = make_network(2)
    alice, bob = make_node("alice"), make_node("bob")
    _start(alice, net.hosts[0])
    _start(bob, net.hosts[1])
    _befriend(alice, bob)
    wait_for(lambda: _linked(alice, bob), 10, "the first link")
    new_address = net.spare_address()
    net.hosts[1].set_address(new_address)
    moved = time.monotonic()

    def relinked() -> bool:
        links = [p for p in alice.json("peers")["links"] if p["fingerprint"] == bob.fingerprint]
        return any(p["address"].startswith(new_address + ":") for p in links)

    wait_for(relinked, 15, "a link to bob's new address")
    print(f"linked again {time.monotonic() - moved:.2f}s after the address changed")
    alice.cli("send", "bob", "you moved", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["you moved"], 10, "a message after the move")


def test_private_presence_reaches_contacts_and_hides_from_strangers(
        make_network: Callable[[int], Network], make_node: MakeNode) -> None:
    net = make_network(3)
    alice, bob, eve = (make_node(n) for n in ("alice", "bob", "eve"))
    _start(alice, net.hosts[0])
    _start(bob, net.hosts[1])
    _start(eve, net.hosts[2])
    _befriend(alice, bob)
    alice.cli("send", "bob", "before", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["before"], 10, "the first message")
    wait_for(lambda: any(n["name"] == "bob" for n in eve.json("peers")["nearby"]), 10,
             "eve to see public bob")

    bob.stop()  # a clean stop says goodbye on mDNS
    _start(bob, net.hosts[1], "--presence", "private")
    alice.cli("send", "bob", "after", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["before", "after"], 15, "a message to private bob")
    # Alice recognises bob's private advert: she knows his key.
    wait_for(lambda: any(n["fingerprint"] == bob.fingerprint and n["private"]
                         for n in alice.json("peers")["nearby"]), 10, "alice to recognise bob")
    # Eve sees a private node is there, and nothing of who it is.
    wait_for(lambda: any(n["private"] for n in eve.json("peers")["nearby"]), 10,
             "eve to see a private advert")
    seen_by_eve = json.dumps(eve.json("peers"))
    assert bob.fingerprint not in seen_by_eve and "bob" not in seen_by_eve
    assert bob.json("status")["presence"] == "private"


def test_ipv6_only_hosts_find_each_other_and_chat(
        make_network: Callable[[int], Network], make_node: MakeNode) -> None:
    net = make_network(2)
    for index, host in enumerate(net.hosts, start=1):
        host.use_ipv6_only(f"fd42::{index}")
    alice, bob = make_node("alice"), make_node("bob")
    alice.start(listen="[::]:0", mdns=True, host=net.hosts[0])  # the default: dual-stack
    bob.start(listen="[::]:0", mdns=True, host=net.hosts[1])
    nearby = wait_for(lambda: alice.json("peers")["nearby"], 15, "bob, seen over IPv6 mDNS")
    assert nearby[0]["fingerprint"] == bob.fingerprint
    assert nearby[0]["addresses"][0].startswith("[fd42::2]:")
    _befriend(alice, bob)
    alice.cli("send", "bob", "over IPv6", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["over IPv6"], 15, "the message over IPv6")
    [link] = alice.json("peers")["links"]
    assert link["address"].startswith("[fd42::2]:")
