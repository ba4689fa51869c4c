"""The chat screen in a real terminal (tmux), against two real nodes: notes/s36/hunt1.md F7 and
F12. An answer typed to a y/n question, then Ctrl-U, Left or a click on another conversation,
cancelled the question (the click silently) and the next Enter sent "y" to bob."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header
from tests.tui.test_tmux_trial14a import number_of

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]

NOT_ANSWERED = "not answered, so nothing done: Block bob ("
HELD = "not sent: 'y' was typed for the question 'Block bob ("


def click_on(screen: str, row: str) -> str:
    """An xterm's SGR mouse press and release on the list's row reading `row`."""
    y = next(i for i, line in enumerate(screen.splitlines())
             if line.split("│")[0].strip().endswith(row)) + 1
    return f"\x1b[<0;4;{y}M\x1b[<0;4;{y}m"


def test_an_answer_cancelled_by_a_key_or_a_click_never_goes_to_bob(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    alice.cli("group", "create", "team", check=True)
    terminal.start(chat_argv(alice.home), tmp_path / "exit")
    screen = terminal.wait_screen(lambda s: "# team" in s and "● bob" in s, "both rows")
    bob_n = number_of(screen, "● bob")
    terminal.keys(f"M-{bob_n}")
    terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
    for how in ("C-u", "Left", "click", "M-Down", "M-a"):
        terminal.line("/block bob")
        screen = terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")
        terminal.keys("y")
        terminal.wait_screen(lambda s: "answer: y" in s, "the answer beside the question")
        if how in ("click", "M-Down"):  # F12: the click was silent; Alt+Down lost the "y"
            if how == "click":
                terminal.literal(click_on(screen, "# team"))
            else:
                terminal.keys(how)
            screen = terminal.wait_screen(lambda s: "bob · online" not in header(s), "switched")
            assert NOT_ANSWERED in screen and "> " + how[-1] not in screen, screen
            terminal.keys(f"M-{bob_n}")
            terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open again")
        else:
            terminal.keys(how)
            screen = terminal.wait_screen(lambda s: NOT_ANSWERED in s, "said on the row")
            assert "> a" not in screen and "> ya" not in screen, screen  # Alt+A never types
        if how == "C-u":  # it clears the answer, as it clears the input
            assert "> y" not in screen, screen
            terminal.keys("Enter")
            continue
        terminal.wait_screen(lambda s: "> y" in s, "the answer kept in the input")
        terminal.keys("Enter")
        terminal.wait_screen(lambda s: HELD in s, "held once, saying why")
        terminal.keys("C-u")
        terminal.wait_screen(lambda s: "> y" not in s, "cleared")
    terminal.line("/id")  # a last command, so every key before it was read
    terminal.wait_screen(lambda s: "fingerprint" in s.lower(), "/id's answer")
    assert [c["state"] for c in alice.json("contacts", "list")] == ["contact"]  # not blocked
    assert bob.log_json("alice") == []  # no "y" went to bob
