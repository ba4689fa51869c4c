"""Trial 4 (issue 23, node and CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.cli import assert_clean_failure
from tests.nodes import NodeProcess, wait_for


def test_an_unblocked_impostor_request_is_a_request_again_and_the_cli_warns(
    tmp_path: Path,
) -> None:
    """B1: a request under a verified contact's name, blocked then unblocked, had become a
    contact (its messages flowed, no accept). B2: the CLI listed and accepted it unwarned."""
    from tests.faults import EventLog
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    events = EventLog(alice.home)
    try:
        mutual(alice, bob, "alice", "bob")
        alice.cli("contacts", "verify", "bob", check=True)
        impostor.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                     alice.addr, check=True)
        request = wait_for(lambda: events.of("contact_request"), 20, "the request")[0][1]
        name = request["name"]
        assert name == f"bob ({impostor.fingerprint[:7]})"
        listed = alice.cli("contacts", check=True).stdout
        assert "WARNING: a NEW KEY under the name of bob, whom you VERIFIED" in listed, listed
        alice.cli("contacts", "block", name, check=True)
        unblocked = alice.json("contacts", "unblock", name)
        assert unblocked["state"] == "request", unblocked  # was "contact"
        assert unblocked["same_name_verified"] is True
        assert "WARNING: a NEW KEY" in alice.cli("contacts", check=True).stdout
        impostor.cli("send", "alice", "hi alice it's bob (really)", check=True)
        # Refused without --anyway, saying why and how to compare; nothing accepted.
        refused = alice.cli("contacts", "accept", name)
        assert_clean_failure(refused)
        assert "NEW KEY" in refused.stderr and "p2pchat safety" in refused.stderr
        assert "--anyway" in refused.stderr
        assert [c["state"] for c in alice.json("contacts", "list")
                if c["fingerprint"] == impostor.fingerprint] == ["request"]
        assert alice.log_json(impostor.fingerprint) == []  # nothing of theirs was taken
        accepted = alice.cli("contacts", "accept", name, "--anyway", check=True).stdout
        assert f"Accepted {name}" in accepted
        texts = wait_for(lambda: [m["text"] for m in alice.log_json(impostor.fingerprint)],
                         20, "the waiting message, once accepted")
        assert texts == ["hi alice it's bob (really)"]
    finally:
        events.close()
        for node in (alice, bob, impostor):
            node.close()
