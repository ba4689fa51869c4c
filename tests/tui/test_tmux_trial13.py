"""The chat screen in a real terminal (tmux): notes/s35/trial13a.md B1, a y/n question and a
chat line typed without reading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_a_chat_line_typed_over_a_question_goes_whole_and_answers_nothing(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B1: with /block pending, "yo what is up" + Enter blocked the contact and sent "o what
    is up"."""
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.line("/block bob")
    terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")
    terminal.line("yo what is up")  # as typed by someone answering a friend, unread
    wait_for(lambda: [m["text"] for m in bob.log_json("alice")] == ["yo what is up"], 20,
             "the line, whole, to bob")
    assert [c["state"] for c in alice.json("contacts", "list")] == ["contact"]
