"""notes/s33/trial8.md in a real terminal (tmux), attached to real nodes: lines typed in one
burst behind a command that fails are sent nowhere (B1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_lines_typed_behind_a_failed_msg_go_nowhere(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B1: in bob's conversation, `/msg dave` (nobody is called dave) Enter `burst one` Enter
    `burst two` Enter in one write: both lines went to bob, the conversation still open."""
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.literal("/msg dave\rburst one\rburst two\r")  # ONE write
    screen = terminal.wait_screen(lambda s: "/msg dave failed" in s, "the lines held")
    assert "no conversation named 'dave'" in screen, screen
    assert "> burst one" in screen and "burst two" in screen, screen  # back in the input
    assert "burst" not in alice.cli("log", "bob").stdout
    assert "burst" not in bob.cli("log", "alice").stdout


def test_notices_open_on_the_newest(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B12: /notices, titled "newest last", opened at the top ("↓ more below: End"): the
    newest was not on the screen."""
    alice, _ = pair
    open_on_bob(terminal, alice.home, tmp_path)
    for _ in range(20):  # more notices than the screen has rows
        terminal.line("/id")
    terminal.line("/network list")
    terminal.wait_screen(lambda s: "networks: none" in s, "the last answer")
    terminal.line("/notices")
    screen = terminal.wait_screen(lambda s: "Recent notices, newest first" in s, "the page")
    # On the page, with its time (the notice row below says it without one).
    assert re.search(r"\d\d:\d\d networks: none", screen), screen


def test_network_leave_says_what_it_left_once(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B9: `/network leave club` answered only "networks: none", and a `/network list`
    after it showed "networks: none" a second time on the notice rows."""
    alice, _ = pair
    open_on_bob(terminal, alice.home, tmp_path)
    alice.cli("network", "create", "club", "--no-qr", check=True)
    terminal.wait_screen(lambda s: "network club" in s or "net club" in s, "the network")
    terminal.line("/network leave club")
    terminal.wait_screen(lambda s: "left club; networks: none" in s, "what was left")
    terminal.line("/network list")
    screen = terminal.wait_screen(lambda s: "left club" not in s, "the list's answer")
    assert screen.count("networks: none") == 1, screen
