"""`p2pchat chat` in a real terminal (tmux), driven by keys like a person would.

Skipped where tmux is missing (`.ci/run` installs it). Everything stays on 127.0.0.1 with mDNS
off; tmux runs its own server on a private socket, so a user's tmux is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from p2pchat.tui.commands import COMMANDS
from tests.cli import cli_env, run, run_json
from tests.nodes import NodeProcess, wait_for

TMUX = shutil.which("tmux")
pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]
PW = "correct horse"


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

    def start(self, argv: list[str], exit_file: Path, size: tuple[int, int] = (120, 40)) -> None:
        # The exit status lands in a file: the pane is gone once the command ends.
        script = f"{shlex.join(argv)} 2>{shlex.quote(str(exit_file))}.err;" \
                 f" echo $? > {shlex.quote(str(exit_file))}"
        self.tmux("new-session", "-d", "-s", "chat", "-x", str(size[0]), "-y", str(size[1]),
                  "sh", "-c", script)

    def resize(self, columns: int, rows: int) -> None:
        self.tmux("resize-window", "-t", "chat", "-x", str(columns), "-y", str(rows))

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "chat", check=False)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "chat", *keys)

    def literal(self, text: str) -> None:
        self.tmux("send-keys", "-t", "chat", "-l", text)

    def line(self, text: str) -> None:
        """Type `text` and Enter."""
        self.literal(text)
        self.keys("Enter")

    def ended(self) -> bool:
        """The command has ended: its tmux session, and the pane with it, is gone."""
        assert TMUX is not None
        return subprocess.run([TMUX, "-u", "-S", str(self._socket), "has-session", "-t", "chat"],
                              capture_output=True, timeout=10, env=cli_env({})).returncode != 0

    def wait_screen(self, condition: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        def seen() -> str | bool:
            if (screen := self.screen()):
                return condition(screen) and screen
            # A blank capture: the pane between two frames, or gone for good once the command
            # ended. Gone, no screen ever comes: say so at once, not a blank screen after the
            # timeout, which read as a chat that hung while quitting (it had quit in 0.1 s).
            if self.ended():
                raise AssertionError(f"{what}: the command ended (its tmux session is gone)")
            return False
        try:
            return str(wait_for(seen, timeout, what))
        except AssertionError as e:
            raise AssertionError(f"{e}; the screen was:\n{self.screen()}") from None

    def close(self) -> None:
        self.tmux("kill-server", check=False)
        shutil.rmtree(self._dir, ignore_errors=True)


def chat_argv(home: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "p2pchat", "--home", str(home), "chat", "--no-mdns", *extra]


def exited(exit_file: Path) -> str | None:
    return exit_file.read_text().strip() if exit_file.exists() else None


def header(screen: str) -> str:
    """The main pane's title row (the first row, right of the conversation list)."""
    return screen.splitlines()[0] if screen else ""


def open_on_bob(terminal: Terminal, home: Path, tmp_path: Path) -> Path:
    """Start the chat of `home` and wait until it shows bob's conversation, online; the file
    its exit status is written to."""
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(home), exit_file)
    terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
    return exit_file


def reachable_at(terminal: Terminal) -> str:
    """/id, and the "reachable at HOST:PORT" address the chat answers with."""
    terminal.line("/id")
    screen = terminal.wait_screen(lambda s: "reachable at 127.0.0.1:" in s, "the address")
    return screen.split("reachable at ")[1].split()[0].rstrip(".,;)")


def leave_keeping_the_node(terminal: Terminal, exit_file: Path) -> tuple[str, int]:
    """/quit, and "b: keep the node running": what the chat said as it left, the node's pid."""
    terminal.line("/quit")
    terminal.wait_screen(lambda s: "you will be offline" in s, "the question before leaving")
    terminal.keys("b", "Enter")
    err = exit_file.with_name(exit_file.name + ".err")
    assert wait_for(lambda: exited(exit_file), 30, "the chat to exit") == "0", err.read_text()
    said = err.read_text()
    return said, int(said.split("(pid ")[1].split(";")[0])


def mutual(a: NodeProcess, b: NodeProcess, a_name: str, b_name: str) -> None:
    a.cli("contacts", "add", b.fingerprint, "--name", b_name, "--addr", b.addr, check=True)
    b.cli("contacts", "add", a.fingerprint, "--name", a_name, "--addr", a.addr, check=True)
    wait_for(lambda: any(c["online"] for c in a.json("contacts", "list")), 20, "the link")


def impostor_asks(alice: NodeProcess, bob: NodeProcess, impostor: NodeProcess) -> str:
    """alice and bob linked, bob verified at alice; then a new key calling itself bob
    (`impostor`) asks alice to connect. The name alice's request list gives it."""
    mutual(alice, bob, "alice", "bob")
    alice.cli("contacts", "verify", "bob", check=True)
    impostor.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
                 check=True)
    wait_for(lambda: any(c["state"] == "request" for c in alice.json("contacts", "list")),
             20, "the impostor's request")
    return next(c["name"] for c in alice.json("contacts", "list") if c["state"] == "request")


def test_waiting_on_the_screen_of_a_command_that_ended_says_it_ended(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """A chat that quit leaves no pane: the wait says the command ended, not a blank screen
    after its timeout (a quit in 0.1 s read as a quit that hung, after Ctrl-U cleared all)."""
    exit_file = tmp_path / "exit"
    terminal.start(["true"], exit_file)
    assert wait_for(lambda: exited(exit_file), 20, "the command to end") == "0"
    wait_for(terminal.ended, 20, "its tmux session to go")
    with pytest.raises(AssertionError, match="the command ended"):
        terminal.wait_screen(lambda s: True, "any screen")


def test_first_run_asks_once_greets_and_can_leave_the_node_running(
    tmp_path: Path, terminal: Terminal,
) -> None:
    home = tmp_path / "alice"  # nothing here yet
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(home, "--listen", "127.0.0.1:0"), exit_file)
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("alice")
    # Each prompt says which passphrase; a slip in the second asks both again, not the name.
    terminal.wait_screen(lambda s: "Choose a passphrase for your identity:" in s,
                         "the passphrase question")
    terminal.line(PW)
    terminal.wait_screen(lambda s: "The same passphrase again:" in s, "the confirmation")
    terminal.line(PW + "x")
    terminal.wait_screen(lambda s: "differ; once more" in s
                         and s.count("Choose a passphrase for your identity:") == 2,
                         "the passphrase asked again")
    terminal.line(PW)
    terminal.wait_screen(lambda s: s.count("The same passphrase again:") == 2,
                         "the confirmation again")
    terminal.line(PW)
    # No third passphrase: the chat opens with the identity just made, and greets.
    screen = terminal.wait_screen(lambda s: "Welcome, alice!" in s and "0 contacts online" in s
                                  and "/nearby" in s, "the greeting")
    fingerprint = run_json(home, "id")["fingerprint"]  # public: no passphrase, no terminal
    assert fingerprint in screen and f"alice {fingerprint[:7]}" in screen

    # The node runs in this window: leaving asks, and it can keep running in the background.
    said, pid = leave_keeping_the_node(terminal, exit_file)
    assert "keeps running in the background" in said
    try:
        # The background node got the passphrase from the chat: nobody typed it again.
        assert run_json(home, "status")["fingerprint"] == fingerprint

        # The next chat attaches to it, and reconnects by itself when it restarts.
        exit_file.unlink()
        terminal.start(chat_argv(home), exit_file)
        terminal.wait_screen(lambda s: "node runs apart" in s, "the attached screen")
        os.kill(pid, signal.SIGTERM)
        terminal.wait_screen(lambda s: "node stopped: reconnecting" in s, "the node gone")
        node = subprocess.Popen(
            [sys.executable, "-m", "p2pchat", "--home", str(home), "node", "--no-mdns",
             "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=cli_env({"P2PCHAT_PASSPHRASE": PW}),
            start_new_session=True)
        pid = node.pid
        terminal.wait_screen(lambda s: "reconnected to the node" in s
                             and "node stopped: reconnecting" not in s,
                             "the screen back on the restarted node", timeout=30)
        terminal.keys("C-c")  # attached, no draft: leaves at once, the node stays
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
        assert run_json(home, "status")["fingerprint"] == fingerprint
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_session_with_bob(tmp_path: Path, terminal: Terminal) -> None:
    """Add by fingerprint, chat both ways, /help, Tab, Alt+Up/Down, resize, quit with a draft."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: "Welcome, alice!" in s, "the first screen")

        terminal.line(f"/add {bob.fingerprint} bob {bob.addr}")  # add by fingerprint
        terminal.wait_screen(lambda s: "● bob" in s, "bob online in the list")
        terminal.line("hello from tmux")
        wait_for(lambda: [m["text"] for m in bob.log_json("alice")] == ["hello from tmux"], 20,
                 "bob to receive the message")
        terminal.wait_screen(lambda s: "hello from tmux ✓✓" in s, "the delivery mark")
        bob.cli("send", "alice", "hi alice, bob here", check=True)
        screen = terminal.wait_screen(lambda s: "bob: hi alice, bob here" in s, "bob's reply")
        # Their reply says their node has us: /add's "the request waits here" is untrue then
        # (session 36: it stayed beside the reply until the next read of the node).
        assert "request waits" not in screen and "see a request" not in screen, screen
        # ... and /add's answer says they are linked, not gone without a word (trial 14b, B7)
        assert "added bob; they added you too, so you are linked: you can chat" in screen, screen

        # /help at 120x40: every command at once, in the main pane (its last line drawn).
        terminal.line("/help")
        screen = terminal.wait_screen(lambda s: "Help (Esc to close)" in s and "//text sends" in s,
                                      "the help page")
        missing = [cmd for cmd in COMMANDS if f"  {cmd}" not in screen]
        assert not missing, screen
        assert "Enter sends what you type" in screen and "//text sends" in screen  # all of it
        terminal.keys("Escape")
        terminal.wait_screen(lambda s: "bob · online" in header(s), "back to bob")

        # A second conversation; Tab completes and never switches.
        carol = Identity.generate().fingerprint
        terminal.line(f"/add {carol} carol")
        terminal.wait_screen(lambda s: "carol · asked" in header(s), "carol open")
        terminal.literal("see you at")
        terminal.keys("Tab")
        terminal.literal(" /ms")
        terminal.keys("Tab")
        # A Tab that completes nothing is a space (trial 14c, B2: it glued a passphrase on).
        screen = terminal.wait_screen(lambda s: "> see you at  /ms" in s, "the typed text")
        assert "carol" in header(screen)
        terminal.keys("C-u")
        terminal.literal("/ms")
        terminal.keys("Tab")
        terminal.wait_screen(lambda s: "> /msg" in s, "/msg completed")
        terminal.literal("b")  # Tab gave "/msg " with its space
        terminal.keys("Tab")
        screen = terminal.wait_screen(lambda s: "> /msg bob" in s, "bob completed")
        assert "carol" in header(screen)
        terminal.keys("C-u")

        # Alt+Up / Alt+Down switch; each conversation keeps its draft.
        terminal.literal("draft for carol")
        terminal.keys("M-Down")
        screen = terminal.wait_screen(lambda s: "bob · online" in header(s), "Alt+Down to bob")
        assert "draft for carol" not in screen
        terminal.keys("M-Up")
        terminal.wait_screen(lambda s: "carol" in header(s) and "> draft for carol" in s,
                             "Alt+Up back to carol, with the draft")
        terminal.keys("C-u")
        terminal.keys("M-Down")
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob again")

        # Narrow: the list folds away, the conversation stays, nothing breaks.
        terminal.resize(60, 20)
        screen = terminal.wait_screen(lambda s: "hi alice, bob here" in s
                                      and "Conversations" not in s, "the narrow layout")
        assert "Traceback" not in screen
        assert all(len(row) <= 60 for row in screen.splitlines())
        # /help at 60x20 does not fit: it opens at the top and scrolls to the end.
        terminal.line("/help")
        screen = terminal.wait_screen(lambda s: "Help" in s and "/msg" in s, "help, narrow")
        assert "//text sends" not in screen
        for _ in range(10):  # bounded: the page is a few screens long
            if "//text sends" in terminal.screen():
                break
            terminal.keys("PageDown")
            screen = terminal.wait_screen(lambda s, before=screen: s != before,
                                          "the page to move")
        terminal.wait_screen(lambda s: "//text sends" in s, "the end of the help")
        terminal.keys("Escape")
        # The help's title row has scrolled away by now, so wait for what replaces the page:
        # typing on before Esc is handled would make Esc and the next key one Alt+key.
        terminal.wait_screen(lambda s: "//text sends" not in s and "hi alice, bob here" in s,
                             "the help closed, the conversation back")
        terminal.resize(120, 40)
        terminal.wait_screen(lambda s: "Conversations" in s, "the wide layout back")

        # Quitting with a draft asks; Ctrl-D deletes while there is text.
        terminal.literal("unsent words")
        terminal.keys("Home")
        terminal.keys("C-d")
        terminal.wait_screen(lambda s: "> nsent words" in s, "Ctrl-D to delete a character")
        terminal.keys("C-c")
        terminal.wait_screen(lambda s: "You have unsent text" in s, "the question")
        terminal.keys("n", "Enter")
        terminal.wait_screen(lambda s: "You have unsent text" not in s and "> nsent words" in s,
                             "still there, draft kept")
        terminal.keys("C-c")
        terminal.wait_screen(lambda s: "You have unsent text" in s, "the question again")
        terminal.keys("y", "Enter")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0", \
            (tmp_path / "exit.err").read_text()
        assert alice.json("status")["name"] == "alice"  # leaving the UI leaves the node running
        # The draft was never sent.
        assert [m["text"] for m in bob.log_json("alice") if not m["own"]] == ["hello from tmux"]
    finally:
        alice.close()
        bob.close()


def test_checked_from_outside(tmp_path: Path, terminal: Terminal) -> None:
    """The issue's outside check, step by step."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file, size=(120, 40))
        terminal.wait_screen(lambda s: "● bob" in s, "bob in the side panel")
        terminal.line("/help")
        screen = terminal.wait_screen(lambda s: "Help" in s, "help")
        assert "/msg" in screen and "/add" in screen
        terminal.keys("Escape")
        terminal.wait_screen(lambda s: "Help" not in header(s), "the help closed")
        terminal.line("/msg bob hello from the tui")
        wait_for(lambda: "hello from the tui" in [m["text"] for m in bob.log_json("alice")], 10,
                 "B's log to have the message")
        bob.cli("send", "alice", "reply from B", check=True)
        terminal.wait_screen(lambda s: "reply from B" in s, "B's reply on A's screen", timeout=10)
        terminal.resize(60, 20)
        screen = terminal.wait_screen(lambda s: "reply from B" in s and "Conversations" not in s,
                                      "the conversation at 60x20")
        assert "Traceback" not in screen
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
        assert "Traceback" not in (tmp_path / "exit.err").read_text()
    finally:
        alice.close()
        bob.close()
    sealed = tmp_path / "sealed"
    run(sealed, "init", "--name", "carol", env={"P2PCHAT_PASSPHRASE": PW}, check=True)
    proc = run(sealed, "id", "--json")  # no passphrase, no terminal (stdin is /dev/null)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["passphrase_protected"] is True
