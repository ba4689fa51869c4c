"""The chat screen in a real terminal (tmux), against real nodes: notes/s36/trial14a.md B4
(an Alt key with a y/n question up cancels it, saying so, and acts: it never types its key)
and B16 (two screens of one home number the list alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def numbers(screen: str) -> list[str]:
    """The conversation list's numbered rows ("1 ● bob", "2 # aaa")."""
    rows = [line.split("│")[0].strip() for line in screen.splitlines()[1:]]
    return [row for row in rows if row[:1].isdigit()]


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


def test_two_screens_of_one_home_number_the_list_alike(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B16: one screen "1 # bob, 2 # team, ...", one opened later "1 ● bob, 2 # bob, ...":
    Alt+1 opened different conversations. Numbers follow the order the conversations came to
    be for the node (bob added, then the group aaa made), whatever happened since."""
    alice, bob = pair
    alice.cli("group", "create", "aaa", check=True)  # after bob; its "created" line is news
    assert all(c.get("since") for c in alice.json("contacts", "list"))
    terminal.start(chat_argv(alice.home), tmp_path / "exit")
    first = terminal.wait_screen(lambda s: len(numbers(s)) == 2, "the first screen's list")
    bob.cli("send", "alice", "news for alice", check=True)  # bob is the latest now
    second = Terminal()
    try:
        second.start(chat_argv(alice.home), tmp_path / "exit2")
        later = second.wait_screen(lambda s: len(numbers(s)) == 2, "the second screen's list")
        assert numbers(first) == numbers(later) == ["1 ● bob", "2 # aaa"], (first, later)
        alice.cli("group", "create", "team", check=True)  # a new one: the next number in both
        want = ["1 ● bob", "2 # aaa", "3 # team"]
        for term in (terminal, second):
            term.wait_screen(lambda s: numbers(s) == want, "team third")
        second.keys("M-1")
        second.wait_screen(lambda s: "bob · " in header(s), "Alt+1: bob")
    finally:
        second.close()
