"""Trial 14a, B18 (CLI side), through real processes: `contacts add` of erin, whose node runs
with discovery off and whose address carol does not have, said "they see a request until they
add you too": erin's node was never reached and saw nothing. It says where the request is."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.nodes import NodeProcess, wait_for


def _requests(node: NodeProcess) -> list[str]:
    return [c["fingerprint"] for c in node.json("contacts", "list") if c["state"] == "request"]


def _closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_contacts_add_says_the_request_waits_until_their_node_is_reached(
        tmp_path: Path) -> None:
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    erin = NodeProcess(tmp_path / "erin", "erin").start()
    dave = NodeProcess(tmp_path / "dave", "dave")  # never started: an address that is silent
    try:
        said = carol.cli("contacts", "add", erin.fingerprint, "--name", "erin",
                         check=True).stdout.strip()
        assert said == ("Added erin; the request waits here until erin's node is reached: not"
                        " found nearby and no address: p2pchat contacts addr erin HOST:PORT if"
                        " you know where it runs, or both use the same relay."), said
        assert "they see a request" not in said
        assert not _requests(erin), "nothing reached erin's node"
        said = carol.cli("contacts", "add", dave.fingerprint, "--name", "dave", "--addr",
                         f"127.0.0.1:{_closed_port()}", check=True).stdout.strip()
        assert said == ("Added dave; the request waits here until dave's node is reached (it"
                        " is being dialled); they see it then."), said
        carol.cli("contacts", "addr", "erin", erin.addr, check=True)
        wait_for(lambda: carol.fingerprint in _requests(erin), 20, "the request at erin's")
        bob = NodeProcess(tmp_path / "bob", "bob").start()
        try:  # reached at once: now it is true
            said = carol.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr",
                             bob.addr, check=True).stdout.strip()
            assert said == "Added bob: they see a request until they add you too.", said
        finally:
            bob.close()
    finally:
        carol.close()
        erin.close()
