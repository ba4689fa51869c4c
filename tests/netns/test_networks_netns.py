"""Issue #14, "Checked from outside": three hosts with mDNS on. Alice created "class", Bob
joined it with the passphrase it printed (Alice's node admits him, issue #26), Carol joined
"class" with another passphrase, or no network. Alice and Bob find each other and
chat by fingerprint with no address typed; Carol's `peers --json` names neither of them, and her
`contacts add` of Alice's fingerprint never becomes a request on Alice."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.netns.netns import Network
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)

MakeNode = Callable[[str], NodeProcess]


def _join(node: NodeProcess, passphrase: str) -> None:
    proc = node.cli("network", "join", "class", env={"P2PCHAT_NETWORK_PASSPHRASE": passphrase},
                    check=True)
    assert "Not joined yet" in proc.stdout  # no node runs yet: it asks once started


def _texts(node: NodeProcess, who: str) -> list[str]:
    return [m["text"] for m in node.log_json(who) if not m["own"]]


def _sees(node: NodeProcess, other: NodeProcess) -> bool:
    return any(n["fingerprint"] == other.fingerprint and n["name"] == other.name
               and n.get("network") == "class" for n in node.json("peers")["nearby"])


@pytest.mark.parametrize("carol_passphrase", ["red-heron-17", None],
                         ids=["wrong-passphrase", "no-network"])
def test_a_class_network_hides_its_members_from_outsiders(
        make_network: Callable[[int], Network], make_node: MakeNode,
        carol_passphrase: str | None) -> None:
    net = make_network(3)
    alice, bob, carol = (make_node(n) for n in ("alice", "bob", "carol"))
    passphrase = alice.json("network", "create", "class")["passphrase"]
    _join(bob, passphrase)
    if carol_passphrase is not None:
        _join(carol, carol_passphrase)
    for node, host in zip((alice, bob, carol), net.hosts, strict=True):
        node.start(listen="0.0.0.0:0", mdns=True, host=host)
    assert alice.json("status")["networks"] == ["class"]
    wait_for(lambda: bob.json("status")["networks"] == ["class"], 15, "bob's admission")

    # Members see each other nearby, by name, as members of "class".
    wait_for(lambda: _sees(alice, bob), 15, "alice to see bob nearby")
    wait_for(lambda: _sees(bob, alice), 15, "bob to see alice nearby")

    # Chat by fingerprint, no address typed.
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    alice.cli("send", "bob", "hello from the class", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["hello from the class"], 20, "alice's message")
    bob.cli("send", "alice", "hello back", check=True)
    wait_for(lambda: _texts(alice, "bob") == ["hello back"], 20, "bob's reply")

    # Carol hears both members' adverts (the control: mDNS reaches her), and opens neither.
    wait_for(lambda: carol.json("peers")["nearby_hidden"] >= 2, 15, "carol to hear the adverts")
    said = carol.cli("peers", check=True).stdout  # what a person reading `peers` is told
    assert "nearby in networks you are not in (not shown)" in said
    carol.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    # Time passes in messages, not sleeps: another round trip between the members.
    alice.cli("send", "bob", "still here", check=True)
    wait_for(lambda: _texts(bob, "alice") == ["hello from the class", "still here"], 20,
             "a second message")
    seen_by_carol = json.dumps(carol.json("peers"))
    for who in (alice, bob):
        assert who.fingerprint not in seen_by_carol
        assert f'"{who.name}"' not in seen_by_carol
    peers = carol.json("peers")
    assert all(n.get("fingerprint") is None for n in peers["nearby"]), peers["nearby"]
    assert peers["links"] == []
    # Alice got no request, and no link from Carol, ever.
    assert alice.json("peers")["requests"] == []
    assert not any(c["fingerprint"] == carol.fingerprint for c in alice.json("contacts", "list"))
    assert not any(p["fingerprint"] == carol.fingerprint for p in alice.json("peers")["links"])
