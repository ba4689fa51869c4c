"""The chat screen in a real terminal (tmux, 80x24), against real nodes: notes/s36/trial14c.md
B1. A NEW KEY asking under verified bob's name renames itself (`nick carol`): its "!" stays,
the WARNING names it as the list does, and after /block + /unblock the WARNING is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, impostor_asks
from tests.tui.test_tmux_trial14a_d import flat, three

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]
__all__ = ["three"]  # the fixture


def test_a_renamed_impostor_keeps_its_mark_and_its_warning(
    tmp_path: Path, terminal: Terminal,
    three: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    alice, bob, impostor = three
    impostor_asks(alice, bob, impostor)
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "WARNING" in s and "NEW KEY" in s, "the warning")
    impostor.cli("nick", "carol", check=True)  # her node asks again under that name
    screen = terminal.wait_screen(lambda s: "! carol" in s, "the request renamed, still !")
    assert "WARNING: carol asks to connect: a NEW KEY, not the bob you VERIFIED" in flat(screen)
    assert "/verify carol first" in flat(screen), screen
    terminal.line("/verify carol")  # as the warning prints it
    screen = terminal.wait_screen(lambda s: "Safety number" in s or "usage" in s, "/verify")
    assert "usage" not in screen, screen
    terminal.keys("Escape")
    terminal.line("/block carol")
    terminal.wait_screen(lambda s: "y/n" in s, "the block question")
    terminal.line("y")
    terminal.wait_screen(lambda s: "WARNING: carol" not in flat(s), "the request blocked")
    terminal.line("/unblock carol")
    screen = terminal.wait_screen(lambda s: "WARNING: carol" in flat(s), "the warning back")
    assert "! carol" in screen, screen
