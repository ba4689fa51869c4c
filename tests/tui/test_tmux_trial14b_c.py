"""The chat screen in a real terminal (tmux, 80x24), against real nodes: notes/s36/trial14b.md
B1 (the NEW KEY warning pushed off the notices row by news and answers while the request was
pending) and B8 (/unblock's answer never reached the row under the warning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, impostor_asks
from tests.tui.test_tmux_trial14a_d import flat, three

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]
__all__ = ["three"]  # the fixture


def notice_rows(screen: str) -> list[str]:
    """The main pane's rows between the conversation and the input (the list's column cut
    off): from the first WARNING row down to the row above the input's."""
    rows = [row.split("│", 1)[-1].strip() for row in screen.splitlines()]
    top = next(i for i, row in enumerate(rows) if row.startswith("WARNING: bob ("))
    return rows[top:top + 4]


def test_the_warning_keeps_its_row_while_news_and_answers_come(
    tmp_path: Path, terminal: Terminal,
    three: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    alice, bob, impostor = three
    name = impostor_asks(alice, bob, impostor)
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "WARNING" in s and "NEW KEY" in s, "the warning")
    # News: bob's new name, said with nothing typed
    bob.cli("nick", "Bobby", check=True)
    screen = terminal.wait_screen(lambda s: "calls themself 'Bobby'" in flat(s), "bob's nick")
    assert "WARNING: bob (" in screen and "NEW KEY" in screen, screen
    # An answer of 3 lines (/id): the warning keeps its line above it
    terminal.line("/id")
    screen = terminal.wait_screen(lambda s: "reachable at" in s, "/id's answer")
    assert "WARNING: bob (" in screen, screen
    assert notice_rows(screen)[0].endswith("…"), screen  # cut to its one row
    # Blocked, then unblocked: a request again, the answer beside the warning
    terminal.line(f"/block {name}")
    terminal.wait_screen(lambda s: "? y/n" in s or "y/n" in s, "the block question")
    terminal.line("y")
    terminal.wait_screen(lambda s: "WARNING: bob (" not in s, "the request blocked")
    terminal.line(f"/unblock {name}")
    screen = terminal.wait_screen(
        lambda s: "WARNING: bob (" in s and "unblocked bob (" in flat(s),
        "the warning and /unblock's answer, both on the row")
    rows = notice_rows(screen)
    assert any(row.startswith("unblocked bob (") for row in rows), screen
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
