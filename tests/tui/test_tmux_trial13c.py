"""Trial 13c (issue 23): the first run's passphrase and the chat's process life, in a real
terminal (tmux)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.cli import run_json
from tests.nodes import wait_for
from tests.tui.test_tmux import (
    PW,
    TMUX,
    Terminal,
    chat_argv,
    exited,
    leave_keeping_the_node,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]
EMPTY = "Empty: no passphrase would protect your identity"
AGAIN = "(or Enter again for none):"


def test_first_chat_enter_twice_goes_without_a_passphrase_keeping_the_name(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """B8: Enter, Enter at the first chat's passphrase exited "an empty passphrase protects
    nothing", the name typed before lost. The first Enter says what it means and asks again;
    a second Enter goes without one (as --no-passphrase), the name kept, the chat opens."""
    home, exit_file = tmp_path / "bob", tmp_path / "exit"
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file)
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("bob")
    terminal.wait_screen(lambda s: "Choose a passphrase for your identity:" in s, "the question")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: EMPTY in s and AGAIN in s, "what Enter alone means")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Welcome, bob!" in s, "the greeting")
    assert run_json(home, "id")["passphrase_protected"] is False
    said, pid = leave_keeping_the_node(terminal, exit_file)
    os.kill(pid, signal.SIGTERM)
    assert "p2pchat:" not in said, said


def test_init_enter_once_then_a_passphrase_protects_it(tmp_path: Path, terminal: Terminal) -> None:
    """B8, `init`: one Enter is not a choice: the next prompt takes a passphrase as well, which
    is confirmed as usual and protects the identity; the name typed first is kept."""
    home, exit_file = tmp_path / "carol", tmp_path / "exit"
    terminal.start([sys.executable, "-m", "p2pchat", "--home", str(home), "init"], exit_file)
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("carol")
    terminal.wait_screen(lambda s: "Choose a passphrase for your identity:" in s, "the question")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: EMPTY in s and AGAIN in s, "what Enter alone means")
    terminal.line(PW)
    terminal.wait_screen(lambda s: "The same passphrase again:" in s, "the confirmation")
    terminal.line(PW)
    assert wait_for(lambda: exited(exit_file), 30, "init to end") == "0", \
        exit_file.with_name("exit.err").read_text()
    header = run_json(home, "id")
    assert header["name"] == "carol" and header["passphrase_protected"] is True
