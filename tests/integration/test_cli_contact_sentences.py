"""Trial 13c (issue 23, CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.nodes import NodeProcess, wait_for


def _one_sentence(node: NodeProcess, other: NodeProcess, *args: str) -> str:
    """What a `contacts` subcommand printed: one line, a sentence, not a list row (a row
    shows the `other` node's fingerprint)."""
    said = node.cli("contacts", *args, check=True).stdout
    assert len(said.splitlines()) == 1, said
    assert other.fingerprint[:7] not in said, said
    return said.strip()


def test_every_contacts_subcommand_answers_in_one_sentence(tmp_path: Path) -> None:
    """B7: `contacts add` printed "erin   offline MPCV4PC-..." and then "Added erin; they had
    added you too, so you are linked"; `contacts unblock carol` printed only a list row, where
    `block` says "Blocked carol: ...". Each says what it did and what is true now, no row."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        said = _one_sentence(alice, bob, "add", bob.fingerprint, "--name", "bob",
                             "--addr", bob.addr)
        assert said == "Added bob: they see a request until they add you too.", said
        said = _one_sentence(bob, alice, "add", alice.fingerprint, "--name", "alice")
        assert said.startswith("Added alice; they had added you too, so "), said
        wait_for(lambda: any(c["online"] for c in alice.json("contacts", "list")), 20, "link")
        said = _one_sentence(alice, bob, "addr", "bob", bob.addr)
        assert said == f"bob is reached at {bob.addr}.", said
        assert _one_sentence(alice, bob, "rename", "bob", "Bob B") == "Renamed bob to Bob B."
        assert _one_sentence(alice, bob, "verify", "Bob B").startswith("Marked Bob B verified")
        assert _one_sentence(alice, bob, "verify", "Bob B", "--undo") \
            == "Bob B is not marked verified any more."
        assert _one_sentence(alice, bob, "block", "Bob B").startswith("Blocked Bob B:")
        said = _one_sentence(alice, bob, "unblock", "Bob B")
        assert said.startswith("Unblocked Bob B: a contact again"), said
        assert alice.json("contacts", "list")[0]["state"] == "contact"  # --json as it was
    finally:
        alice.close()
        bob.close()
