"""Trial 2 point 16/B5: "b: keep the node running" when leaving the chat keeps the node on the
address and port the chat's node had (it started with --listen 127.0.0.1:0 and went from 40769
to 37197), so an address a friend typed still works. A real terminal (tmux), real processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.cli import run_json
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import (
    TMUX,
    Terminal,
    chat_argv,
    exited,
    leave_keeping_the_node,
    reachable_at,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


def _chat_address(terminal: Terminal, argv: list[str], exit_file: Path) -> str:
    """Start alice's chat with `argv` and wait for it: the address its /id gives."""
    terminal.start(argv, exit_file)
    terminal.wait_screen(lambda s: "alice" in s and "/nearby" in s, "the chat")
    return reachable_at(terminal)


def test_the_kept_node_listens_where_the_chat_node_did(tmp_path: Path,
                                                       terminal: Terminal) -> None:
    home = NodeProcess(tmp_path / "alice", "alice").home  # an identity, no node running
    exit_file = tmp_path / "exit"
    where = _chat_address(terminal, chat_argv(home, "--listen", "127.0.0.1:0"), exit_file)
    _, pid = leave_keeping_the_node(terminal, exit_file)
    try:
        assert run_json(home, "status")["listen"] == [where]
    finally:
        os.kill(pid, signal.SIGTERM)


def test_a_kept_node_told_nothing_keeps_the_chat_nodes_place_as_it_came(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """With no --listen typed, the background node is not handed the chat node's bound
    addresses as if typed: it takes the same place the same way (here the home's setting), on
    the same port, and `status` says where from."""
    home = NodeProcess(tmp_path / "alice", "alice").home
    run_json(home, "settings", "listen", "127.0.0.1:0")
    exit_file = tmp_path / "exit"
    where = _chat_address(terminal, chat_argv(home), exit_file)  # --no-mdns only
    _, pid = leave_keeping_the_node(terminal, exit_file)
    try:
        status = run_json(home, "status")
        assert status["listen"] == [where] and status["listen_from"] == "settings", status
        assert status["mdns"] is False, status
    finally:
        os.kill(pid, signal.SIGTERM)


def test_the_chats_mdns_choice_is_kept_though_its_screen_starts_discovery_late(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """The chat's node starts without mDNS and the screen starts it once drawn: last run's
    choice kept in the home is still the one typed (here the loopback only), not "off"."""
    import sys

    from p2pchat import settings

    home = NodeProcess(tmp_path / "alice", "alice").home
    exit_file = tmp_path / "exit"
    terminal.start([sys.executable, "-m", "p2pchat", "--home", str(home), "chat",
                    "--listen", "127.0.0.1:0", "--mdns-interface", "127.0.0.1"], exit_file)
    terminal.wait_screen(lambda s: "alice" in s and "/nearby" in s, "the chat")
    terminal.line("/quit")
    terminal.wait_screen(lambda s: "you will be offline" in s, "the question before leaving")
    terminal.keys("y", "Enter")
    assert wait_for(lambda: exited(exit_file), 30, "the chat to exit") == "0", \
        (tmp_path / "exit.err").read_text()
    last = settings.last_run(home)
    assert last.host == "127.0.0.1" and last.mdns == ("127.0.0.1",), last
