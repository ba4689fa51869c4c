"""Trial 7 leftovers (issue 23, node side): a verified contact's own name after a restart."""

from __future__ import annotations

from typing import Any

from tests.aio import until
from tests.local_nodes import MakeLocalNode


def _request(node: Any, fp: str) -> dict[str, Any] | None:
    return next((c for c in node.list_contacts() if c["fingerprint"] == fp), None)


async def test_a_verified_contacts_own_name_is_kept_across_a_restart(
        make_local_node: MakeLocalNode) -> None:
    """bob calls himself "Bob" (alice named him "bobby"); alice verified him. Alice restarts
    while bob is offline; a new key asking as "bob" is flagged at once, not only once bob links
    again (the name he announced was kept only in memory)."""
    alice, bob = await make_local_node("alice"), await make_local_node("Bob")
    port = alice.listen_addresses[0][1]
    await alice.add_contact(bob.identity.fingerprint, "bobby",
                            [f"127.0.0.1:{bob.listen_addresses[0][1]}"])
    await bob.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    await until(lambda: alice.links.is_linked(bob.key), 15, "linked")
    alice.verify_contact("bobby", True)
    await bob.stop()
    await alice.stop()
    alice = await make_local_node("alice", identity=alice.identity,
                                  listen=(("127.0.0.1", port),))
    mallory = await make_local_node("bob")
    await mallory.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    fp = mallory.identity.fingerprint
    await until(lambda: _request(alice, fp) is not None, 15, "mallory's request")
    asked = _request(alice, fp)
    assert asked is not None and not alice.links.is_linked(bob.key)
    assert asked["same_name_as"] == bob.identity.fingerprint, asked
    assert asked["same_name_verified"] is True and asked["same_name_announced"] is True
    await alice.remove_contact("bobby")  # removing bob forgets what he called himself
    assert alice.db.announced.all() == {}
