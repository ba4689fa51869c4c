"""The chat screen in a real terminal (tmux): what was left of the newcomers' trials (issue 23,
round 2): the completion menu's size, and page titles at 80 columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def menu_rows(screen: str) -> list[str]:
    """The rows between the panes (the last row with the list's "│") and the status line."""
    rows = screen.splitlines()
    status = max(i for i, row in enumerate(rows) if row.startswith(" alice "))
    last_pane = max(i for i, row in enumerate(rows[:status]) if "│" in row)
    return [row.rstrip() for row in rows[last_pane + 1:status]]


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
        terminal.keys("Escape", "C-u")
        terminal.wait_screen(lambda s: menu_rows(s) == [], "the menu gone")
    terminal.resize(80, 30)
    terminal.line("/search a longer search term")
    screen = terminal.wait_screen(lambda s: "close)" in s, "the search page")
    rows = [row.split("│", 1)[1] for row in screen.splitlines()[:2]]
    title = " ".join(" ".join(rows).split())
    assert title == "no matches for 'a longer search term' (searched 2 conversations) (Esc to" \
                    " close)", screen
