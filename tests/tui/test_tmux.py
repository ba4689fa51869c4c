"""`p2pchat chat` in a real terminal (tmux), driven by keys like a person would.

Skipped where tmux is missing. Everything stays on 127.0.0.1 with mDNS off; tmux runs its own
server on a private socket, so a user's tmux is never touched.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli import cli_env, run
from tests.nodes import NodeProcess, wait_for

TMUX = shutil.which("tmux")
pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


class Terminal:
    """One tmux session running one command, on a private tmux server."""

    def __init__(self) -> None:
        # A short path: Unix socket paths are limited to about 100 bytes.
        self._dir = Path(tempfile.mkdtemp(prefix="p2pt"))
        self._socket = self._dir / "tmux"

    def tmux(self, *args: str, check: bool = True) -> str:
        assert TMUX is not None
        proc = subprocess.run([TMUX, "-u", "-S", str(self._socket), *args], capture_output=True,
                              text=True, timeout=10, env=cli_env({"LANG": "C.UTF-8"}))
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {proc.stderr}")
        return proc.stdout

    def start(self, argv: list[str], exit_file: Path) -> None:
        # The exit status lands in a file: the pane is gone once the command ends.
        script = f"{shlex.join(argv)} 2>{shlex.quote(str(exit_file))}.err;" \
                 f" echo $? > {shlex.quote(str(exit_file))}"
        self.tmux("new-session", "-d", "-s", "chat", "-x", "100", "-y", "30", "sh", "-c", script)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "chat", check=False)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "chat", *keys)

    def literal(self, text: str) -> None:
        self.tmux("send-keys", "-t", "chat", "-l", text)

    def wait_screen(self, condition: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        try:
            return str(wait_for(lambda: (s := self.screen()) and condition(s) and s, timeout, what))
        except AssertionError:
            raise AssertionError(f"{what}; the screen was:\n{self.screen()}") from None

    def close(self) -> None:
        self.tmux("kill-server", check=False)
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


def chat_argv(home: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "p2pchat", "--home", str(home), "chat", "--no-mdns", *extra]


def exited(exit_file: Path) -> str | None:
    return exit_file.read_text().strip() if exit_file.exists() else None


def test_chat_runs_its_own_node(tmp_path: Path, terminal: Terminal) -> None:
    home = tmp_path / "alice"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    fingerprint = run(home, "id", "--json", check=True).stdout.split('"fingerprint": "')[1][:63]
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file)
    screen = terminal.wait_screen(lambda s: "in-process" in s, "the status line")
    assert f"alice {fingerprint[:7]}" in screen and "mDNS off" in screen

    # The CLI works alongside: the in-process node serves its control socket.
    status = run(home, "status", "--json", check=True).stdout
    assert fingerprint in status

    terminal.literal("/id")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: fingerprint in s, "/id to show the fingerprint")
    terminal.literal("/nonsense")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "unknown command /nonsense" in s, "an error notice")

    terminal.keys("C-d")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0", \
        (tmp_path / "exit.err").read_text()
    assert not (home / "control.sock").exists()  # the node stopped cleanly


def test_chat_attaches_to_a_running_node(tmp_path: Path, terminal: Terminal) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: "attached" in s and "alice" in s, "the status line")

        terminal.literal(f"/add {bob.fingerprint} bob {bob.addr}")
        terminal.keys("Enter")
        terminal.wait_screen(lambda s: "● bob" in s, "bob online in the list")
        terminal.literal("hello from tmux")
        terminal.keys("Enter")
        wait_for(lambda: [m["text"] for m in bob.log_json("alice")] == ["hello from tmux"], 20,
                 "bob to receive the message")
        terminal.wait_screen(lambda s: "hello from tmux  ✓✓ delivered" in s, "the delivery mark")

        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0", \
            (tmp_path / "exit.err").read_text()
        assert alice.json("status")["name"] == "alice"  # leaving the UI leaves the node running
    finally:
        alice.close()
        bob.close()
