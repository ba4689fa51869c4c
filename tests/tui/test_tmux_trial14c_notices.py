"""notes/s36/trial14c.md B8 in a real terminal (tmux, 80x24), against real nodes: a y/n
question (/block) hid the standing NEW KEY warning while it was up."""

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
