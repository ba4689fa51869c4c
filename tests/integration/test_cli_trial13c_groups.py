"""Trial 13c (issue 23, node and CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

import pytest

from tests.integration.test_groups_cli import MakeNode, api, group_view, hub, invited
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(180)


def test_group_accept_counts_a_member_who_accepted_before_you(make_node: MakeNode) -> None:
    """B4 (and 13b B8 3): dave accepted hike after bob; `group accept` said "(2 members, 1
    invited, 1 other online)", the invitation's chain, while `group` said 3 members."""
    carol, bob, dave = (make_node(n).start() for n in ("carol", "bob", "dave"))
    hub(carol, bob, dave)
    group = carol.json("group", "create", "hike", "bob", "dave")["group"]
    for member in (bob, dave):
        wait_for(lambda m=member: invited(m, group), 20, f"{member.name}'s invitation")
    bob.cli("group", "accept", "hike", check=True)
    wait_for(lambda: not any(m["invited"] for m in api(carol, "groups.members", group=group)
                             if m["fingerprint"] == bob.fingerprint), 20, "carol sees bob join")
    said = dave.cli("group", "accept", "hike", check=True).stdout
    assert said.startswith("You joined hike (3 members"), said
    assert "invited" not in said, said
    assert (group_view(dave, "hike") or {}).get("invited") == 0
