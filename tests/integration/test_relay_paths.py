"""Real `p2pchat node` processes whose only path is a relay: how soon a relayed link comes up
(happy eyeballs: the relay races the direct dials), and what a relay that breaks every stream
costs them (the backoff goes on while links die before carrying anything)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults import DoublingRelay, EventLog, cpu_seconds
from tests.nodes import NodeProcess, wait_for
from tests.relay_client import RelayProcess

pytestmark = pytest.mark.timeout(120)

MakeNode = Callable[[str], NodeProcess]


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay").start()
    yield process
    process.close()


def attached(node: NodeProcess) -> bool:
    return all(r["state"] == "attached" for r in node.json("status")["relays"])


def contact_links(log: EventLog, other: NodeProcess) -> list[float]:
    """When contact links with `other` came up, as `log` saw them."""
    return [t for t, kind, event in log.links(other.fingerprint)
            if kind == "up" and event.get("contact")]


def test_two_nodes_known_by_fingerprint_only_link_through_the_relay_within_a_second(
        make_node: MakeNode, relay: RelayProcess) -> None:
    a, b = make_node("alice"), make_node("bob")
    arg = f"127.0.0.1:{relay.port}#{relay.status['fingerprint']}"
    for node in (a, b):
        node.start("--relay", arg)  # no mDNS, no address: the relay is the only path
    wait_for(lambda: attached(a) and attached(b), 15, "both nodes attached")
    logs = EventLog(a.home), EventLog(b.home)
    try:
        time.sleep(0.3)  # bounded: lets both event streams subscribe before the clock starts
        start = time.monotonic()
        a.cli("contacts", "add", b.fingerprint, "--name", "bob", check=True)
        b.cli("contacts", "add", a.fingerprint, "--name", "alice", check=True)
        added = time.monotonic()
        wait_for(lambda: contact_links(logs[0], b) and contact_links(logs[1], a), 10,
                 "a contact link on both sides")
        up = max(contact_links(logs[0], b)[0], contact_links(logs[1], a)[0])
        link = next(p for p in a.json("peers")["links"] if p["fingerprint"] == b.fingerprint)
        assert link["path"] == "relay"
        # Before happy eyeballs the relay came only after 3 s of failed direct tries.
        assert up - added < 1.5, f"linked {up - added:.2f} s after the second contacts add"
        assert up - start < 3.0
    finally:
        for log in logs:
            log.close()
    # And of starting: both nodes restart; the second is running (its control socket answers)
    # at `started`, and the link through the relay follows within a second and a half.
    for node in (a, b):
        node.kill()
    a.start("--relay", arg)
    b.start("--relay", arg)
    started = time.monotonic()
    logs = EventLog(a.home), EventLog(b.home)
    try:
        wait_for(lambda: contact_links(logs[0], b) or contact_links(logs[1], a)
                 or _linked(a, b), 10, "the link after both restarted")
        up = time.monotonic()
        assert up - started < 1.5, f"linked {up - started:.2f} s after starting"
    finally:
        for log in logs:
            log.close()


def _linked(a: NodeProcess, b: NodeProcess) -> bool:
    return any(p["fingerprint"] == b.fingerprint and p["state"] == "contact"
               for p in a.json("peers")["links"])


def test_a_relay_that_delivers_every_frame_twice_does_not_make_nodes_spin(
        make_node: MakeNode) -> None:
    doubling = DoublingRelay().start()
    try:
        a, b = make_node("alice"), make_node("bob")
        for node in (a, b):
            node.start("--relay", doubling.arg)
        wait_for(lambda: attached(a) and attached(b), 15, "both nodes attached")
        a.cli("contacts", "add", b.fingerprint, "--name", "bob", check=True)
        b.cli("contacts", "add", a.fingerprint, "--name", "alice", check=True)
        logs = EventLog(a.home), EventLog(b.home)
        try:
            wait_for(lambda: doubling.delivered > 0, 10, "the first stream through the relay")
            assert a.proc is not None and b.proc is not None
            cpu = [cpu_seconds(a.proc.pid), cpu_seconds(b.proc.pid)]
            start = time.monotonic()
            time.sleep(5)  # bounded: the window the acceptance measures
            elapsed = time.monotonic() - start
            used = [cpu_seconds(a.proc.pid) - cpu[0], cpu_seconds(b.proc.pid) - cpu[1]]
            relinks = [sum(1 for t, kind, _ in log.links(other.fingerprint)
                           if kind == "up" and start <= t)
                       for log, other in ((logs[0], b), (logs[1], a))]
        finally:
            for log in logs:
                log.close()
        # Each stream dies at its first doubled frame; without the backoff that went on, the
        # nodes relinked hundreds of times in 5 s at a third of a core each.
        assert max(relinks) <= 20, relinks
        assert max(used) / elapsed < 0.05, used
        for node in (a, b):  # still running and answering
            assert node.json("status")["relays"][0]["state"] == "attached"
    finally:
        doubling.close()


def test_a_relay_that_breaks_every_stream_gives_way_to_one_that_works(
        make_node: MakeNode, relay: RelayProcess) -> None:
    doubling = DoublingRelay().start()
    try:
        a, b = make_node("alice"), make_node("bob")
        good = f"127.0.0.1:{relay.port}#{relay.status['fingerprint']}"
        for node in (a, b):
            node.start("--relay", doubling.arg, "--relay", good)  # the broken one first
        wait_for(lambda: attached(a) and attached(b), 15, "both nodes attached to both")
        a.cli("contacts", "add", b.fingerprint, "--name", "bob", check=True)
        b.cli("contacts", "add", a.fingerprint, "--name", "alice", check=True)
        a.cli("send", "bob", "through the relay that works", check=True)
        wait_for(lambda: [m["text"] for m in b.log_json("alice")]
                 == ["through the relay that works"], 15, "the message")
        link = next(p for p in a.json("peers")["links"] if p["fingerprint"] == b.fingerprint)
        assert link["relay"] == good
        assert doubling.delivered > 0  # the broken relay was tried first
    finally:
        doubling.close()
