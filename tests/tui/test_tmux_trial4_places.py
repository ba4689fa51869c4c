"""The chat screen in a real terminal (tmux): the newcomer's fourth trial (notes/s32/trial4.md):
the fingerprint at 80 columns (B8), Tab after a whole action word (A21), a removed contact in
its place (A9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_fingerprint_whole_tab_after_a_word_and_a_removed_contact_in_place(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.resize(80, 24)
    terminal.line("/id")
    screen = terminal.wait_screen(lambda s: "your fingerprint, for friends" in s, "/id")
    words = {w for row in screen.splitlines() for w in row.replace("-", " ").split()}
    assert set(alice.fingerprint.split("-")) <= words, screen  # every group whole on a row
    assert "……" not in screen
    terminal.line("/help")
    screen = terminal.wait_screen(lambda s: "Help (Esc to close)" in s, "the help page")
    pane = [row.split("│", 1)[1] for row in screen.splitlines()[1:] if "│" in row]
    at = next(i for i, row in enumerate(pane) if row.startswith("  /msg"))
    assert pane[at + 1].startswith("      open NAME's conversation"), screen  # hanging (B10)
    terminal.keys("Escape")
    terminal.wait_screen(lambda s: "Help (Esc to close)" not in s, "help closed")
    terminal.literal("/group leav")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: "> /group leave" in s, "the action completed")
    terminal.keys("C-u")
    terminal.literal("/group forget")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: "> /group forget " in s.replace("forget\n", "forget "),
                         "the space after a whole action word")
    terminal.keys("C-u")
    bob.stop()  # else bob, who still has alice, asks again at once (a request, not removed)
    terminal.wait_screen(lambda s: "bob · offline" in s, "bob offline")
    terminal.line("/remove bob")
    terminal.wait_screen(lambda s: "Remove bob?" in s, "the question")  # trial 13c, B5
    terminal.keys("y", "Enter")
    screen = terminal.wait_screen(lambda s: "(removed)" in s, "bob marked removed")
    assert " 1 ~ bob (removed)" in screen, screen  # its number and place kept
    assert "/msg bob shows it" in screen, screen  # the hint is not cut at 80 columns
    terminal.literal("still there?")
    terminal.keys("Enter")
    screen = terminal.wait_screen(lambda s: "no longer a contact" in s, "the refusal")
    assert "> still there?" in screen, screen
