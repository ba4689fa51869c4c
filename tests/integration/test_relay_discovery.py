"""Relays found by mDNS (zeroconf bound to 127.0.0.1, as in test_discovery_loopback.py): running
nodes find a relay that starts after them, a node in a network uses an open relay, and an advert
that carries a link-local address (meaningless without its interface) costs no failed dial."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from p2pchat.core.presence import RELAY_SERVICE_TYPE, public_instance_name, public_properties
from p2pchat.node import Node
from p2pchat.storage import networks as stored
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.relay_client import RelayProcess

pytestmark = pytest.mark.timeout(90)

LOOPBACK_MDNS = {"mdns": True, "mdns_interfaces": ("127.0.0.1",)}
CLASS_KEY = bytes(range(32))  # as `network join` would derive it (Argon2id skipped)


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    made: list[RelayProcess] = []
    yield made
    for relay in made:
        relay.close()


def join(node: Node, key: bytes, name: str = "class") -> None:
    """What `p2pchat network join` does to a running node: write the sealed file, reload."""
    current = stored.load(node.home, node.identity)
    stored.save(node.home, node.identity, stored.joined(current, stored.Network(name, key)))
    node.networks.reload()


def relay_view(node: Node, fingerprint: str) -> dict[str, object] | None:
    return next((r for r in node.status()["relays"]
                 if str(r["relay"]).endswith(fingerprint)), None)


def attached_to(node: Node, fingerprint: str) -> bool:
    view = relay_view(node, fingerprint)
    return view is not None and view["state"] == "attached"


async def test_running_nodes_find_a_relay_that_appears_later_network_or_not(
        make_local_node: MakeLocalNode, relays: list[RelayProcess], tmp_path: Path) -> None:
    plain = await make_local_node("plain", **LOOPBACK_MDNS)
    member = await make_local_node("member", **LOOPBACK_MDNS)
    join(member, CLASS_KEY)
    await asyncio.sleep(1)  # bounded: the nodes have been running a while when the relay starts
    relay = RelayProcess(tmp_path / "relay")
    relays.append(relay)
    await asyncio.to_thread(relay.start, mdns=True)  # an open relay: no --network
    appeared = time.monotonic()
    fingerprint = relay.status["fingerprint"]
    await until(lambda: attached_to(plain, fingerprint) and attached_to(member, fingerprint),
                10, "both nodes attached to the relay found by mDNS")
    took = time.monotonic() - appeared
    assert took < 5, f"attached {took:.2f} s after the relay started"
    for node in (plain, member):
        view = relay_view(node, fingerprint)
        assert view is not None and view["found_by"] == "mdns"
    # At least ours: an open relay on 127.0.0.1 mDNS serves every node that hears it, and the
    # nodes of other tests (or a trial) running beside this one on the machine hear it too.
    await until(lambda: relay.read_status_file()["clients"] >= 2, 10, "our two clients")


@pytest.fixture
async def fake_advert() -> AsyncIterator[AsyncZeroconf]:
    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    yield zc
    await zc.async_close()


async def test_a_link_local_address_in_a_relay_advert_costs_no_failed_dial(
        make_local_node: MakeLocalNode, relays: list[RelayProcess], tmp_path: Path,
        fake_advert: AsyncZeroconf) -> None:
    relay = RelayProcess(tmp_path / "relay")
    relays.append(relay)
    await asyncio.to_thread(relay.start)
    key = relay.key
    # The advert a relay on a host with IPv6 sends: its link-local address first. Heard over
    # IPv4 it comes without the interface it belongs to: connect() on it is EINVAL (OSError).
    info = AsyncServiceInfo(
        RELAY_SERVICE_TYPE, f"{public_instance_name(key)}.{RELAY_SERVICE_TYPE}",
        port=relay.port, properties=public_properties(key, "relay"),
        parsed_addresses=["fe80::fc:ff:fe00:1", "127.0.0.1"])
    await fake_advert.async_register_service(info)
    node = await make_local_node("reader", **LOOPBACK_MDNS)
    fingerprint = relay.status["fingerprint"]
    await until(lambda: attached_to(node, fingerprint), 15, "attached to the advertised relay")
    # The relay restarts: the node goes through the advert's addresses while it is away.
    port = relay.port
    await asyncio.to_thread(relay.close)
    errors: set[str] = set()

    def note_error() -> bool:
        view = relay_view(node, fingerprint)
        if view is not None and view["last_error"] is not None:
            errors.add(str(view["last_error"]))
        return len(errors) >= 2 or any("invalid argument" in e for e in errors)

    await until(note_error, 15, "two failed reconnections")
    restarted = RelayProcess(relay.home)
    relays.append(restarted)
    await asyncio.to_thread(restarted.start, "--listen", f"127.0.0.1:{port}")
    await until(lambda: note_error() and attached_to(node, fingerprint), 30, "attached again")
    # Refused while the relay was away, never the EINVAL of an address without its interface.
    assert not any(e.endswith(": invalid argument") for e in errors), errors
