"""notes/s34/trial11.md with the CLI: `group` counts the others online ("1 member, 0 online"
of a group with you alone in it); `group create NAME bob, Carol S` reads a comma-separated
list (it tried bob, Carol and S)."""

from __future__ import annotations

import pytest

from tests.integration.test_groups_cli import MakeNode, hub, invited
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(120)


def test_group_lists_you_alone_as_you_and_a_comma_list_names_contacts(
        make_node: MakeNode) -> None:
    alice, bob, carol = (make_node(n).start() for n in ("alice", "bob", "carol"))
    hub(alice, bob, carol)
    alice.cli("contacts", "rename", "carol", "Carol S", check=True)
    alice.cli("group", "create", "solo", check=True)
    listed = alice.cli("group", check=True).stdout
    assert "1 member (you)" in listed and "0 online" not in listed, listed

    made = alice.json("group", "create", "climbing", "bob,", "Carol", "S")
    assert sorted(made["invitees"]) == ["Carol S", "bob"], made
    wait_for(lambda: invited(carol, made["group"]), 20, "carol's invitation")
    refused = alice.cli("group", "create", "hike", "bob", "Carol", "S")
    assert refused.returncode != 0
    assert "p2pchat group create hike bob 'Carol S'" in refused.stderr, refused.stderr
    assert "'Carol S' S" not in refused.stderr, refused.stderr
