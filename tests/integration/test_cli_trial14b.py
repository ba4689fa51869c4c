"""Trial 14b, through real processes. B2: with no node running, `p2pchat contacts` called
every contact "offline" and left out "(node not running: presence not known)" (its nearby
read came back empty, not unknown), and `--json` said "online": false as a fact."""

from __future__ import annotations

import json
from pathlib import Path

from tests.nodes import NodeProcess


def test_contacts_with_no_node_say_presence_is_not_known(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob")  # never started: only its key is needed
    try:
        alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    finally:
        alice.close()
    rows = alice.cli("contacts", check=True).stdout.splitlines()
    assert rows[0] == "(node not running: presence not known)", rows
    assert rows[1].startswith("bob ") and "offline" not in " ".join(rows), rows
    listed = json.loads(alice.cli("contacts", "--json", check=True).stdout)
    assert [c["online"] for c in listed] == [None], listed  # the key is kept, not a claim
