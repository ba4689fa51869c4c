"""The chat screen in a real terminal (tmux): notes/s35/trial13c.md B6, an invitation to a
group named like a contact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_an_invitation_named_like_a_contact_reads_as_one_and_says_how_to_answer(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B6: bob's list showed "? carol" next to "● carol", and opening it "carol · group · 2
    members" over "No messages with carol yet (loading)." for >10 s, with no hint."""
    alice, bob = pair
    terminal.start(chat_argv(bob.home), tmp_path / "exit")
    terminal.wait_screen(lambda s: "alice · online" in header(s), "alice open")
    alice.cli("group", "create", "alice", "bob", check=True)  # named as bob's contact alice
    terminal.wait_screen(lambda s: "? #alice" in s and "● alice" in s, "the invitation's row")
    terminal.keys("M-a")  # the next request or invitation
    screen = terminal.wait_screen(
        lambda s: header(s).strip().endswith("alice · group invitation · 2 members"),
        "the invitation open")
    assert "alice invites you to #alice (2 members): /group accept alice or /group decline" \
        " alice" in screen, screen
    assert "loading" not in screen and "No messages" not in screen, screen
    terminal.line("/group accept #alice")  # as its row reads it
    screen = terminal.wait_screen(lambda s: "you joined #alice" in s, "the accept")
    assert "group · 2 members" in header(screen), screen
