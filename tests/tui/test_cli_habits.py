"""The CLI agrees with the chat screen, reads without a node, and fails cleanly; real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity, safety_half
from p2pchat.node.node import DB_FILE
from p2pchat.storage.store import Store
from p2pchat.tui.safety import safety_rows
from tests.cli import assert_clean_failure, run, run_json
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import mutual

pytestmark = pytest.mark.timeout(120)


def test_safety_by_name_or_spaced_fingerprint_same_layout_as_the_chat(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = Identity.generate()
    try:
        alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
        by_fp = run_json(alice.home, "safety", bob.fingerprint)["safety_number"]
        alice_key = bytes.fromhex(run_json(alice.home, "id")["public_key"])
        spaced = bob.fingerprint.replace("-", " ").split()  # several arguments, no quotes
        assert run_json(alice.home, "safety", *spaced)["safety_number"] == by_fp
        assert run_json(alice.home, "safety", "bob")["safety_number"] == by_fp  # by name
        shown = run(alice.home, "safety", "bob", check=True).stdout.splitlines()[1:3]
        # as /safety shows it: two rows of six groups, one per key, each saying whose it is
        assert [row.strip() for row in shown] == safety_rows(by_fp, alice_key, "bob")
        assert all(len(row.split()) == 7 for row in shown)
        assert sorted(row.split()[-1] for row in shown) == ["bob", "you"]
        halves = {row.split()[-1]: "".join(row.split()[:6]) for row in shown}
        assert halves["you"] == safety_half(alice_key)
        assert halves["bob"] == safety_half(bob.public_key)
        said = run(alice.home, "safety", "bob", check=True).stdout
        assert "Compare all twelve groups" in said and "their row" in said
    finally:
        alice.close()


def test_both_sides_show_the_same_rows_in_the_same_order_labelled_for_each(
        tmp_path: Path) -> None:
    """Trial 2, 30/B2: alice's half came first in every number she had (it sorts first), so an
    impostor's number started like the real one's: each row now says whose half it is."""
    alice = NodeProcess(tmp_path / "alice", "alice")
    bob = NodeProcess(tmp_path / "bob", "bob")
    hers = run(alice.home, "safety", bob.fingerprint, check=True).stdout.splitlines()[1:3]
    his = run(bob.home, "safety", alice.fingerprint, check=True).stdout.splitlines()[1:3]
    assert [r.split()[:6] for r in hers] == [r.split()[:6] for r in his]  # same digits, order
    assert [r.split()[-1] for r in hers] == list(reversed([r.split()[-1] for r in his]))
    assert {r.split()[-1] for r in hers} == {"you", "them"}


def test_history_and_contacts_without_a_node(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
                  check=True)
        bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
        alice.cli("send", "bob", "lunch at noon?", check=True)
        wait_for(lambda: [m["text"] for m in bob.log_json("alice")] == ["lunch at noon?"], 20,
                 "the message")
        # Beside the running node, a read-only store sees what it wrote.
        reader = Store.open_readonly(alice.home / DB_FILE, bytes(32))
        try:
            assert [c.name for c in reader.contacts.list_all()] == ["bob"]
        finally:
            reader.close()
        alice.stop()
        assert [m["text"] for m in alice.log_json("bob")] == ["lunch at noon?"]
        contacts = run_json(alice.home, "contacts", "list")
        assert [(c["name"], c["online"]) for c in contacts] == [("bob", None)]  # not known (14b B2)
        # No ACTION lists, with --json too (trial 3, B5: "unrecognized arguments: --json").
        assert run_json(alice.home, "contacts") == contacts
        assert run_json(alice.home, "group") == run_json(alice.home, "group", "list")
        found = run(alice.home, "search", "bob", "LUNCH", check=True).stdout
        assert "lunch at noon?" in found
        alice.start()  # the read-only opens left the store as the node wants it
        assert alice.json("status")["name"] == "alice"
    finally:
        alice.close()
        bob.close()


def test_contact_commands_say_what_is_wrong(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    carol = Identity.generate()
    try:
        alice.cli("contacts", "add", carol.fingerprint, "--name", "carol", check=True)
        taken = alice.cli("contacts", "accept", "carol")
        assert_clean_failure(taken)
        assert "'carol' is already a contact" in taken.stderr
        renamed = alice.json("contacts", "rename", "carol", "Carol S")
        assert renamed["name"] == "Carol S"
        alice.cli("contacts", "block", "Carol S", check=True)
        blocked = alice.cli("contacts", "accept", "Carol S")
        assert "'Carol S' is blocked: unblock them first" in blocked.stderr
        assert alice.json("contacts", "unblock", "Carol S")["state"] == "contact"
        again = alice.cli("contacts", "unblock", "Carol S")  # trial 14c, B9
        assert_clean_failure(again)
        assert "Carol S is not blocked: a contact, not linked" in again.stderr, again.stderr
        assert "already a contact" not in again.stderr
        removed = alice.cli("contacts", "remove", "Carol S", check=True).stdout
        assert "can ask to connect again" in removed and "block" in removed
    finally:
        alice.close()


def test_clean_errors_for_scripts_and_missing_homes(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    status = run(nowhere, "status")
    assert_clean_failure(status)
    assert "there is no p2pchat home at" in status.stderr and "init" in status.stderr
    as_json = run(nowhere, "contacts", "list", "--json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] and "no p2pchat home" in error["message"]
    no_id = run(tmp_path / "empty", "id")
    assert_clean_failure(no_id)
    assert f"--home {tmp_path / 'empty'} init" in no_id.stderr
    chat = run(tmp_path / "chat-home", "chat")  # no terminal: refused, and nothing created
    assert_clean_failure(chat)
    assert "needs a terminal" in chat.stderr and not (tmp_path / "chat-home").exists()


def test_nick_without_a_node_changes_the_name_only(tmp_path: Path) -> None:
    home = tmp_path / "a"
    run(home, "init", "--name", "root", env={"P2PCHAT_PASSPHRASE": "pw pw"}, check=True)
    before = run_json(home, "id")
    assert run_json(home, "nick", "Ada")["name"] == "Ada"
    after = run_json(home, "id")
    assert after["name"] == "Ada" and after["fingerprint"] == before["fingerprint"]
    assert_clean_failure(run(home, "nick", "bad\x1bname"))
    assert run_json(home, "id")["name"] == "Ada"


def test_unblock_of_a_linked_contact_or_a_request_says_what_they_are(tmp_path: Path) -> None:
    """trial 14c, B9: "'carol (X)' asked to connect and is not a contact yet: accept them
    first" and "'erin' is already a contact" for `contacts unblock` of one not blocked."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        mutual(alice, bob, "alice", "bob")
        linked = alice.cli("contacts", "unblock", "bob")
        assert_clean_failure(linked)
        assert "bob is not blocked: a contact, linked" in linked.stderr, linked.stderr
        carol.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
                  check=True)
        wait_for(lambda: any(c["state"] == "request" for c in alice.json("contacts", "list")),
                 20, "carol's request")
        asks = alice.cli("contacts", "unblock", "carol")
        assert_clean_failure(asks)
        short = carol.fingerprint.replace("-", "")[:7]
        assert f"carol ({short}) is not blocked: a request; accept them to add them" \
            in asks.stderr, asks.stderr
    finally:
        carol.close()
        bob.close()
        alice.close()
