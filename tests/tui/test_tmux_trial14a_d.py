"""The chat screen in a real terminal (tmux), against real nodes: notes/s36/trial14a.md B11 (a
second chat opened on a running node with options it ignored said so only in /notices: the
row showed the standing NEW KEY warning alone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, impostor_asks

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


@pytest.fixture
def three(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess, NodeProcess]]:
    nodes = [NodeProcess(tmp_path / home, name).start()
             for home, name in (("alice", "alice"), ("bob", "bob"), ("impostor", "bob"))]
    try:
        yield nodes[0], nodes[1], nodes[2]
    finally:
        for node in nodes:
            node.close()


def flat(screen: str) -> str:
    """The main pane's rows as one text (the list's column cut off, rows joined)."""
    return " ".join(" ".join(row.split("│", 1)[-1].split()) for row in screen.splitlines())


def test_attaching_with_ignored_options_shows_beside_a_new_key_warning(
    tmp_path: Path, terminal: Terminal,
    three: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    """B11: `chat --listen 127.0.0.1:0` on a running node with a NEW KEY request pending: the
    row showed only the WARNING; "...did nothing" reached only /notices."""
    alice, bob, impostor = three
    impostor_asks(alice, bob, impostor)
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home, "--listen", "127.0.0.1:0"), exit_file, size=(80, 24))
    screen = terminal.wait_screen(
        lambda s: "WARNING" in s and "NEW KEY" in s and "did nothing" in s,
        "the warning and the ignored options, both on the row")
    assert "so --listen did nothing" in flat(screen), screen
    # Once the user acts, the warning shows whole again, its commands in view.
    terminal.keys("Escape")
    terminal.line("/contacts")
    screen = terminal.wait_screen(lambda s: "/accept bob (" in flat(s), "the warning whole")
    assert "NEW KEY" in screen, screen
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
