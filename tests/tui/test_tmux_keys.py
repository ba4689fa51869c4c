"""Keys typed at a person's speed in a real terminal (tmux): nothing typed as a command ever
leaves as a message.

A person types a key every 50-200 ms; `typed` sends one key at a time with such a gap (the
gap imitates the typist, it synchronises nothing: every check waits on the screen or the log).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import (
    TMUX,
    Terminal,
    exited,
    header,
    open_on_bob,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]

KEY_GAP = 0.06  # seconds between two keys: a quick typist


def typed(terminal: Terminal, text: str, gap: float = KEY_GAP) -> None:
    for ch in text:
        terminal.literal(ch)
        time.sleep(gap)  # bounded: a typist's pace between keys, not a wait for anything


def sent_by_alice(alice: NodeProcess) -> list[str]:
    return [m["text"] for m in alice.log_json("bob") if m["own"]]


def test_a_pending_question_never_turns_a_command_into_a_message(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    typed(terminal, "/block bob")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")

    typed(terminal, "/network join club topsecret")
    screen = terminal.wait_screen(lambda s: "> /network join club " + "*" * 9 in s,
                                  "the whole command in the input, its passphrase masked")
    assert "topsecret" not in screen
    assert "nothing done: Block bob" in screen  # the question went, and said so
    terminal.keys("Enter")
    # It ran as a command: with discovery off (these nodes run --no-mdns) the join is refused
    # with what to type instead, as the CLI refuses it (trial 4, B3).
    screen = terminal.wait_screen(lambda s: "discovery is off" in s, "the join's answer")
    assert "topsecret" not in screen

    typed(terminal, "/block bob")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question again")
    typed(terminal, "/help")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Help (Esc to close)" in header(s), "the help page")

    # Bob got nothing, and is not blocked (no one said yes).
    assert sent_by_alice(alice) == []
    assert [m for m in bob.log_json("alice")] == []
    assert any(c["name"] == "bob" and c["state"] == "contact"
               for c in alice.json("contacts", "list"))
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_esc_then_a_command_at_typing_speed_runs_the_command(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    for gap in (0.1, 0.15):  # Esc, then "/" well inside the old 0.2 s Alt window
        typed(terminal, "/help")
        terminal.keys("Enter")
        terminal.wait_screen(lambda s: "Help (Esc to close)" in header(s), "the help page")
        terminal.keys("Escape")
        time.sleep(gap)  # bounded: the typist's pause between Esc and "/", not a wait
        typed(terminal, "/id")
        terminal.keys("Enter")
        screen = terminal.wait_screen(lambda s: "your fingerprint, for friends" in s,
                                      "/id run as a command")
        assert "bob · online" in header(screen)  # Esc closed the page
        terminal.keys("Escape")  # clears the notices for the next round
        terminal.wait_screen(lambda s: "your fingerprint, for friends" not in s,
                             "the notices cleared")
    # A question pending: Esc cancels it at once, and "/" right after starts a command.
    typed(terminal, "/block bob")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Block bob" in s and "y/n" in s, "the question")
    terminal.keys("Escape")
    time.sleep(0.1)  # bounded: the typist's pause after Esc, not a wait
    typed(terminal, "/id")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "your fingerprint, for friends" in s, "/id after the question")

    # Alt+key still works: Alt+Enter is a new line, Alt+Up/Down switch.
    typed(terminal, "two")
    terminal.keys("M-Enter")
    typed(terminal, "lines")
    terminal.wait_screen(lambda s: "> two" in s and "lines" in s, "a new line from Alt+Enter")
    terminal.keys("C-u")  # every line before the cursor (trial 12, B14)
    terminal.wait_screen(lambda s: s.splitlines()[-1].rstrip() == ">", "the input cleared")
    terminal.keys("C-u")
    assert sent_by_alice(alice) == []
    assert bob.log_json("alice") == []
    terminal.keys("C-c")  # nothing unsent: no question, the chat leaves at once
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_esc_and_slash_in_one_write_is_esc_then_a_command(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """tmux (its escape-time) and a quick typist deliver Esc and "/" together: still Esc, then
    a command, never Alt+/ eating the "/" so that "/help" leaves as the message "help"."""
    alice, bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    terminal.literal("\x1b/help")  # ONE write
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Help (Esc to close)" in header(s), "the help page")
    terminal.literal("\x1b/id")  # closes the page, then runs /id
    terminal.keys("Enter")
    screen = terminal.wait_screen(lambda s: "your fingerprint, for friends" in s, "/id run")
    assert "bob · online" in header(screen)
    assert sent_by_alice(alice) == []
    assert bob.log_json("alice") == []
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
