"""Trial 7 and trial 6 leftovers (issue 23, node and CLI side), through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.nodes import NodeProcess, wait_for


def test_adding_someone_whose_request_waits_says_the_add_is_mutual(tmp_path: Path) -> None:
    """Trial 7, 18: alice added bob; bob's `contacts add <alice>` then printed "they see a
    request until they add you too", though alice had added him first. It says the add is
    mutual, and that they are linked once the link is up."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
                  check=True)
        wait_for(lambda: any(c["state"] == "request" for c in bob.json("contacts", "list")),
                 20, "alice's request at bob")
        said = bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                       alice.addr, check=True).stdout
        assert "they see a request" not in said, said
        assert "Added alice; they had added you too, so you are linked: you can chat." in said, \
            said
        wait_for(lambda: all(c["online"] for c in alice.json("contacts", "list")), 20,
                 "linked at alice too")
    finally:
        alice.close()
        bob.close()


def test_the_control_api_refuses_a_new_key_under_a_verified_name_without_anyway(
    tmp_path: Path,
) -> None:
    """The impostor rule was the CLI's alone: a script calling `contacts.accept` accepted a new
    key under a verified contact's name. The node refuses it (`new_key`) unless `anyway`; the
    CLI says it in its own words, pointing to --anyway."""
    import pytest

    from p2pchat.control_client import ControlClient, ControlError
    from tests.cli import assert_clean_failure
    from tests.tui.test_tmux import impostor_asks

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    try:
        impostor_asks(alice, bob, impostor)
        with ControlClient(alice.home) as client, pytest.raises(ControlError) as refused:
            client.call("contacts.accept", who=impostor.fingerprint)
        assert refused.value.code == "new_key", refused.value
        assert "NEW KEY" in str(refused.value)
        assert [c["state"] for c in alice.json("contacts", "list")
                if c["fingerprint"] == impostor.fingerprint] == ["request"]
        said = alice.cli("contacts", "accept", impostor.fingerprint)
        assert_clean_failure(said)
        assert "WARNING: a NEW KEY under the name of bob, whom you VERIFIED" in said.stderr
        assert "--anyway" in said.stderr
        with ControlClient(alice.home) as client:
            accepted = client.call("contacts.accept", who=impostor.fingerprint, anyway=True)
        assert accepted["state"] == "contact", accepted
    finally:
        for node in (alice, bob, impostor):
            node.close()
