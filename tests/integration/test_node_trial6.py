"""Trial 6 (issue 23): what the node tells every UI about a stranger under a known name."""

from __future__ import annotations

from typing import Any

from p2pchat.core.identity import short_fingerprint
from tests.aio import until
from tests.local_nodes import MakeLocalNode


def _request(node: Any, fp: str) -> dict[str, Any] | None:
    return next((c for c in node.list_contacts() if c["fingerprint"] == fp), None)


async def test_a_stranger_under_a_verified_contacts_name_stays_flagged_after_a_rename(
        make_local_node: MakeLocalNode) -> None:
    """B4: mallory asks as "bob" while bob is verified; renaming bob to "Bobby" (ours) must not
    lift the flag, nor must a restart of alice and mallory asking again under "bob"."""
    # bob calls himself "Bob" (names compare casefolded); his home and mallory's differ.
    alice, bob = await make_local_node("alice"), await make_local_node("Bob")
    port = alice.listen_addresses[0][1]
    await alice.add_contact(bob.identity.fingerprint, "bob",
                            [f"127.0.0.1:{bob.listen_addresses[0][1]}"])
    await bob.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    await until(lambda: alice.links.is_linked(bob.key), 15, "linked")
    alice.verify_contact("bob", True)
    mallory = await make_local_node("bob")
    await mallory.add_contact(alice.identity.fingerprint, "alice", [f"127.0.0.1:{port}"])
    fp = mallory.identity.fingerprint
    await until(lambda: _request(alice, fp) is not None, 15, "mallory's request")
    asked = _request(alice, fp)
    assert asked is not None and asked["name"] == f"bob ({short_fingerprint(mallory.key)})"
    assert asked["same_name_verified"] is True
    await alice.rename_contact("bob", "Bobby")
    asked = _request(alice, fp)
    assert asked is not None and asked["same_name_verified"] is True
    assert asked["same_name_as"] == bob.identity.fingerprint
    assert asked["same_name_announced"] is True
    await alice.stop()
    alice = await make_local_node("alice", identity=alice.identity,
                                  listen=(("127.0.0.1", port),))
    await until(lambda: alice.links.is_linked(bob.key), 15, "bob back")
    listed = alice.db.contacts.get(mallory.key)
    assert listed is not None  # her next knock names herself "bob" again (B14's path)
    alice.trust._rename_request(listed, "bob")
    asked = _request(alice, fp)
    assert asked is not None and asked["name"] == f"bob ({short_fingerprint(mallory.key)})"
    assert asked["same_name_verified"] is True and asked["same_name_as"] == bob.identity.fingerprint


async def test_log_of_a_removed_contacts_name_that_a_group_has_is_ambiguous(
        make_local_node: MakeLocalNode) -> None:
    """B8: `log carol` after removing carol while a group carol exists said "No messages"; it
    must refuse as `send` does, and `@carol` or the fingerprint reach carol's kept history."""
    import pytest

    from p2pchat.core.identity import Identity
    from p2pchat.node.config import CommandError

    alice = await make_local_node("alice")
    carol = Identity.generate()
    await alice.add_contact(carol.fingerprint, "carol", [])
    await alice.send("carol", "kept words")
    await alice.create_group("carol")
    await alice.remove_contact("carol")
    with pytest.raises(CommandError) as refused:
        alice.history("carol", changes=True)
    assert refused.value.code == "ambiguous"
    assert "#carol" in str(refused.value) and "@carol" in str(refused.value)
    assert carol.fingerprint in str(refused.value)
    for who in ("@carol", carol.fingerprint):
        assert [m["text"] for m in alice.history(who)] == ["kept words"]
    assert "kept words" not in [m["text"] for m in alice.history("#carol", changes=True)]
