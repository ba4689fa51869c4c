"""Trial 14b in a real terminal (tmux), against real nodes. B9: a group named like a contact
read "bob · group · 1 member" in its header while the list said "# bob" beside "● bob" and
questions "#bob". B12: `/network create NAME PASS` answered only with the usage line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header
from tests.tui.test_tmux_trial14a import number_of

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_a_namesake_group_header_and_network_create_hint(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, _ = pair
    alice.cli("group", "create", "bob", check=True)  # a group named like the contact bob
    terminal.start(chat_argv(alice.home), tmp_path / "exit")
    screen = terminal.wait_screen(lambda s: "# bob" in s and "● bob" in s, "both rows")
    terminal.keys(f"M-{number_of(screen, '# bob')}")
    terminal.wait_screen(lambda s: "│ #bob · group" in header(s), "the group's header")
    terminal.keys(f"M-{number_of(screen, '● bob')}")
    terminal.wait_screen(lambda s: "│ @bob · online" in header(s), "the contact's")
    terminal.line("/network create club s3cret words")
    screen = terminal.wait_screen(lambda s: "networks are created from the command" in s,
                                  "where networks are created")
    joined = " ".join(screen.split())
    assert "p2pchat network create club" in joined and "/network join club PASSPHRASE" \
        in joined, screen
    assert "s3cret" not in screen, screen  # starred in the input, never in the answer
