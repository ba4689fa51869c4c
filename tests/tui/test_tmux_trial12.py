"""notes/s34/trial12.md in a real terminal (tmux): a refused `/block nobody` stayed in the input,
so the `/network join club PASSPHRASE` typed next ran on from it and the passphrase went out,
in clear, in the refusal's notice ("no contact named 'nobody/network join club ...'")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


def test_the_line_after_a_refused_name_runs_alone(tmp_path: Path, terminal: Terminal) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        terminal.start(chat_argv(alice.home), tmp_path / "exit")
        terminal.wait_screen(lambda s: "alice" in s and "/nearby" in s, "the chat")
        terminal.line("/block nobody")
        screen = terminal.wait_screen(lambda s: "no contact named 'nobody'" in s, "the refusal")
        assert "Up brings the line back" in screen, screen
        terminal.line("/network join club topsecret2")  # typed next, as a person would
        screen = terminal.wait_screen(lambda s: "discovery is off" in s, "the join's answer")
        assert "nobody/network" not in screen, screen
        terminal.line("/notices")
        screen = terminal.wait_screen(lambda s: "discovery is off" in s and "Recent notices" in s,
                                      "the notices page")
        assert "topsecret2" not in screen, screen
        terminal.keys("Escape")
        terminal.wait_screen(lambda s: "Recent notices" not in s, "the page closed")
        # Up: /notices, then the refused line (a /network join with its passphrase is never kept)
        terminal.keys("Up")
        terminal.wait_screen(lambda s: "> /notices" in s, "the last line recalled")
        terminal.keys("Up")
        screen = terminal.wait_screen(lambda s: "> /block nobody" in s, "the line recalled")
    finally:
        alice.close()
