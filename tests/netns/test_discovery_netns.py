"""Multicast discovery across real (namespaced) hosts on one bridge."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from p2pchat.core.identity import fingerprint
from tests.netns.netns import Host, Network

pytestmark = pytest.mark.timeout(40)

AGENT = Path(__file__).with_name("discovery_agent.py")
WAIT = 15.0  # seconds for any one condition
PORT = 7000  # the TCP port adverts carry; nothing listens on it (hosts are separate namespaces)

Message = dict[str, Any]


class Agent:
    """discovery_agent.py running in one host; its JSON output collected by a reader thread."""

    def __init__(self, host: Host, name: str, *, bind: bool) -> None:
        self.host = host
        self.key = bytes(nacl.signing.SigningKey.generate().verify_key)
        self.fp = fingerprint(self.key)
        argv = [sys.executable, str(AGENT), "--key", self.key.hex(), "--port", str(PORT)]
        argv += ["--name", name, "--lifetime", "60"]
        if bind:
            argv += ["--bind", host.address]
        self.process = host.popen(argv, {"PYTHONUNBUFFERED": "1"})
        self.messages: queue.Queue[Message | None] = queue.Queue()
        self.adverts: list[Message] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                continue
        self.messages.put(None)

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait_for(self, condition: Callable[[Message], bool], what: str) -> Message:
        """The first message from now on that satisfies `condition`; fails after WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.host}: timed out waiting for {what}")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                raise AssertionError(f"{self.host}: agent exited while waiting for {what}")
            if message.get("event") == "adverts":
                self.adverts = message["adverts"]
            if condition(message):
                return message

    def sees(self, other: Agent, address: str) -> bool:
        return any(
            advert["fp"] == other.fp and [address, PORT] in advert["addresses"]
            for advert in self.adverts
        )

    def wait_until_sees(self, other: Agent, address: str) -> None:
        if self.sees(other, address):
            return
        self.wait_for(
            lambda m: m.get("event") == "adverts" and self.sees(other, address),
            f"an advert from {other.host} at {address}",
        )


def start_agents(network: Network, *, bind: bool) -> list[Agent]:
    agents = [Agent(host, f"user{i}", bind=bind) for i, host in enumerate(network.hosts)]
    for agent in agents:
        started = agent.wait_for(lambda m: m.get("event") == "started", "the agent to start")
        assert started["addresses"] == [agent.host.address]
    return agents


def assert_everyone_sees_everyone(agents: list[Agent]) -> None:
    for agent in agents:
        for other in agents:
            if other is not agent:
                agent.wait_until_sees(other, other.host.address)
        assert all(advert["fp"] != agent.fp for advert in agent.adverts), "saw itself"
        assert len(agent.adverts) == len(agents) - 1


def test_two_hosts_find_each_other(make_network: Callable[[int], Network]) -> None:
    network = make_network(2)
    agents = start_agents(network, bind=True)
    assert_everyone_sees_everyone(agents)
    names = {advert["name"] for advert in agents[0].adverts}
    assert names == {"user1"}


def test_three_hosts_on_all_interfaces_find_each_other(
    make_network: Callable[[int], Network],
) -> None:
    network = make_network(3)
    # interfaces=None: every non-loopback interface, i.e. eth0 of each namespace.
    agents = start_agents(network, bind=False)
    assert_everyone_sees_everyone(agents)

    # A goodbye removes a host from the others' views.
    leaving = agents[2]
    leaving.send("stop")
    leaving.wait_for(lambda m: m.get("event") == "stopped", "the agent to stop")
    for agent in agents[:2]:
        if any(advert["fp"] == leaving.fp for advert in agent.adverts):
            agent.wait_for(
                lambda m: (
                    m.get("event") == "adverts"
                    and all(advert["fp"] != leaving.fp for advert in m["adverts"])
                ),
                "the stopped host to disappear",
            )


def test_host_that_changes_address_is_found_again(
    make_network: Callable[[int], Network],
) -> None:
    network = make_network(2)
    agents = start_agents(network, bind=False)
    assert_everyone_sees_everyone(agents)
    a, b = agents
    old_address = b.host.address

    new_address = network.spare_address()
    b.host.set_address(new_address)
    b.send("update")
    updated = b.wait_for(lambda m: m.get("event") == "updated", "re-advertising")
    assert updated["addresses"] == [new_address]

    a.wait_until_sees(b, new_address)

    # The old address is flushed from A's view (cache-flush records), not merely added to.
    def only_new(message: Message) -> bool:
        return any(
            advert["fp"] == b.fp and advert["addresses"] == [[new_address, PORT]]
            for advert in a.adverts
        )

    if not only_new({}):
        a.wait_for(only_new, f"{old_address} to be flushed")
    # And B still sees A from its new address.
    b.wait_until_sees(a, a.host.address)


def test_namespaces_are_isolated_from_the_host(make_network: Callable[[int], Network]) -> None:
    network = make_network(1)
    host = network.hosts[0]
    routes = host.run(["ip", "route", "show"]).stdout
    assert "default" not in routes
    links = host.run(["ip", "-o", "link", "show"]).stdout
    assert {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()} == {
        "lo",
        "eth0",
    }
