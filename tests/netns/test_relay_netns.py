"""The hotspot case on real (namespaced) hosts: two clients that cannot reach each other, a relay
that both can reach, and an end-to-end session between the clients through it."""

from __future__ import annotations

import json
import subprocess
import sys
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
