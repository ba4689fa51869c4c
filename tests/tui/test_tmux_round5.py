"""The chat screen in a real terminal (tmux): what was left of the newcomers' trials (issue 23,
round 2): the completion menu's size, and page titles at 80 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, header, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def menu_rows(screen: str) -> list[str]:
    """The menu's rows: at the foot of the main pane, right of the list's "│", just above the
    status line (trial 13a, B16: it was drawn from column 0, over the conversation list)."""
    rows = screen.splitlines()
    status = max(i for i, row in enumerate(rows) if row.startswith(" alice "))
    found = []
    for row in reversed(rows[:status]):
        right = row.split("│", 1)[1] if "│" in row else ""
        if not re.match(r" \S", right):  # a choice: one space, then its text
            break
        found.append(right.rstrip())
    return found[::-1]


def test_two_names_take_two_menu_rows_and_long_titles_wrap(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """8: Tab with two candidates drew a 12-row box over the conversation list (with scroll
    arrows). 7: a page's title was cut at the pane's edge."""
    alice, _ = pair
    alice.cli("group", "create", "bobcats", check=True)
    open_on_bob(terminal, alice.home, tmp_path)
    for typed in ("b", "/msg b"):
        terminal.literal(typed)
        terminal.keys("Tab")
        screen = terminal.wait_screen(lambda s: " bobcats" in menu_rows(s), "the menu")
        assert menu_rows(screen) == [" bob", " bobcats"], screen  # no arrows, no empty rows
        # trial 13b, B1: the pane above kept its width (the header was cut to "bob ·")
        assert "bob · online" in header(screen), screen
        terminal.keys("Escape", "C-u")
        terminal.wait_screen(lambda s: menu_rows(s) == [], "the menu gone")
    terminal.resize(80, 30)
    terminal.line("/search a longer search term")
    screen = terminal.wait_screen(lambda s: "close)" in s, "the search page")
    rows = [row.split("│", 1)[1] for row in screen.splitlines()[:2]]
    title = " ".join(" ".join(rows).split())
    assert title == "no matches for 'a longer search term' (searched 2 conversations) (Esc to" \
                    " close)", screen


def test_answers_pastes_and_blocked_contacts_in_a_real_terminal(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """3: carol, blocked before the chat started, was not listed; 5: "n" to /block said
    nothing; 6: a paste ending in a newline sent a blank line; 4: /verify bob yes left the
    page open; 1: "nothing unread" stayed through later commands."""
    alice, bob = pair
    alice.cli("contacts", "add", Identity.generate().fingerprint, "--name", "carol",
              check=True)
    alice.cli("contacts", "block", "carol", check=True)
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.wait_screen(lambda s: "× carol" in s, "carol listed, marked blocked")
    terminal.line("/block bob")
    terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")
    terminal.line("n")
    terminal.wait_screen(lambda s: f"bob ({bob.fingerprint[:7]}) not blocked" in s, "the no")
    terminal.tmux("set-buffer", "pasted line\n")
    terminal.tmux("paste-buffer", "-p", "-t", "chat")
    terminal.wait_screen(lambda s: "> pasted line" in s, "the paste")
    terminal.keys("Enter")
    wait_for(lambda: [m["text"] for m in bob.log_json("alice")] == ["pasted line"], 20,
             "the message, no blank line after it")
    terminal.keys("M-a")
    terminal.wait_screen(lambda s: "nothing unread" in s, "Alt+A")
    terminal.line("/verify bob")
    terminal.wait_screen(lambda s: "Verify bob" in header(s), "the verify page")
    assert "nothing unread" not in terminal.screen()  # gone at the next command
    terminal.line("/verify bob yes")
    terminal.wait_screen(lambda s: "bob is marked verified" in s, "the notice")
    terminal.wait_screen(lambda s: "bob · online · verified" in header(s), "the page closed")
