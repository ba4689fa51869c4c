"""The chat screen in a real terminal (tmux), against real nodes: notes/s36/trial14a.md B4
(an Alt key with a y/n question up cancels it, saying so, and acts: it never types its key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def number_of(screen: str, row: str) -> str:
    """The number the conversation list gives the row reading `row` ("● bob", "# team")."""
    for line in screen.splitlines():
        left = line.split("│")[0].strip()
        if left.endswith(row) and left[:1].isdigit():
            return left[0]
    raise AssertionError(f"no {row!r} in the list:\n{screen}")


def test_alt_keys_with_a_question_up_cancel_it_and_act_never_typing_their_key(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B4: with "Block dave?" up, Alt+2 typed "2" (Enter sent it to alice); Alt+2, "hello",
    Enter in one burst sent "2hello" to the conversation left; Alt+A typed "a"."""
    alice, bob = pair
    alice.cli("group", "create", "team", check=True)
    terminal.start(chat_argv(alice.home), tmp_path / "exit")
    screen = terminal.wait_screen(lambda s: "# team" in s and "● bob" in s, "both rows")
    bob_n, team_n = number_of(screen, "● bob"), number_of(screen, "# team")
    terminal.keys(f"M-{bob_n}")
    terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
    for alt in (f"M-{team_n}", f"\x1b{team_n}hello\r"):  # tmux's key, then a raw burst
        terminal.line("/block bob")
        terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")
        if alt.startswith("M-"):
            terminal.keys(alt)
        else:
            terminal.literal(alt)  # ONE write: Esc, the digit, the text and Enter
        screen = terminal.wait_screen(lambda s: "team · group" in header(s), "team open")
        assert f"> {team_n}" not in screen, screen
        if alt.startswith("M-"):  # (the burst's Enter, a message, makes it pass)
            assert "not answered, so nothing done: Block bob (" in screen, screen
        else:
            screen = terminal.wait_screen(lambda s: "alice: hello ·" in s, "hello sent in team")
            assert f"{team_n}hello" not in screen, screen
        terminal.keys(f"M-{bob_n}")
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open again")
    terminal.line("/block bob")
    terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question, a third time")
    terminal.keys("M-a")
    screen = terminal.wait_screen(lambda s: "nothing unread" in s, "Alt+A's answer")
    assert "not answered, so nothing done: Block bob (" in screen, screen
    assert "> a" not in screen, screen
    terminal.keys("Enter")  # an empty input: nothing goes
    assert [c["state"] for c in alice.json("contacts", "list")] == ["contact"]  # not blocked
    assert bob.log_json("alice") == []  # nothing typed went to bob
