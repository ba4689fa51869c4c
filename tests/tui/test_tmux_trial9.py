"""notes/s33/trial9.md in a real terminal (tmux), real processes: B9, /id at 80x24 showed
"You are bob; your fingerprint, for friends to add: 32QS4S4-…-DTPO7UR-A6G6UAR …" and hid the
"reachable at HOST:PORT" a friend needs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


def test_id_shows_the_address_whole_at_80_columns(tmp_path: Path, terminal: Terminal) -> None:
    home = NodeProcess(tmp_path / "alice", "alice").home
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "alice" in s and "/nearby" in s, "the chat")
    terminal.line("/id")
    screen = terminal.wait_screen(lambda s: "your fingerprint, for friends" in s, "/id")
    assert "reachable at 127.0.0.1:" in screen, screen
    after = screen.split("your fingerprint, for friends")[1]
    assert "…" not in after, screen  # nothing of it cut
    assert "does not find you)" in after, screen  # to its last word
    terminal.line("/quit")
    terminal.wait_screen(lambda s: "you will be offline" in s, "the question before leaving")
    terminal.keys("y")
    wait_for(lambda: exited(exit_file), 30, "the chat to exit")
    said = (tmp_path / "exit.err").read_text() if (tmp_path / "exit.err").exists() else ""
    if "(pid " in said:  # a node kept running: stop it
        os.kill(int(said.split("(pid ")[1].split(";")[0]), signal.SIGTERM)
