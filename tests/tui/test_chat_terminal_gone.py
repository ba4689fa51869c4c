"""A chat whose terminal goes away, or stops reading, still ends, cleanly (trial 13c, B17: a
chat outlived its terminal, idle, and ignored SIGTERM until SIGKILL). Real processes on a pty
this test holds: closing its side is a terminal gone without the SIGHUP tmux would send (the
pty is not the chat's controlling terminal), and never reading it is a terminal that stopped
reading."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from p2pchat.tui.main import left_attached
from tests.cli import cli_env
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)


def _size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _chat_on_pty(home: Path, err: Path, grace: float | None = None,
                 ) -> tuple[subprocess.Popen[bytes], int]:
    """An attached chat on a fresh pty; returns it and the pty's master side, the screen up.
    `grace`: the chat's ending.GRACE (seconds a signalled chat has to end by itself) set to
    that, so a test of the grace's end need not wait the 5 s a user is given."""
    master, slave = os.openpty()
    _size(slave, 40, 120)
    run = ["-m", "p2pchat"] if grace is None else [
        "-c", "import runpy, p2pchat.tui.ending as e;"
        f" e.GRACE = {grace!r}; runpy.run_module('p2pchat', run_name='__main__')"]
    with err.open("w") as stderr:
        chat = subprocess.Popen(
            [sys.executable, *run, "--home", str(home), "chat", "--no-mdns"],
            stdin=slave, stdout=slave, stderr=stderr, env=cli_env({"TERM": "xterm"}),
            start_new_session=True)
    os.close(slave)
    shown = bytearray()

    def screen_up() -> bool:
        while select.select([master], [], [], 0)[0]:
            shown.extend(os.read(master, 65536))
        return b"apart" in shown  # "node runs apart", on the status line
    wait_for(screen_up, 20, "the attached screen")
    return chat, master


def test_a_chat_whose_terminal_closes_ends_as_quit_does(tmp_path: Path) -> None:
    """EOF on the terminal, then EIO drawing the last frame: it ended with exit status 1 and
    a traceback. It ends as /quit does: status 0, the node left running."""
    node = NodeProcess(tmp_path / "alice", "alice").start()
    err = tmp_path / "err"
    try:
        chat, master = _chat_on_pty(node.home, err)
        os.close(master)
        assert chat.wait(timeout=15) == 0, err.read_text()
        assert "Traceback" not in err.read_text(), err.read_text()
        assert node.json("status")["pid"] == node.proc.pid  # type: ignore[union-attr]
    finally:
        node.close()


def test_sigterm_ends_a_chat_whose_terminal_reads_nothing(tmp_path: Path) -> None:
    """A terminal that stops reading (its output buffer full) left the chat blocked in a write,
    where the event loop's signal handlers never ran: SIGTERM did nothing. It ends now."""
    node = NodeProcess(tmp_path / "alice", "alice").start()
    err = tmp_path / "err"
    chat, master = _chat_on_pty(node.home, err, grace=1.0)  # blocked, it ends at the grace's end
    try:
        for i in range(400):  # each new size redraws the whole screen; nobody reads it
            _size(master, 30 + i % 20, 100 + i % 40)
            os.killpg(chat.pid, signal.SIGWINCH)
            time.sleep(0.005)  # paced so each resize is drawn: filling, not synchronising
            if _blocked_writing(chat.pid):
                break
        assert _blocked_writing(chat.pid), "the chat never filled its terminal"
        chat.send_signal(signal.SIGTERM)
        assert chat.wait(timeout=15) == 0
        assert node.json("status")["pid"] == node.proc.pid  # type: ignore[union-attr]
    finally:
        if chat.poll() is None:
            chat.kill()
        os.close(master)
        node.close()


def _blocked_writing(pid: int) -> bool:
    """The process sleeps in a terminal write (its kernel wait channel says so)."""
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False
    return "wait_woken" in wchan or "n_tty_write" in wchan or "tty_write" in wchan


def test_the_parting_line_says_a_node_stopped_since_the_quit(tmp_path: Path) -> None:
    """/quit of an attached chat, then `p2pchat stop` at once: the chat said "Your node is still
    running (pid N)" after it had stopped. The line is true when it is printed."""
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=10)
    said = left_attached(False, gone.pid, tmp_path)
    assert said.startswith(f"Your node (pid {gone.pid}) has stopped since you quit"), said
    assert "still running" in left_attached(False, os.getpid(), tmp_path)
