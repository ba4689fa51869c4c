"""Node-side frictions of a newcomer's trial (issue 23, notes/s31/trial1.md B5-B8, point 30),
with real nodes over real sockets and real CLI processes."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.node import CommandError
from p2pchat.storage import networks as stored
from tests.aio import until
from tests.cli import assert_clean_failure
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)

CLUB_KEY = bytes(range(32))


def join(node, key: bytes, name: str) -> None:  # type: ignore[no-untyped-def]
    """What `p2pchat network join` does to a running node once admitted: the file, a reload."""
    current = stored.load(node.home, node.identity)
    stored.save(node.home, node.identity, stored.joined(current, stored.Network(name, key)))
    node.networks.reload()


async def test_the_listen_port_stays_across_network_changes_and_restarts(
        make_local_node: MakeLocalNode) -> None:
    """B7: 43335 -> 41127 on join -> 38429 refused -> 33293 admitted; /id went stale."""
    a = await make_local_node("alice", mdns=True, mdns_interfaces=("127.0.0.1",),
                              keep_port=True)
    port = a.listen_addresses[0][1]
    instance = a.nearby._advert[2]
    join(a, CLUB_KEY, "club")
    await until(lambda: a.nearby._advert[2] != instance, 15, "the advert renewed for the network")
    assert a.listen_addresses[0][1] == port
    await a.networks.leave("club")
    await until(lambda: a.nearby._advert[2] != instance and not a.networks.joined, 15, "left")
    assert a.listen_addresses[0][1] == port
    join(a, CLUB_KEY, "club")
    await a.stop()  # a restart while in a network keeps it too
    again = await make_local_node("alice", identity=a.identity, mdns=True,
                                  mdns_interfaces=("127.0.0.1",), keep_port=True)
    assert again.networks.joined and again.listen_addresses[0][1] == port


async def test_joining_without_discovery_says_so_instead_of_waiting_for_ever(
        make_local_node: MakeLocalNode) -> None:
    """B8: on a --no-mdns node a join waited for ever ("waiting for a member to admit you")."""
    a = await make_local_node("alice")  # mdns off
    with pytest.raises(CommandError) as raised:
        await a.networks.join("club", "correct horse battery staple")
    assert raised.value.code == "no_discovery"
    assert "discovery is off" in str(raised.value) and "--via HOST:PORT" in str(raised.value)
    assert a.networks.view()["waiting"] == []


def test_the_cli_join_on_a_node_without_discovery_points_to_via(make_node: Any) -> None:
    alice = make_node("alice").start()  # --no-mdns
    proc = alice.cli("network", "join", "club",
                     env={"P2PCHAT_NETWORK_PASSPHRASE": "correct horse battery staple"})
    assert_clean_failure(proc)
    assert "discovery is off" in proc.stderr and "network join club --via HOST:PORT" in proc.stderr
    assert alice.json("network", "list", "--json")["waiting"] == []
