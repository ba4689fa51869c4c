"""notes/s36/trial14a.md in a real terminal (tmux), on two real nodes: what the input stars
as a passphrase never reaches the peer and is never shown in clear (B1, B2, B3)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, open_on_bob
from tests.tui.test_tmux_chat_life import _chat_pid, _gone

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]

REFUSED = "not sent: it holds a network passphrase (the stars), which would go out in clear to bob"


def test_a_typed_passphrase_reaches_nobody_and_is_never_shown(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    alice.cli("group", "create", "bob", check=True)  # `/msg bob` is ambiguous (B3's setting)
    terminal.wait_screen(lambda s: "# bob" in s and "bob · online" in s, "the group listed")
    screens: list[str] = []

    # B1: a blank before a command: it runs as the command, nothing is sent.
    terminal.line(" /help")
    screens.append(terminal.wait_screen(lambda s: "Enter sends what you type" in s, "/help"))
    terminal.keys("Escape")
    terminal.wait_screen(lambda s: "Enter sends what you type" not in s, "help closed")
    terminal.literal(" /network join club secretpw3")
    screens.append(terminal.wait_screen(
        lambda s: ">  /network join club *********" in s, "B1's line starred"))
    terminal.keys("Enter")
    screens.append(terminal.wait_screen(lambda s: "/network join club --via" in s,
                                        "/network join's answer (discovery is off)"))

    # B2: /msg NAME TEXT and "//" with a passphrase: the line stays, starred, and says why.
    for line in ("/msg @bob /network join club secretpw7", "//network join club secretpw4",
                 "/msg bob /network join club secretpw5"):  # B3's line
        terminal.line(line)
        starred = line.replace(line.split()[-1], "*********")
        screens.append(terminal.wait_screen(
            lambda s, shown=starred: REFUSED in s.replace("\n", " ") and f"> {shown}" in s,
            f"{line!r} refused, still in the input"))
        terminal.keys("C-u")

    # B3: a typo of the command stars its passphrase too.
    terminal.literal("/netwrok join club secretpw2")
    screens.append(terminal.wait_screen(
        lambda s: "> /netwrok join club *********" in s, "the typo starred"))
    terminal.keys("Enter")
    screens.append(terminal.wait_screen(lambda s: "unknown command /netwrok" in s, "refused"))
    terminal.line("/notices")  # B3: the refusals kept there, starred
    screens.append(terminal.wait_screen(lambda s: "Recent notices" in s, "/notices"))
    assert "holds a network passphrase" in screens[-1], screens[-1]
    terminal.keys("Escape")

    terminal.line("all done")  # a message after them goes: the peer's log has it, and only it
    terminal.wait_screen(lambda s: "alice: all done" in s, "the last message")
    for screen in screens:
        assert "secretpw" not in screen, screen
    wait_for(lambda: "all done" in bob.cli("log", "alice").stdout, 20, "bob has it")
    for log in (alice.cli("log", "@bob", check=True).stdout,
                bob.cli("log", "alice", check=True).stdout):
        assert "all done" in log, log
        assert "secretpw" not in log and "network join" not in log and "/help" not in log, log


def test_a_draft_printed_at_a_signal_stars_its_passphrase(tmp_path: Path,
                                                          terminal: Terminal) -> None:
    """B3: every quote of a typed line stars it as the input did; the drafts printed when a
    signal ends the chat are one."""
    home, exit_file = tmp_path / "alice", tmp_path / "exit"
    NodeProcess(home, "alice")  # an identity, no node
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "Welcome" in s or ("alice" in s and "online" in s), "the chat")
    pid = _chat_pid(terminal)
    terminal.literal("a draft /network join club secretpw1")
    terminal.wait_screen(lambda s: "a draft /network join club *********" in s, "the draft")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: _gone(pid), 10, "the chat to exit")
    assert wait_for(lambda: exited(exit_file), 10, "the exit status") == "0"
    said = exit_file.with_name("exit.err").read_text()
    assert "a draft /network join club *********" in said, said
    assert "secretpw" not in said, said
