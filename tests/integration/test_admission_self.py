"""Trial 11: `network join book` (a network nobody had created) while alice, a member of club,
ran with discovery on 127.0.0.1: her node asked ITSELF to admit it ("127.0.0.1:37821 refused
the passphrase", her own port), through her own advert under the instance name it had before
the join (the name changes at each join; the old one stays in mDNS caches). A node never asks
its own listening socket, from an advert or as --via. Real nodes, real mDNS on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.net.addresses import is_own
from p2pchat.node import Node
from p2pchat.node.config import CommandError
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.integration.test_admission import _addr, _member
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)

LOOPBACK = {"mdns": True, "mdns_interfaces": ("127.0.0.1",)}
WRONG = "not-the-passphrase-of-any-book"


def _ports(*nodes: Node) -> set[int]:
    return {_addr(node)[1] for node in nodes}


async def test_a_joiner_never_asks_its_own_cached_advert(make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice", **LOOPBACK)
    bob = await make_local_node("bob", **LOOPBACK)
    for member in (alice, bob):
        _member(member, name="club")
    await alice.nearby.readvertise()
    await bob.nearby.readvertise()
    assert alice.nearby.discovery is not None and bob.nearby.discovery is not None
    # Alice's real advert as the others hear it (sealed club entries at her port): what her
    # own cache keeps under her old instance name after a join.
    await until(lambda: [a for a in bob.nearby.adverts() if a.sealed
                         and _addr(alice) in a.addresses], 15, "bob hears alice's club advert")
    own = next(a for a in bob.nearby.adverts() if a.sealed and _addr(alice) in a.addresses)
    await until(lambda: any(a.sealed and _addr(bob) in a.addresses
                            for a in alice.nearby.adverts()), 15, "alice hears bob")
    alice.nearby.discovery._adverts["stale-own.local."] = own
    # Only our own nodes count (other people's may be on 127.0.0.1 too).
    ours = _ports(alice, bob)
    alice.admissions._adverts = lambda: [
        a for a in alice.nearby.adverts() if any(port in ours for _, port in a.addresses)]
    assert any(_addr(alice) in a.addresses for a in alice.admissions._adverts())

    await alice.networks.join("book", WRONG)
    await until(lambda: alice.networks.view()["states"].get("book") == "refused", 20,
                "every node heard said no")
    # (counters of guesses would count other people's joins on 127.0.0.1 too)
    refusers = alice.admissions._refusals[("book", WRONG)]
    assert _addr(alice) not in refusers  # she never asked herself
    assert _addr(bob) in refusers


async def test_join_via_our_own_address_is_refused_as_such(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    _member(alice, name="club")
    host, port = _addr(alice)
    with pytest.raises(CommandError) as raised:
        await alice.networks.join("book", WRONG, via=f"{host}:{port}")
    assert raised.value.code == "bad_address" and "own address" in str(raised.value)
    assert alice.admissions.failed_guesses == 0
    assert alice.networks.view()["waiting"] == []  # nothing joined


def test_own_addresses() -> None:
    assert is_own(("127.0.0.1", 5000), [("127.0.0.1", 5000)], [])
    assert not is_own(("127.0.0.1", 5001), [("127.0.0.1", 5000)], [])
    assert not is_own(("127.0.0.2", 5000), [("127.0.0.1", 5000)], [])  # another socket
    assert is_own(("127.0.0.1", 5000), [("0.0.0.0", 5000)], [])
    assert is_own(("10.0.0.7", 5000), [("0.0.0.0", 5000)], ["10.0.0.7"])
    assert not is_own(("10.0.0.8", 5000), [("0.0.0.0", 5000)], ["10.0.0.7"])
    assert is_own(("::ffff:127.0.0.1", 5000), [("127.0.0.1", 5000)], [])


def test_the_screen_never_says_wrong_passphrase_for_sure() -> None:
    screen = ChatState()
    screen.apply({"type": "networks_changed", "networks": [], "waiting": ["book"],
                  "refused": ["book"]})
    texts = [n.text for n in screen.notices]
    assert any("book: no node nearby admitted you: either nobody here is in book yet, or the"
               " passphrase is wrong" in text for text in texts), texts
    assert not any("refused your passphrase" in text for text in texts)


def test_the_cli_join_via_the_running_nodes_own_address(make_node: Any) -> None:
    """`p2pchat network join book --via` with the address of our own running node: said as
    such, not "a wrong passphrase" (our node, not in book, would have said no)."""
    from tests.cli import assert_clean_failure

    alice = make_node("alice")
    alice.json("network", "create", "club")
    alice.start()  # --no-mdns
    proc = alice.cli("network", "join", "book", "--via", alice.addr,
                     env={"P2PCHAT_NETWORK_PASSPHRASE": WRONG})
    assert_clean_failure(proc)
    assert "is this node's own address" in proc.stderr, proc.stderr
    assert "book" not in alice.json("network", "list")["states"]  # nothing joined


def test_network_list_never_says_wrong_passphrase_for_sure() -> None:
    from p2pchat.network_command import STATE_NOTES

    assert "either none of them is in it yet, or the passphrase is wrong" in STATE_NOTES["refused"]
