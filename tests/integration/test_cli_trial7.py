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
