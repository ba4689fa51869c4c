"""notes/s36/trial14c.md in a real terminal (tmux, 80x24), against real nodes: a y/n question
(/block) hid the standing NEW KEY warning while it was up (B8); a request notice cleared with
Esc came back after a node restart (B7 c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, impostor_asks
from tests.tui.test_tmux_trial14a_d import flat, three
from tests.tui.test_tmux_trial14b_c import notice_rows

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]
__all__ = ["three"]  # the fixture
NOTICE = "asks to connect (/accept carol"  # the notice, not the conversation's page


def test_a_question_leaves_the_warning_its_row_at_80x24(
    tmp_path: Path, terminal: Terminal,
    three: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    alice, bob, impostor = three
    name = impostor_asks(alice, bob, impostor)
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "WARNING" in s and "NEW KEY" in s, "the warning")
    terminal.line("/block bob")  # the real bob: a question, the impostor's warning standing
    screen = terminal.wait_screen(lambda s: "y/n" in s and "Block bob" in flat(s),
                                  "the block question")
    rows = notice_rows(screen)
    assert rows[0].startswith("WARNING: bob (") and rows[0].endswith("…"), screen
    assert rows[1].startswith("Block bob"), screen
    assert name.split(" (")[0] == "bob"
    terminal.line("n")
    screen = terminal.wait_screen(lambda s: "not blocked" in flat(s), "the n answer")
    assert "WARNING: bob (" in screen, screen
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_a_request_cleared_with_esc_stays_cleared_across_a_node_restart(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """B7 c: carol's request notice, cleared with Esc, was back after alice's node was
    stopped and started again with her chat attached."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        carol.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                  alice.addr, check=True)
        wait_for(lambda: any(c["state"] == "request" for c in alice.json("contacts", "list")),
                 20, "carol's request")
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file, size=(80, 24))
        terminal.wait_screen(lambda s: NOTICE in flat(s), "the request notice")
        terminal.keys("Escape")
        terminal.wait_screen(lambda s: NOTICE not in flat(s), "cleared with Esc")
        alice.stop()
        terminal.wait_screen(lambda s: "node stopped" in flat(s), "the node gone")
        alice.start()
        screen = terminal.wait_screen(lambda s: "reconnected to the node" in flat(s),
                                      "reconnected", timeout=30)
        assert NOTICE not in flat(screen), screen
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        alice.close()
        carol.close()
