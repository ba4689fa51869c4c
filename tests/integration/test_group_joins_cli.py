"""Invited, joined, declined, between real node processes driven through the CLI (issue 23): a
member who is not linked to the invitee learns it joined from a member who saw it (GroupJoins,
protocol 8.17), and its join line comes before the first message it wrote."""

from __future__ import annotations

import pytest

from tests.integration.test_groups_cli import MakeNode, group_view, has, start_group
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(180)


def test_a_member_far_from_the_invitee_sees_it_join_before_its_first_message(
        make_node: MakeNode) -> None:
    alice, bob, carol = (make_node(n).start() for n in ("alice", "bob", "carol"))
    group = start_group(alice, bob, carol, title="hall")  # bob and carol never link
    wait_for(lambda: (group_view(alice, "hall") or {}).get("invited") == 0, 20,
             "alice saw both accept")
    # bob is not linked to carol: alice, who saw her say yes, tells him (GroupJoins, 8.17),
    # within seconds and before carol writes anything.
    wait_for(lambda: (group_view(bob, "hall") or {}).get("invited") == 0, 6,
             "bob to learn from alice that carol joined")
    assert "3 members" in bob.cli("group", "list", check=True).stdout
    carol.cli("send", "hall", "carol here", check=True)
    wait_for(lambda: has(bob, group, "carol here"), 20, "carol's message at bob")
    shown = [m["text"] for m in bob.log_json(group)]
    at = shown.index("carol here")
    assert shown[at - 1] == "~carol joined", shown
    assert shown.index("alice invited ~carol") < at - 1
    assert (group_view(bob, "hall") or {}).get("invited") == 0
    assert "3 members" in bob.cli("group", "list", check=True).stdout
    # alice saw each say yes, in order, and nobody "left".
    lines = [m["text"] for m in alice.log_json(group) if m.get("notice") == "membership"]
    assert lines.index("you invited bob") < lines.index("bob joined")
    assert lines.index("you invited carol") < lines.index("carol joined")
    assert not any(line.endswith(" left") for line in lines)
