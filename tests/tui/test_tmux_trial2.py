"""The chat screen in a real terminal (tmux): what a newcomer's second trial hit (issue 23,
notes/s31/trial2.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_groups_cli import invited
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header, open_on_bob
from tests.tui.test_tmux_round4 import conversation

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_a_question_comes_before_the_lines_typed_after_its_command(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B3: in one burst "/block bob" Enter "/network join club topsecret" Enter, the join ran
    first and the question came after it. Now the join waits for the answer."""
    alice, _ = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.literal("/block bob\r/network join club topsecret\r")  # ONE write
    screen = terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")
    assert "networks:" not in screen
    assert "club" not in alice.cli("network", "list").stdout  # the join has not run
    terminal.keys("n", "Enter")
    # Now the join runs (refused: discovery is off on these nodes, and it says what to type).
    screen = terminal.wait_screen(lambda s: "discovery is off" in s, "the join, after")
    assert "topsecret" not in screen
    assert any(c["name"] == "bob" and c["state"] == "contact"
               for c in alice.json("contacts", "list"))


def test_cli_renames_verifies_and_new_groups_reach_an_open_chat(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B1/20: `contacts rename`, `contacts verify` and `group create` from the CLI while the
    chat was attached: the list and header kept the old name, no "verified", no new group."""
    alice, _ = pair
    open_on_bob(terminal, alice.home, tmp_path)
    alice.cli("contacts", "rename", "bob", "Bob B", check=True)
    terminal.wait_screen(lambda s: "Bob B · online" in header(s), "the new name")
    alice.cli("contacts", "verify", "Bob B", check=True)
    terminal.wait_screen(lambda s: "· verified" in header(s), "verified")
    alice.cli("group", "create", "my club", check=True)
    terminal.wait_screen(lambda s: "my club" in s, "the new group in the list")


def test_the_completion_menu_leaves_the_status_line_and_says_there_is_more(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B8: "/" + Tab drew the menu over the status line, cut off, stopping at /rename as if
    there were no more; `/unblock B` + Tab did not offer a blocked contact (from the CLI,
    or before this chat started)."""
    alice, _bob = pair
    alice.cli("contacts", "rename", "bob", "Bob Builder", check=True)
    alice.cli("contacts", "block", "Bob Builder", check=True)
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home), exit_file)
    terminal.wait_screen(lambda s: "0 contacts online" in s, "the chat")
    terminal.literal("/")
    terminal.keys("Tab")
    screen = terminal.wait_screen(lambda s: "/msg" in s and "/rename" in s, "the menu")
    rows = screen.splitlines()
    status = [i for i, row in enumerate(rows) if row.startswith(" alice ")]
    assert status and "/" not in rows[status[-1]], screen  # the status line is whole
    assert any(row.rstrip().endswith(" v") for row in rows), screen  # the arrow: more below
    assert "/block     refuse all links" in screen, screen  # each with what it does
    terminal.keys("Escape", "C-u")
    terminal.literal("/unblock B")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: "> /unblock Bob Builder" in s, "the blocked name completed")


def test_your_own_leave_is_a_line_in_the_open_group_at_once(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """7: bob's own "— you left" line appeared in his open chat only after a restart (and the
    invitation he accepted read "alice added you to the group", B12)."""
    alice, bob = pair
    group = alice.json("group", "create", "hall")["group"]
    alice.cli("group", "invite", "hall", "bob", check=True)
    wait_for(lambda: invited(bob, group), 20, "bob's invitation")
    terminal.start(chat_argv(bob.home), tmp_path / "exit")
    terminal.wait_screen(lambda s: "alice" in s and "online" in s, "bob's screen")
    terminal.line("/group accept hall")
    screen = terminal.wait_screen(lambda s: "you joined hall" in s, "the acceptance")
    assert "added you" not in screen, screen
    terminal.line("/msg hall")
    terminal.wait_screen(lambda s: header(s).split("·")[0].strip().endswith("hall"), "hall open")
    terminal.line("/group leave")
    terminal.wait_screen(lambda s: "Leave hall?" in s, "the question (trial 3, B3)")
    terminal.line("y")
    terminal.wait_screen(lambda s: any(row.endswith("— you left") for row in conversation(s)),
                         "the line of the leave in the conversation")
    assert "group: you left" in bob.cli("log", "hall", check=True).stdout


def test_a_y_typed_before_the_question_showed_never_answers_it(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B3: a stray "y" must never answer a question the user has not seen."""
    alice, _ = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.literal("/block bob\ry")  # ONE write: the y comes before the question can
    screen = terminal.wait_screen(lambda s: "not asked, so nothing done: Block bob" in s,
                                  "the question dropped, visibly")
    assert "y/n" not in screen
    assert any(row.rstrip() == "> y" for row in screen.splitlines()), screen  # kept as typed
    assert any(c["name"] == "bob" and c["state"] == "contact"
               for c in alice.json("contacts", "list"))
