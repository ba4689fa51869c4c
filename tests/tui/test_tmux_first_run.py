"""Trial 6, B10: the chat run that created the home with `--listen 127.0.0.1:0` kept the port
but not the host: the next plain `chat` listened on every interface (warned after the fact).
The run that creates the home keeps its typed --listen as the home's setting, and says so. A
real terminal (tmux), real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import wait_for
from tests.tui.test_tmux import PW, TMUX, Terminal, chat_argv, exited

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


def _reachable(terminal: Terminal) -> str:
    terminal.line("/id")
    screen = terminal.wait_screen(lambda s: "reachable at 127.0.0.1:" in s, "the address")
    return screen.split("reachable at ")[1].split()[0].rstrip(".,;)")


def _quit(terminal: Terminal, exit_file: Path) -> None:
    terminal.line("/quit")
    terminal.wait_screen(lambda s: "you will be offline" in s, "the question before leaving")
    terminal.keys("y")
    assert wait_for(lambda: exited(exit_file), 30, "the chat to exit") == "0", \
        exit_file.with_suffix(".err").read_text()


def test_the_first_run_keeps_its_listen_host_with_the_port(tmp_path: Path,
                                                           terminal: Terminal) -> None:
    from p2pchat import settings

    home = tmp_path / "alice"
    first = tmp_path / "first"
    terminal.start(["env", f"P2PCHAT_PASSPHRASE={PW}",
                    *chat_argv(home, "--listen", "127.0.0.1:0")], first)
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("alice")
    terminal.wait_screen(lambda s: "/nearby" in s, "the chat")
    where = _reachable(terminal)
    _quit(terminal, first)
    # Checked before the second start: without the setting it would listen on every interface.
    assert settings.load(home).get("listen") == ["127.0.0.1:0"], settings.load(home)
    terminal.close()
    again = Terminal()
    second = tmp_path / "second"
    try:
        again.start(["env", f"P2PCHAT_PASSPHRASE={PW}", *chat_argv(home)], second)
        again.wait_screen(lambda s: "/nearby" in s, "the chat again")
        assert _reachable(again) == where
        assert "wider than last run" not in again.screen()
        _quit(again, second)
    finally:
        again.close()
