"""The chat screen in a real terminal (tmux) against real nodes: what notes/s32/trial5.md
found (11: attaching with `--no-mdns --listen 127.0.0.1:0` said nothing of --listen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, header, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_attaching_with_only_followed_options_still_names_them(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """11: `chat --no-mdns --listen 127.0.0.1:0` on a running node said nothing at all, though
    the port stayed the node's own: every typed option is named."""
    alice, _bob = pair
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home, "--listen", "127.0.0.1:0"), exit_file)
    screen = terminal.wait_screen(lambda s: "did nothing" in s, "the options told")
    flat = " ".join(row.split("│", 1)[-1].strip() for row in screen.splitlines())
    pid = alice.json("status")["pid"]
    assert f"Your node was already running (pid {pid}), so --listen did nothing (it listens" \
        f" on {alice.addr}); it keeps --no-mdns as it runs." in flat, flat
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_names_in_a_one_to_one_conversation_lists_the_contacts(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B6: /names in a 1:1 conversation did nothing at all (its help: "the open group's
    members, else your contacts")."""
    alice, _bob = pair
    alice.cli("group", "create", "hike", check=True)
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    terminal.line("/msg hike")
    terminal.wait_screen(lambda s: "hike" in header(s), "the group open")
    terminal.line("/names")
    terminal.wait_screen(lambda s: "Members of hike" in header(s), "the group's members")
    terminal.keys("M-Up")  # the page open, as the trial did: bob by key
    terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open again")
    terminal.line("/names")
    screen = terminal.wait_screen(lambda s: "Contacts" in header(s), "the contacts page")
    assert "bob" in screen
    terminal.keys("Escape")
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_a_pasted_second_line_lines_up_under_the_first(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B15: a multi-line paste's second line began at column 0, not under the text after
    "> "."""
    alice, bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    terminal.tmux("set-buffer", "-b", "two", "first line\nsecond line")
    terminal.tmux("paste-buffer", "-p", "-b", "two", "-t", "chat")  # -p: bracketed, a paste
    screen = terminal.wait_screen(lambda s: "second line" in s, "the paste in the input")
    rows = screen.splitlines()
    first = next(i for i, row in enumerate(rows) if row.startswith("> first line"))
    assert rows[first + 1].startswith("  second line"), rows[first:first + 2]
    terminal.keys("C-u")  # both lines (trial 12, B14)
    terminal.wait_screen(lambda s: s.splitlines()[-1].rstrip() == ">", "the input cleared")
    terminal.keys("C-c")  # nothing unsent: no question, the chat leaves at once
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    assert bob.log_json("alice") == []  # nothing sent
