"""The hotspot case on real (namespaced) hosts: two clients that cannot reach each other, a relay
that both can reach, and an end-to-end session between the clients through it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from p2pchat.core.identity import Identity
from p2pchat.relay.status import read_status
from tests.cli import cli_env, run
from tests.netns.netns import Host, Network
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]
DISCOVERY_AGENT = Path(__file__).with_name("discovery_agent.py")


def isolate(a: Host, b: Host) -> None:
    """What a hotspot's client isolation does: a and b cannot reach each other at all."""
    a.run(["ip", "route", "add", "unreachable", f"{b.address}/32"])
    b.run(["ip", "route", "add", "unreachable", f"{a.address}/32"])


def can_connect(source: Host, address: str, port: int) -> bool:
    probe = ("import socket, sys\n"
             "try:\n"
             f"    socket.create_connection(({address!r}, {port}), timeout=5).close()\n"
             "except OSError as exc:\n"
             "    print(exc)\n"
             "    sys.exit(1)\n")
    return source.run([sys.executable, "-c", probe], check=False).returncode == 0


def read_json_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()  # bounded: the agents exit after WAIT at most
    assert line, f"agent exited with {process.wait(30)}"
    message: dict[str, Any] = json.loads(line)
    return message


def test_isolated_clients_talk_through_a_relay(
        make_network: Any, tmp_path: Path) -> None:
    net: Network = make_network(3)
    relay_host, host_a, host_b = net.hosts
    isolate(host_a, host_b)

    home = tmp_path / "relay"
    relay = relay_host.popen([sys.executable, "-m", "p2pchat", "--home", str(home), "relay",
                              "--listen", "0.0.0.0:0"], cli_env(), cwd=str(ROOT),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = wait_for(lambda: _running(home), 20, "the relay to start")
    port = int(status["listen"][0].rsplit(":", 1)[1])
    paste = status["relay"][0]
    assert paste == f"{relay_host.address}:{port}#{status['fingerprint']}"  # what users copy

    assert can_connect(host_a, relay_host.address, port)
    assert can_connect(host_b, relay_host.address, port)
    assert not can_connect(host_a, host_b.address, port)  # the isolation is real

    # The relay is found by mDNS from a client's host, under the relay service type.
    seeker = host_a.popen([sys.executable, str(DISCOVERY_AGENT), "--key", bytes(32).hex(),
                           "--port", "9", "--relays", "--lifetime", "30"],
                          {"PYTHONUNBUFFERED": "1"}, cwd=str(ROOT))
    found = wait_for(lambda: _relay_advert(seeker, status["fingerprint"]), 20,
                     "the relay's advert on the client's host")
    assert found["addresses"][0] == [relay_host.address, port]

    alice, bob = Identity.generate(), Identity.generate()

    def agent(host: Host, me: Identity, peer: Identity, role: str, say: str) -> Any:
        return host.popen([sys.executable, "-m", "tests.netns.relay_agent", "--relay", paste,
                           "--seed", me.seed.hex(), "--peer", peer.public_key.hex(), role,
                           "--say", say], {"PYTHONUNBUFFERED": "1"}, cwd=str(ROOT))

    answering = agent(host_b, bob, alice, "--answer", "hello alice, from bob")
    assert read_json_line(answering) == {"event": "attached"}
    calling = agent(host_a, alice, bob, "--initiate", "hello bob, from alice")
    assert read_json_line(calling) == {"event": "attached"}
    assert read_json_line(calling) == {"event": "got", "text": "hello alice, from bob"}
    assert read_json_line(answering) == {"event": "got", "text": "hello bob, from alice"}
    assert calling.wait(30) == 0 and answering.wait(30) == 0

    wait_for(lambda: (s := _running(home)) and s["attached_total"] == 2
             and s["frames_forwarded"] >= 3, 20, "the relay's counts")
    relay.terminate()
    assert relay.wait(30) == 0
    assert run(home, "relay", "status", "--json").returncode == 0


def _running(home: Path) -> dict[str, Any] | None:
    try:
        status = read_status(home)
    except Exception:
        return None
    return status if status.get("running") else None


def _relay_advert(seeker: subprocess.Popen[str], fp: str) -> dict[str, Any] | None:
    message = read_json_line(seeker)
    if message.get("event") != "adverts":
        return None
    return next((a for a in message["adverts"] if a["fp"] == fp), None)


def test_isolated_nodes_find_a_relay_by_mdns_and_chat_through_it(
        make_network: Any, make_node: Any, tmp_path: Path) -> None:
    """Real `p2pchat node`s, nothing typed but fingerprints: each finds the relay by mDNS and,
    as the hotspot keeps them apart, the relay carries their chat both ways."""
    relay, status, relay_host, alice, bob = _hotspot_with_nodes(make_network, make_node, tmp_path)

    def said(node: Any, who: str) -> list[str]:
        return [m["text"] for m in node.log_json(who) if not m["own"]]

    alice.cli("send", "bob", "hello bob, through the relay", check=True)
    wait_for(lambda: said(bob, "alice") == ["hello bob, through the relay"], 20, "alice's message")
    bob.cli("send", "alice", "hello alice, same way back", check=True)
    wait_for(lambda: said(alice, "bob") == ["hello alice, same way back"], 20, "bob's reply")
    link = next(p for p in alice.json("peers")["links"] if p["fingerprint"] == bob.fingerprint)
    assert link["path"] == "relay"
    assert link["relay"].startswith(f"{relay_host.address}:")
    assert link["relay"].endswith(f"#{status['fingerprint']}")
    relay.terminate()
    assert relay.wait(30) == 0


def _hotspot_with_nodes(make_network: Any, make_node: Any, tmp_path: Path) -> tuple[
        subprocess.Popen[str], dict[str, Any], Host, Any, Any]:
    """A relay host and two isolated hosts running real nodes `alice` and `bob`, mutual contacts
    by fingerprint only, both attached to the relay they found by mDNS."""
    net: Network = make_network(3)
    relay_host, host_a, host_b = net.hosts
    isolate(host_a, host_b)
    home = tmp_path / "relay"
    relay = relay_host.popen([sys.executable, "-m", "p2pchat", "--home", str(home), "relay",
                              "--listen", "0.0.0.0:0"], cli_env(), cwd=str(ROOT),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = wait_for(lambda: _running(home), 20, "the relay to start")
    alice, bob = make_node("alice"), make_node("bob")
    alice.start(listen="0.0.0.0:0", mdns=True, host=host_a)
    bob.start(listen="0.0.0.0:0", mdns=True, host=host_b)
    for node in (alice, bob):
        wait_for(lambda n=node: [(r["state"], r["found_by"]) for r in n.json("status")["relays"]]
                 == [("attached", "mdns")], 20, f"{node.name} to attach to the relay")
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    return relay, status, relay_host, alice, bob


def test_isolated_nodes_chat_in_a_group_through_a_relay(
        make_network: Any, make_node: Any, tmp_path: Path) -> None:
    """The hotspot case for a group: alice creates it and invites bob while the relay is the only
    path between them; each one's group message reaches the other's log exactly once."""
    relay, status, _, alice, bob = _hotspot_with_nodes(make_network, make_node, tmp_path)
    group = alice.json("group", "create", "hotspot")["group"]
    alice.cli("group", "invite", "hotspot", "bob", check=True)

    def joined(node: Any) -> dict[str, Any] | None:
        return next((g for g in node.json("group", "list")
                     if g["group"] == group and g["has_key"]), None)

    def caught_up() -> bool:
        mine, owners = joined(bob), joined(alice)
        return bool(mine and owners and mine["epoch"] == owners["epoch"])

    wait_for(lambda: any(g["group"] == group and g["role"] == "invited"
                         for g in bob.json("group", "list")), 30, "bob's invitation")
    bob.cli("group", "accept", group, check=True)  # invitations wait for consent (issue 22)
    wait_for(caught_up, 30, "bob to join alice's group")

    def messages(node: Any) -> list[dict[str, Any]]:  # membership lines aside (issue 24)
        return [m for m in node.log_json("hotspot") if m.get("notice") != "membership"]

    def said(node: Any) -> Counter[str]:
        return Counter(m["text"] for m in messages(node) if not m["own"])

    alice.cli("send", "hotspot", "hello group, from alice", check=True)
    wait_for(lambda: said(bob) == {"hello group, from alice": 1}, 20, "alice's group message")
    bob.cli("send", "hotspot", "hello group, from bob", check=True)
    wait_for(lambda: said(alice) == {"hello group, from bob": 1}, 20, "bob's group message")
    for node in (alice, bob):  # nothing doubled on either side, own messages included
        assert set(Counter(m["id"] for m in messages(node)).values()) == {1}
        assert len(messages(node)) == 2
    link = next(p for p in alice.json("peers")["links"] if p["fingerprint"] == bob.fingerprint)
    assert link["path"] == "relay" and link["relay"].endswith(f"#{status['fingerprint']}")
    relay.terminate()
    assert relay.wait(30) == 0


def test_running_nodes_find_a_relay_that_starts_after_them(
        make_network: Any, make_node: Any, tmp_path: Path) -> None:
    """Nodes already running on isolated hosts, one of them in a network, see a relay appear
    on the LAN and attach to it within a few seconds (issue 25, point 4)."""
    import time

    net: Network = make_network(3)
    relay_host, host_a, host_b = net.hosts
    isolate(host_a, host_b)
    alice, bob = make_node("alice"), make_node("bob")
    alice.start(listen="0.0.0.0:0", mdns=True, host=host_a)
    bob.start(listen="0.0.0.0:0", mdns=True, host=host_b)
    bob.cli("network", "join", "class", env={"P2PCHAT_NETWORK_PASSPHRASE": "blue-otter-42"},
            check=True)
    time.sleep(2)  # bounded: the nodes have browsed a while with no relay around
    home = tmp_path / "relay"
    relay = relay_host.popen([sys.executable, "-m", "p2pchat", "--home", str(home), "relay",
                              "--listen", "0.0.0.0:0"], cli_env(), cwd=str(ROOT),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _running(home), 20, "the relay to start")
        started = time.monotonic()
        for node in (alice, bob):
            wait_for(lambda n=node: [(r["state"], r["found_by"])
                                     for r in n.json("status")["relays"]]
                     == [("attached", "mdns")], 20, f"{node.name} to attach to the relay")
        took = time.monotonic() - started
        assert took < 5, f"attached {took:.1f} s after the relay started"
    finally:
        relay.terminate()
        relay.wait(30)
