"""A host renumbered while its links are up and messages flow: found again within seconds, and
nothing is lost or doubled. (The mover notices its own address went; the other side hears the
new mDNS advert and drops the stale link.)"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration.test_recovery import all_delivered, received, send_many
from tests.netns.netns import Network
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)


def _linked_at(a: NodeProcess, b: NodeProcess, address: str) -> bool:
    return any(p["fingerprint"] == b.fingerprint and p["state"] == "contact"
               and p["address"].startswith(address + ":") for p in a.json("peers")["links"])


@pytest.mark.parametrize("mover", [0, 1])
def test_renumbered_host_relinks_and_loses_nothing(
        make_network: Callable[[int], Network], make_node: Callable[[str], NodeProcess],
        mover: int) -> None:
    net = make_network(2)
    alice, bob = make_node("alice"), make_node("bob")
    alice.start(listen="0.0.0.0:0", mdns=True, host=net.hosts[0])
    bob.start(listen="0.0.0.0:0", mdns=True, host=net.hosts[1])
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    before = [f"before {i}" for i in range(20)]
    send_many(alice, "bob", before)
    wait_for(lambda: received(bob, "alice") == before, 15, "the first messages")

    new_address = net.spare_address()
    net.hosts[mover].set_address(new_address)
    moved = time.monotonic()
    during = [f"during {i}" for i in range(20)]
    send_many(alice, "bob", during)  # into links that may be dead: they must still arrive
    bob.cli("send", "alice", "from bob, during", check=True)
    # Each side sees the other over the new path (it may be either side's dial).
    watcher, watched = (bob, alice) if mover == 0 else (alice, bob)
    wait_for(lambda: _linked_at(watcher, watched, new_address), 15, "a link over the new address")
    relinked = time.monotonic() - moved
    wait_for(lambda: received(bob, "alice") == before + during, 15, "the messages sent during")
    wait_for(lambda: received(alice, "bob") == ["from bob, during"], 10, "bob's message")
    wait_for(lambda: all_delivered(alice, "bob", 40), 10, "alice's receipts")
    print(f"host {mover} renumbered: linked again after {relinked:.2f}s, all delivered after "
          f"{time.monotonic() - moved:.2f}s")
