"""notes/s36/trial14c.md B2 in a real terminal (tmux), on two real nodes: a Tab key typed
before a passphrase, and a tab-separated line pasted without bracketed paste (each tab a Tab
key), keep the words apart, so the passphrase is starred, never reaches the peer's log and no
screen shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]

PASS = "aroma-front-ahead-dust-jumbo-thing"
STARS = "*" * len(PASS)


def test_a_tab_before_a_passphrase_is_a_gap_never_a_leak(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    screens: list[str] = []
    for before, shown in (("/network join club", "/network join club"),
                          ("see network join club", "see network join club")):
        terminal.literal(before)
        terminal.keys("Tab")
        terminal.literal(PASS)
        screens.append(terminal.wait_screen(lambda s, shown=shown: f"> {shown} {STARS}" in s,
                                            f"{before!r} Tab: starred"))
        terminal.keys("Enter")
        terminal.keys("C-u")
        terminal.wait_screen(lambda s: s.splitlines()[-1].rstrip() == ">", "the input cleared")
        terminal.keys("Up")  # the history never has it in clear
        screens.append(terminal.wait_screen(lambda s: True, "after Up"))
        terminal.keys("C-u")
    terminal.tmux("set-buffer", "-b", "cmd", f"/network\tjoin\tclub\t{PASS}")
    terminal.tmux("paste-buffer", "-b", "cmd", "-t", "chat")  # no -p: typed keys, Tab keys
    screens.append(terminal.wait_screen(
        lambda s: f"> /network join club {STARS}" in s, "the pasted command starred"))
    terminal.keys("C-u")
    terminal.wait_screen(lambda s: s.splitlines()[-1].rstrip() == ">", "the input cleared")
    terminal.tmux("set-buffer", "-b", "tabs", f"ok\tsee\tnetwork\tjoin\tclub\t{PASS}")
    terminal.tmux("paste-buffer", "-b", "tabs", "-t", "chat")  # no -p: typed keys, Tab keys
    screens.append(terminal.wait_screen(
        lambda s: f"> ok see network join club {STARS}" in s, "the pasted line starred"))
    terminal.keys("Enter")
    screens.append(terminal.wait_screen(lambda s: "not sent" in s, "held"))
    terminal.keys("C-u")
    terminal.line("all done")
    screens.append(terminal.wait_screen(lambda s: "alice: all done" in s, "the last message"))
    for screen in screens:
        assert PASS not in screen and "clubaroma" not in screen, screen
    wait_for(lambda: "all done" in bob.cli("log", "alice").stdout, 20, "bob has it")
    log = bob.cli("log", "alice", check=True).stdout
    assert "aroma" not in log and "network join" not in log, log


def test_a_line_behind_a_question_is_said_then_goes_with_the_answer_shown(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B5: burst `/block bob` Enter `hello there` Enter: the waiting line is said on the
    question's row; after "n" it goes, and "not blocked" still shows."""
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.keys("/block bob", "Enter", "hello there", "Enter")  # one burst
    terminal.wait_screen(lambda s: "1 line waits for this answer" in _words(s),
                         "the waiting line said")
    terminal.keys("n", "Enter")
    terminal.wait_screen(lambda s: "alice: hello there" in s and "not blocked" in s,
                         "sent, the answer shown")
    wait_for(lambda: "hello there" in bob.cli("log", "alice").stdout, 20, "bob has it")


def _words(screen: str) -> str:
    return " ".join(screen.replace("│", " ").split())
