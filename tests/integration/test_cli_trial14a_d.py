"""notes/s36/trial14a.md B8 with real processes and real mDNS bound to 127.0.0.1: in a network,
`p2pchat peers` lists a node outside it, heard nearby, marked "(not in NAME)"; a member is
not marked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)

LOOPBACK_MDNS = ("--mdns-interface", "127.0.0.1")


def _row(node: NodeProcess, other: NodeProcess) -> str:
    """The Nearby row of `peers` at `other`'s address ("" while not heard)."""
    out = node.cli("peers", check=True).stdout
    return next((line for line in out.splitlines() if other.addr in line), "")


def test_peers_in_a_network_marks_a_node_outside_it(
        make_node: Callable[[str], NodeProcess]) -> None:
    alice, bob, dave = (make_node(n) for n in ("alice", "bob", "dave"))
    passphrase = alice.json("network", "create", "lab")["passphrase"]
    bob.cli("network", "join", "lab", env={"P2PCHAT_NETWORK_PASSPHRASE": passphrase},
            check=True)
    for node in (alice, bob, dave):
        node.start(*LOOPBACK_MDNS, mdns=True)
    wait_for(lambda: bob.json("network", "list")["networks"] == ["lab"], 30, "bob's admission")
    dave_row = wait_for(lambda: _row(alice, dave), 20, "dave heard nearby")
    assert dave_row.rstrip().endswith(dave.addr) and "(not in lab)" in dave_row, dave_row
    bob_row = wait_for(lambda: _row(alice, bob) if "bob" in _row(alice, bob) else "", 20,
                       "bob heard as a member")
    assert "not in" not in bob_row, bob_row
    assert "not in" not in _row(dave, alice)  # dave is in no network: nothing to mark
