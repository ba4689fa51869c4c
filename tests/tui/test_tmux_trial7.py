"""notes/s32/trial6.md and trial7.md leftovers in a real terminal (tmux), attached to real
nodes: Alt+A takes an unread conversation before a request (trial 6, B15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header, mutual

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_alt_a_takes_unread_messages_before_a_request(tmp_path: Path,
                                                      terminal: Terminal) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    dave = NodeProcess(tmp_path / "dave", "dave").start()
    try:
        mutual(alice, bob, "alice", "bob")
        terminal.start(chat_argv(alice.home), tmp_path / "exit")
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
        terminal.line(f"/add {Identity.generate().fingerprint} carol")  # open, below bob
        terminal.wait_screen(lambda s: "carol · asked" in header(s), "carol open")
        dave.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
                 check=True)
        terminal.wait_screen(lambda s: " 3 ? dave" in s, "dave's request, below carol")
        bob.cli("send", "alice", "news for you", check=True)
        terminal.wait_screen(lambda s: " 1 ● bob (1)" in s, "bob's unread count")
        terminal.keys("M-a")  # after carol in list order comes dave's request: not first
        terminal.wait_screen(lambda s: "bob · online" in header(s) and "news for you" in s,
                             "Alt+A to bob's message")
        terminal.keys("M-a")  # nothing unread left: the request
        terminal.wait_screen(lambda s: "dave" in header(s), "then Alt+A to the request")
    finally:
        alice.close()
        bob.close()
        dave.close()
