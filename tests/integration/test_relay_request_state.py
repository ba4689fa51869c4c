"""Issue 23: `p2pchat contacts` listed dave as "offline [request]" although his request had just
come through a relay (and his knocks go on coming that way): the list says how the node sees
him, asking via the relay; a live link's path is listed too."""

from __future__ import annotations

import pytest

from tests.integration.test_relay_nodes import MakeNode, relay, relay_arg  # noqa: F401
from tests.nodes import wait_for
from tests.relay_client import RelayProcess

pytestmark = pytest.mark.timeout(120)


def test_a_request_through_a_relay_is_listed_as_asking_via_the_relay(
        make_node: MakeNode, relay: RelayProcess) -> None:  # noqa: F811
    alice, dave = make_node("alice"), make_node("dave")
    alice.start("--relay", relay_arg(relay))
    dave.start("--relay", relay_arg(relay))
    wait_for(lambda: all(r["state"] == "attached" for n in (alice, dave)
                         for r in n.json("status")["relays"]), 10, "both nodes to attach")
    dave.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    wait_for(lambda: any(c["state"] == "request" for c in alice.json("contacts", "list")), 20,
             "dave's request at alice")
    [listed] = alice.json("contacts", "list")
    assert listed["asked_via"] == "relay", listed
    row = alice.cli("contacts", check=True).stdout.splitlines()[0]
    assert row.startswith("dave ") and "offline" not in row, row
    assert "[request]  via relay" in row and "asking" in row, row
    alice.cli("contacts", "accept", "dave", check=True)
    wait_for(lambda: alice.json("contacts", "list")[0].get("path") == "relay", 20,
             "the relayed link, listed")
    row = alice.cli("contacts", check=True).stdout.splitlines()[0]
    assert row.startswith("dave ") and "online" in row and row.endswith("via relay"), row
