"""CLI frictions of newcomer trial 2 (notes/s31/trial2.md B6, B7, B11, B13, B14, B15), with
real node processes driven through the CLI."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli import run, run_json
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)

MakeNode = Callable[[str], NodeProcess]


def test_contacts_and_groups_list_from_the_store_with_no_node(make_node: MakeNode) -> None:
    """B6: `contacts` with no node dropped "verified"; B7: `group` failed "no node is running"."""
    alice, bob = make_node("alice").start(), make_node("bob")
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    alice.cli("contacts", "verify", "bob", check=True)
    alice.cli("group", "create", "climbing", check=True)
    running = run_json(alice.home, "group", "list")
    assert "verified" in run(alice.home, "contacts", check=True).stdout
    alice.stop()
    assert "verified" in run(alice.home, "contacts", check=True).stdout
    assert run_json(alice.home, "contacts", "list")[0]["verified"] is True
    listed = run(alice.home, "group", check=True)
    assert "climbing" in listed.stdout and "no node" not in listed.stderr
    assert run_json(alice.home, "group", "list") == running


def test_accepting_a_contact_or_an_invitation_says_so_in_words(make_node: MakeNode) -> None:
    """B11: `contacts accept alice` and `group accept climbing` printed a bare listing row."""
    alice, bob = make_node("alice").start(), make_node("bob").start()
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
              check=True)
    wait_for(lambda: any(c["state"] == "request" for c in bob.json("contacts", "list")), 20,
             "alice's request at bob")
    said = bob.cli("contacts", "accept", "alice", check=True).stdout
    # alice is online (she just asked): never "wait until they are online" (round 2, 9)
    assert "Accepted alice: linked, you can chat." in said, said
    group = alice.json("group", "create", "climbing")["group"]
    wait_for(lambda: any(c["online"] for c in alice.json("contacts", "list")), 20, "linked")
    alice.cli("group", "invite", "climbing", "bob", check=True)
    wait_for(lambda: any(g["group"] == group and g["role"] == "invited"
                         for g in bob.json("group", "list", "--json")), 20, "the invitation")
    said = bob.cli("group", "accept", "climbing", check=True).stdout
    assert "You joined climbing (2 members, " in said and "p2pchat send climbing TEXT" in said
    assert "'#climbing'" not in said  # no contact shares the name (trial 4, B17)


def test_a_message_over_the_limit_says_how_and_split_sends_it_in_order(
        make_node: MakeNode) -> None:
    """B13: `send bob - < 22 KiB` failed "exceeds the limit of 16384" with no hint."""
    alice, bob = make_node("alice").start(), make_node("bob")
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    lines = [f"line {i:05d} " + "x" * 60 for i in range(330)]  # about 22 KiB
    text = "\n".join(lines)
    refused = alice.cli("send", "bob", "-", input=text)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "--split sends it as 2 messages split at line ends" in refused.stderr
    assert alice.log_json("bob") == []  # nothing half-sent
    sent = alice.cli("send", "bob", "-", "--split", input=text, check=True)
    assert len(sent.stdout.split()) == 2
    shown = [m["text"] for m in alice.log_json("bob")]
    assert "\n".join(shown) == text  # in order, every line whole


def test_a_group_named_like_a_contact_is_created_with_a_warning(make_node: MakeNode) -> None:
    """B15: `group create carol` with a contact named carol said nothing."""
    alice, carol = make_node("alice").start(), make_node("carol")
    alice.cli("contacts", "add", carol.fingerprint, "--name", "carol", check=True)
    made = alice.cli("group", "create", "carol", check=True)
    assert "#carol for the group and @carol for the contact" in made.stderr
    plain = alice.cli("group", "create", "climbing", check=True)
    assert "Note:" not in plain.stderr
    assert "note" in alice.json("group", "create", "Carol")  # names fold case, as lookups do
