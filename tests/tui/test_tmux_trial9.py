"""notes/s33/trial9.md in a real terminal (tmux), real processes: B9, /id at 80x24 showed
"You are bob; your fingerprint, for friends to add: 32QS4S4-…-DTPO7UR-A6G6UAR …" and hid the
"reachable at HOST:PORT" a friend needs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


def test_id_shows_the_address_whole_at_80_columns(tmp_path: Path, terminal: Terminal) -> None:
    home = NodeProcess(tmp_path / "alice", "alice").home
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "alice" in s and "/nearby" in s, "the chat")
    terminal.line("/id")
    screen = terminal.wait_screen(lambda s: "your fingerprint, for friends" in s, "/id")
    assert "reachable at 127.0.0.1:" in screen, screen
    after = screen.split("your fingerprint, for friends")[1]
    assert "…" not in after, screen  # nothing of it cut
    assert "does not find you)" in after, screen  # to its last word
    terminal.line("/quit")
    terminal.wait_screen(lambda s: "you will be offline" in s, "the question before leaving")
    terminal.keys("y", "Enter")
    wait_for(lambda: exited(exit_file), 30, "the chat to exit")
    said = (tmp_path / "exit.err").read_text() if (tmp_path / "exit.err").exists() else ""
    if "(pid " in said:  # a node kept running: stop it
        os.kill(int(said.split("(pid ")[1].split(";")[0]), signal.SIGTERM)


def test_esc_then_a_letter_closes_the_page_and_types_it_and_alt_a_still_works(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B8: Esc (closing a page) then "are you there?" at once arrived as "re you there?": the
    "a" was read as Alt+A. tmux hands both over in one write, as it does for a real Alt+A: with
    a page up for Esc to close, they are Esc then the letter; with none, Alt+A."""
    from tests.tui.test_tmux import header, open_on_bob
    from tests.tui.test_tmux_keys import sent_by_alice

    alice, _ = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    for keys, typed in (("\x1bare you there?", "are you there?"), ("\x1bmore", "more")):
        terminal.line("/help")
        terminal.wait_screen(lambda s: "Help (Esc to close)" in header(s), "the help page")
        terminal.literal(keys)  # ONE write: Esc and the text
        terminal.wait_screen(lambda s, t=typed: f"> {t}" in s  # type: ignore[misc]
                             and "bob · online" in header(s), "the page closed, the text typed")
        terminal.keys("Enter")
        wait_for(lambda t=typed: t in sent_by_alice(alice), 20, "the message sent")  # type: ignore[misc]
    # Alt+1 with the page up closes it and switches, never typing "1" (trial 13c, B1).
    terminal.line("/help")
    terminal.wait_screen(lambda s: "Help (Esc to close)" in header(s), "the help page")
    terminal.literal("\x1b1")
    screen = terminal.wait_screen(lambda s: "bob · online" in header(s), "the page closed")
    assert "> 1" not in screen, screen
    # Nothing open: the same bytes are Alt+A (nothing unread here), no "a" typed.
    terminal.literal("\x1ba")
    screen = terminal.wait_screen(lambda s: "nothing unread" in s, "Alt+A's answer")
    assert "> a" not in screen, screen
    assert sent_by_alice(alice) == ["are you there?", "more"]
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
