"""Trial 14c, B1 (issue 23, point 30): a request that came under a contact's name stays flagged
as a look-alike whatever it renames itself to, across block and unblock and restarts."""

from __future__ import annotations

from typing import Any

from p2pchat.core.identity import short_fingerprint
from tests.aio import until
from tests.local_nodes import MakeLocalNode


def _request(node: Any, fp: str) -> dict[str, Any] | None:
    return next((c for c in node.list_contacts() if c["fingerprint"] == fp), None)


async def _linked(make_local_node: MakeLocalNode, alice: Any, name: str, own: str = "") -> Any:
    other = await make_local_node(own or name)  # its home is named by it: "Bob" beside "bob"
    port = alice.listen_addresses[0][1]
    await alice.add_contact(other.identity.fingerprint, name,
                            [f"127.0.0.1:{other.listen_addresses[0][1]}"])
    await other.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    await until(lambda: alice.links.is_linked(other.key), 15, f"{name} linked")
    return other


async def test_an_impostor_renaming_itself_stays_flagged_as_the_verified_ones_namesake(
        make_local_node: MakeLocalNode) -> None:
    """mallory asks as "bob" (verified), then calls herself "carol" (a contact, not verified):
    the request stays flagged as bob's NEW KEY, after /block + /unblock and a restart too."""
    alice = await make_local_node("alice")
    port = alice.listen_addresses[0][1]
    bob = await _linked(make_local_node, alice, "bob", "Bob")
    carol = await _linked(make_local_node, alice, "carol")
    alice.verify_contact("bob", True)
    mallory = await make_local_node("bob")
    await mallory.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    fp, short = mallory.identity.fingerprint, short_fingerprint(mallory.key)
    await until(lambda: _request(alice, fp) is not None, 15, "mallory's request")
    listed = alice.db.contacts.get(mallory.key)
    assert listed is not None
    alice.trust._rename_request(listed, "carol")  # her next knock, after /nick carol
    asked = _request(alice, fp)
    assert asked is not None and asked["name"] == f"carol ({short})"
    assert asked["same_name_verified"] is True, asked
    assert asked["same_name_as"] == bob.identity.fingerprint
    assert asked["claimed_name"] == "bob"
    await alice.block_contact(f"carol ({short})")
    unblocked = await alice.unblock_contact(f"carol ({short})")
    assert unblocked["state"] == "request" and unblocked["same_name_verified"] is True
    listed = alice.db.contacts.get(mallory.key)
    assert listed is not None
    alice.trust._rename_request(listed, "mallory")  # a name nobody has: still flagged
    await alice.stop()
    alice = await make_local_node("alice", identity=alice.identity,
                                  listen=(("127.0.0.1", port),))
    await until(lambda: alice.links.is_linked(bob.key), 15, "bob back")
    asked = _request(alice, fp)
    assert asked is not None and asked["name"] == "mallory"
    assert asked["same_name_verified"] is True and asked["same_name_as"] == bob.identity.fingerprint
    assert carol.key != mallory.key


async def test_a_request_renaming_itself_to_a_contacts_name_is_flagged_from_then_on(
        make_local_node: MakeLocalNode) -> None:
    """zed asks as "zed", then calls himself "carol" (a contact): flagged, not verified; then
    "zed" again: still carol's look-alike."""
    alice = await make_local_node("alice")
    port = alice.listen_addresses[0][1]
    carol = await _linked(make_local_node, alice, "carol")
    zed = await make_local_node("zed")
    await zed.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    fp = zed.identity.fingerprint
    await until(lambda: _request(alice, fp) is not None, 15, "zed's request")
    asked = _request(alice, fp)
    assert asked is not None and "same_name_as" not in asked
    for name in ("carol", "zed"):
        listed = alice.db.contacts.get(zed.key)
        assert listed is not None
        alice.trust._rename_request(listed, name)
    asked = _request(alice, fp)
    assert asked is not None and asked["name"] == "zed"
    assert asked["same_name_as"] == carol.identity.fingerprint
    assert asked["same_name_verified"] is False and asked["claimed_name"] == "carol"


async def test_a_request_renaming_itself_to_your_own_name_is_flagged_from_then_on(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    port = alice.listen_addresses[0][1]
    zed = await make_local_node("zed")
    await zed.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    fp = zed.identity.fingerprint
    await until(lambda: _request(alice, fp) is not None, 15, "zed's request")
    for name in ("Alice", "zed"):
        listed = alice.db.contacts.get(zed.key)
        assert listed is not None
        alice.trust._rename_request(listed, name)
    asked = _request(alice, fp)
    assert asked is not None and asked["name"] == "zed"
    assert asked["same_name_yours"] is True and asked["claimed_name"] == "Alice"
