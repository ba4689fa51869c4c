"""Trial 14c, B6: mallory's header went from "asked, waiting for alice to accept" to "asked:
your request waits here until alice's node is reached" after mallory's restart, though alice's
node had held the request for minutes: `awaits_answer` lived in memory only. It is kept now
(schema v11) until a link says otherwise. Real node processes, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)


def awaits(node: NodeProcess) -> list[object]:
    return [c.get("awaits_answer") for c in node.json("contacts")]


def test_a_request_their_node_holds_still_awaits_its_answer_after_a_restart(
        tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    mallory = NodeProcess(tmp_path / "mallory", "mallory").start()
    try:
        mallory.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                    alice.addr, check=True)
        wait_for(lambda: [c["state"] for c in alice.json("contacts")] == ["request"], 30,
                 "mallory's request at alice's node")
        wait_for(lambda: awaits(mallory) == [True], 30, "alice's node said it has it")
        alice.stop()  # unreachable from now on (trial 14c: in a closed network)
        mallory.stop()
        mallory.start()
        assert awaits(mallory) == [True], mallory.json("contacts")
        listed = mallory.cli("contacts", check=True).stdout
        assert "asked, waiting" in listed, listed
        # the next link says otherwise: alice accepts, and it is gone, across a restart too
        alice.start()
        alice.cli("contacts", "accept", "mallory", check=True)
        wait_for(lambda: awaits(mallory) == [None], 30, "alice's node knows mallory")
        mallory.stop()
        alice.stop()
        mallory.start()
        assert awaits(mallory) == [None], mallory.json("contacts")
    finally:
        for node in (alice, mallory):
            node.close()
