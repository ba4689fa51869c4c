"""Issue 23: `group create` and `group accept` say in a sentence what happened and what next
(not a `group list` row), and an invitation's hint names the group as it can be typed."""

from __future__ import annotations

import pytest

from tests.integration.test_groups_cli import MakeNode, hub, invited
from tests.nodes import wait_for

pytestmark = pytest.mark.timeout(120)


def test_create_and_accept_say_what_happened_and_hints_use_the_name(
        make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    hub(alice, bob)
    made = alice.cli("group", "create", "rock climbing", check=True).stdout
    assert made.startswith("Created the group rock climbing (id "), made
    assert "p2pchat group invite 'rock climbing' CONTACT" in made
    assert "owner alice" not in made  # not the list row
    group = alice.json("group", "list")[0]["group"]
    alice.cli("group", "invite", "#rock climbing", "bob", check=True)
    wait_for(lambda: invited(bob, group), 20, "bob's invitation")
    listed = bob.cli("group", "list", check=True).stdout
    assert "(p2pchat group accept 'rock climbing', or decline)" in listed, listed
    said = bob.cli("group", "accept", "rock climbing", check=True).stdout
    assert said.startswith("You joined rock climbing (2 members, "), said
    assert "p2pchat send 'rock climbing' TEXT" in said and "owner alice" not in said
    assert len(said.strip().splitlines()) == 1


def test_an_invitation_hint_uses_the_id_when_two_invitations_share_a_title(
        make_node: MakeNode) -> None:
    alice, carol, bob = (make_node(n).start() for n in ("alice", "carol", "bob"))
    hub(alice, bob)
    hub(carol, bob)
    ids = []
    for owner in (alice, carol):
        ids.append(owner.json("group", "create", "hall")["group"])
        owner.cli("group", "invite", "hall", "bob", check=True)
    wait_for(lambda: all(invited(bob, g) for g in ids), 20, "both invitations")
    listed = bob.cli("group", "list", check=True).stdout
    for g in ids:
        assert f"(p2pchat group accept {g}, or decline)" in listed, listed
