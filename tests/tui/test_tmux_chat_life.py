"""Trial 13c (issue 23): the first run's passphrase and the chat's process life, in a real
terminal (tmux)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.cli import run_json
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import (
    PW,
    TMUX,
    Terminal,
    chat_argv,
    exited,
    leave_keeping_the_node,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]
EMPTY = "Empty: no passphrase would protect your identity"
AGAIN = "(or Enter again for none):"


def test_first_chat_enter_twice_goes_without_a_passphrase_keeping_the_name(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """B8: Enter, Enter at the first chat's passphrase exited "an empty passphrase protects
    nothing", the name typed before lost. The first Enter says what it means and asks again;
    a second Enter goes without one (as --no-passphrase), the name kept, the chat opens."""
    home, exit_file = tmp_path / "bob", tmp_path / "exit"
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file)
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("bob")
    terminal.wait_screen(lambda s: "Choose a passphrase for your identity:" in s, "the question")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: EMPTY in s and AGAIN in s, "what Enter alone means")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Welcome, bob!" in s, "the greeting")
    assert run_json(home, "id")["passphrase_protected"] is False
    said, pid = leave_keeping_the_node(terminal, exit_file)
    os.kill(pid, signal.SIGTERM)
    assert "p2pchat:" not in said, said


def test_init_enter_once_then_a_passphrase_protects_it(tmp_path: Path, terminal: Terminal) -> None:
    """B8, `init`: one Enter is not a choice: the next prompt takes a passphrase as well, which
    is confirmed as usual and protects the identity; the name typed first is kept."""
    home, exit_file = tmp_path / "carol", tmp_path / "exit"
    terminal.start([sys.executable, "-m", "p2pchat", "--home", str(home), "init"], exit_file)
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("carol")
    terminal.wait_screen(lambda s: "Choose a passphrase for your identity:" in s, "the question")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: EMPTY in s and AGAIN in s, "what Enter alone means")
    terminal.line(PW)
    terminal.wait_screen(lambda s: "The same passphrase again:" in s, "the confirmation")
    terminal.line(PW)
    assert wait_for(lambda: exited(exit_file), 30, "init to end") == "0", \
        exit_file.with_name("exit.err").read_text()
    header = run_json(home, "id")
    assert header["name"] == "carol" and header["passphrase_protected"] is True


def _chat_pid(terminal: Terminal) -> int:
    """The chat's own pid: the child of the pane's `sh -c` (tmux runs the command in it)."""
    shell = int(terminal.tmux("list-panes", "-t", "chat", "-F", "#{pane_pid}").split()[0])
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _gone(pid: int) -> bool:
    """`pid` has exited (a zombie waiting for its new parent counts: it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _attached_chat(terminal: Terminal, node: NodeProcess, exit_file: Path) -> int:
    terminal.start(chat_argv(node.home), exit_file)
    terminal.wait_screen(lambda s: "node runs apart" in s, "the attached screen")
    return _chat_pid(terminal)


def test_a_chat_whose_terminal_goes_away_exits(tmp_path: Path, terminal: Terminal) -> None:
    """B17 a: a chat attached to a background node outlived its tmux session (killed), its
    terminal deleted, for good. It ends as /quit would, the node left running."""
    node = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        pid = _attached_chat(terminal, node, tmp_path / "exit")
        terminal.literal("a draft never sent")
        terminal.wait_screen(lambda s: "a draft never sent" in s, "the draft typed")
        terminal.tmux("kill-session", "-t", "chat")
        wait_for(lambda: _gone(pid), 10, "the chat to exit with its terminal gone")
        assert node.json("status")["pid"] == node.proc.pid  # type: ignore[union-attr]
    finally:
        node.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_running_chat_ends_on_sigterm_and_sighup(
    tmp_path: Path, terminal: Terminal, sig: signal.Signals,
) -> None:
    """B17 b: an orphan chat did not end on SIGTERM (it needed SIGKILL). A chat running its own
    node ends on either, the node stopped cleanly with it (nothing asked, nothing lost)."""
    home, exit_file = tmp_path / "alice", tmp_path / "exit"
    NodeProcess(home, "alice")  # an identity, no node
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file, size=(80, 24))
    terminal.wait_screen(lambda s: "Welcome" in s or ("alice" in s and "online" in s), "the chat")
    pid = _chat_pid(terminal)
    terminal.literal("a draft never sent")
    terminal.wait_screen(lambda s: "a draft never sent" in s, "the draft typed")
    os.kill(pid, sig)
    wait_for(lambda: _gone(pid), 10, f"the chat to exit on {sig.name}")
    assert wait_for(lambda: exited(exit_file), 10, "the exit status") == "0"
    said = exit_file.with_name("exit.err").read_text()
    assert "Traceback" not in said, said
    assert "p2pchat stop" not in said  # its node stopped with it
    assert "Not sent (the chat was ended by a signal)" in said and "a draft never sent" in said
