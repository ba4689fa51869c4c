"""Issue 24's acceptance with real node processes driven through the CLI: the owner names an
admin and dies for good; the admin removes a member and writes: the removed member never reads
it, the others do."""

from __future__ import annotations

import pytest

from tests.integration.test_groups_cli import MakeNode, group_view, has, start_group, texts
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(180)


def test_an_admin_keeps_the_hall_going_after_the_owner_is_gone(make_node: MakeNode) -> None:
    alice, bob, carol, dave = (make_node(n).start() for n in ("alice", "bob", "carol", "dave"))
    group = start_group(alice, bob, carol, dave, title="hall")
    for other in (carol, dave):  # bob can reach them without alice (on a LAN: mDNS)
        bob.cli("contacts", "add", other.fingerprint, "--name", other.name, "--addr", other.addr,
                check=True)
        other.cli("contacts", "add", bob.fingerprint, "--name", bob.name, check=True)

    denied = bob.cli("group", "remove", "hall", "carol")
    assert denied.returncode == 1 and "owner or an admin" in denied.stderr
    alice.cli("group", "admin", "hall", "bob", check=True)
    wait_for(lambda: (group_view(bob, "hall") or {}).get("role") == "admin", 15, "bob an admin")
    assert "(admin)" in carol.cli("group", "members", "hall", check=True).stdout

    alice.kill()  # gone for good: never started again
    bob.cli("group", "remove", "hall", "carol", check=True)
    wait_for(lambda: (group_view(carol, "hall") or {}).get("role") == "removed", 20,
             "carol told she is out")
    wait_for(lambda: (group_view(dave, "hall") or {}).get("epoch")
             == (group_view(bob, "hall") or {}).get("epoch")
             and (group_view(dave, "hall") or {}).get("has_key"), 20, "dave at bob's epoch")
    bob.cli("send", "hall", "carol is out now", check=True)
    wait_for(lambda: has(dave, group, "carol is out now"), 20, "dave reads it")
    assert "carol is out now" in texts(bob, group)
    assert "carol is out now" not in texts(carol, group)
    members = {m["name"] for m in dave.json("group", "members", "hall")}
    assert members == {"alice", "bob", "dave"}
