"""Trial 13c (notes/s35/trial13c.md), the CLI side, through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.nodes import NodeProcess, wait_for


def test_contacts_says_our_own_network_is_why_their_node_closes_us(tmp_path: Path) -> None:
    """B3: mallory, in network club, added alice (in no network, who never had her): the chat
    said alice "may have removed you", `contacts` another thing. Both now say mallory is in
    club and alice is not (or not yet) admitted, in the same words."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    mallory = NodeProcess(tmp_path / "mallory", "mallory").start()
    try:
        mallory.cli("network", "create", "club", "--no-qr", check=True)
        mallory.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                    alice.addr, check=True)
        wait_for(lambda: mallory.json("contacts", "list")[0].get("unanswered"), 20,
                 "mallory's dial closed unanswered")
        said = mallory.cli("contacts", check=True).stdout
        assert "alice's node closes the connection unanswered: you are in network club and" \
            " alice is not (or not yet) admitted to it; or they do not have you as a contact" \
            " (not yet, removed or blocked)" in said, said
    finally:
        alice.close()
        mallory.close()
