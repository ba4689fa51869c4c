"""Issue 24's acceptance with real node processes driven through the CLI: the owner names an
admin and dies for good; the admin removes a member and writes: the removed member never reads
it, the others do."""

from __future__ import annotations

import pytest

from p2pchat.cli.serve import GROUP_SYNC_ENV
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


def test_delivered_to_names_and_changes_in_the_log(make_node: MakeNode) -> None:
    # A member's vector, which says what it holds, goes at the group's next anti-entropy round:
    # half a second here, not ten.
    rounds = {GROUP_SYNC_ENV: "0.5"}
    alice, bob, carol = (make_node(n).start(env=rounds) for n in ("alice", "bob", "carol"))
    group = start_group(alice, bob, carol, title="hall")
    alice.cli("send", "hall", "welcome", check=True)

    def delivered() -> list[str]:
        mine = [m for m in alice.log_json(group) if m.get("text") == "welcome"]
        return sorted(mine[0].get("delivered_to") or []) if mine else []

    wait_for(lambda: delivered() == sorted([bob.fingerprint, carol.fingerprint]), 20,
             "both members in delivered_to")
    shown = alice.cli("log", "hall", check=True).stdout
    assert "welcome  (2/2 delivered)" in shown
    # carol is not bob's contact: the name she was added under, marked unverified.
    carol.cli("send", "hall", "count me in", check=True)
    wait_for(lambda: has(bob, group, "count me in"), 20, "carol's message at bob")
    line = next(m for m in bob.log_json(group) if m.get("text") == "count me in")
    assert line["author_name"] == "carol" and line["author_contact"] is False
    assert "~carol: count me in" in bob.cli("log", "hall", check=True).stdout
    members = bob.cli("group", "members", "hall", check=True).stdout
    assert "~carol" in members and "unverified" in members
    # Joins, admin changes and removals are lines of the conversation, in order.
    alice.cli("group", "admin", "hall", "bob", check=True)
    alice.cli("group", "remove", "hall", "carol", check=True)
    wait_for(lambda: (group_view(carol, "hall") or {}).get("role") == "removed", 20, "carol out")
    wait_for(lambda: "carol was removed" in bob.cli("log", "hall").stdout, 20, "bob's lines")
    lines = [m["text"] for m in bob.log_json(group) if m.get("notice") == "membership"]
    assert lines.index("you joined") < lines.index("you are now an admin") \
        < lines.index("~carol was removed")  # not bob's contact
    assert "you were removed" in carol.cli("log", "hall", check=True).stdout
