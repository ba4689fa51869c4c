"""notes/s36/hunt1.md in a real terminal (tmux), on two real nodes: the join phrase found
anywhere in a line (F6: a mistyped "/"), across a pasted tab (F2), inside /nick (F9) and as
IRC's channel key (F5) is starred, never reaches the peer, its log or its contacts list, and
no screen shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def _words(screen: str) -> str:
    """The screen's text with its rows' wrapping and the list's border taken out."""
    return " ".join(screen.replace("│", " ").split())


def test_the_join_phrase_anywhere_reaches_nobody_and_is_never_shown(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    screens: list[str] = []

    # F6: Shift slipped on the "/" key; F9: /nick tells every linked contact; F5: a channel key.
    for line, shown, why in (
        ("?network join class secretHX1", "?network join class *********", "for its \"/\""),
        ("/nick network join class secretHX3", "/nick network join class *********",
         "whoever /nick tells"),
        ("/join #class secretHX4", "/join #class *********", "/j takes a conversation's name"),
    ):
        terminal.literal(line)
        screens.append(terminal.wait_screen(lambda s, shown=shown: f"> {shown}" in s,
                                            f"{line!r} starred while typed"))
        terminal.keys("Enter")
        screens.append(terminal.wait_screen(
            lambda s, shown=shown, why=why: why in _words(s)
            and f"> {shown}" in s,
            f"{line!r} refused, still in the input"))
        terminal.keys("C-u")
        terminal.wait_screen(lambda s: s.splitlines()[-1].rstrip() == ">", "the input cleared")

    # F2: a paste with tabs between the words is /network join itself (discovery is off here,
    # so it is refused for its missing --via), the passphrase starred, never quoted.
    terminal.tmux("set-buffer", "-b", "tabs", "/network\tjoin\tclass\tsecretHX2")
    terminal.tmux("paste-buffer", "-p", "-b", "tabs", "-t", "chat")  # -p: bracketed, a paste
    screens.append(terminal.wait_screen(lambda s: "*********" in s and "/network" in s,
                                        "the pasted line starred"))
    terminal.keys("Enter")
    screens.append(terminal.wait_screen(lambda s: "/network join class --via" in _words(s),
                                        "run as /network join (discovery off: --via)"))
    terminal.line("/notices")
    screens.append(terminal.wait_screen(lambda s: "Recent notices" in s, "/notices"))
    terminal.keys("Escape")

    terminal.line("all done")  # a message after them goes: the peer's log has it, and only it
    screens.append(terminal.wait_screen(lambda s: "alice: all done" in s, "the last message"))
    for screen in screens:
        assert "secretHX" not in screen and "unknown command" not in screen, screen
    wait_for(lambda: "all done" in bob.cli("log", "alice").stdout, 20, "bob has it")
    for log in (alice.cli("log", "@bob", check=True).stdout,
                bob.cli("log", "alice", check=True).stdout):
        assert "all done" in log, log
        assert "secretHX" not in log and "network join" not in log, log
    contacts = bob.cli("contacts", check=True).stdout
    assert "alice" in contacts and "secretHX" not in contacts and "network" not in contacts, \
        contacts
