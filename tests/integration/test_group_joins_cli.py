"""Invited, joined, declined, between real node processes driven through the CLI (issue 23): a
member who is not linked to the invitee learns it joined from the first message it wrote, and
its join line goes just before that message; until then it is counted as invited."""

from __future__ import annotations

import pytest

from tests.integration.test_groups_cli import MakeNode, group_view, has, start_group
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(180)


def test_a_member_far_from_the_invitee_sees_it_join_with_its_first_message(
        make_node: MakeNode) -> None:
    alice, bob, carol = (make_node(n).start() for n in ("alice", "bob", "carol"))
    group = start_group(alice, bob, carol, title="hall")  # bob and carol never link
    wait_for(lambda: (group_view(alice, "hall") or {}).get("invited") == 0, 20,
             "alice saw both accept")
    # bob joined before carol's invitation: he cannot tell she said yes until she writes.
    view = group_view(bob, "hall")
    assert view is not None and (view["members"], view["invited"]) == (3, 1)
    assert "2 members, 1 invited" in bob.cli("group", "list", check=True).stdout
    carol.cli("send", "hall", "carol here", check=True)
    wait_for(lambda: has(bob, group, "carol here"), 20, "carol's message at bob")
    shown = [m["text"] for m in bob.log_json(group)]
    at = shown.index("carol here")
    assert shown[at - 1] == "carol joined", shown
    assert shown.index("alice invited carol") < at - 1
    assert (group_view(bob, "hall") or {}).get("invited") == 0
    assert "3 members" in bob.cli("group", "list", check=True).stdout
    # alice saw each say yes, in order, and nobody "left".
    lines = [m["text"] for m in alice.log_json(group) if m.get("notice") == "membership"]
    assert lines.index("you invited bob") < lines.index("bob joined")
    assert lines.index("you invited carol") < lines.index("carol joined")
    assert not any(line.endswith(" left") for line in lines)
