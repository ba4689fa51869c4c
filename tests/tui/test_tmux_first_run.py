"""Trial 6, B10: the chat run that created the home with `--listen 127.0.0.1:0` kept the port
but not the host: the next plain `chat` listened on every interface (warned after the fact).
The run that creates the home keeps its typed --listen as the home's setting, and says so.
Also (issue 23): the chat's y to a new key under a verified name is the node's `anyway`. A
real terminal (tmux), real processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_the_chats_yes_to_a_new_key_is_the_nodes_anyway(
    tmp_path: Path, terminal: Terminal, pair: tuple[Any, Any],
) -> None:
    """The node refuses to accept a new key under a verified contact's name unless `anyway`:
    the chat's y to its question must pass it (attached to a running node: the control API)."""
    from tests.nodes import NodeProcess

    alice, _bob = pair
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    try:
        alice.cli("contacts", "verify", "bob", check=True)
        impostor.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                     alice.addr, check=True)
        wait_for(lambda: any(c["state"] == "request" for c in alice.json("contacts", "list")),
                 20, "the request")
        name = f"bob ({impostor.fingerprint[:7]})"
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: "/nearby" in s or "bob" in s, "the chat")
        terminal.line(f"/accept {name}")
        terminal.wait_screen(lambda s: "accept anyway? y/n" in s, "the question")
        terminal.keys("y")
        wait_for(lambda: [c["state"] for c in alice.json("contacts", "list")
                          if c["fingerprint"] == impostor.fingerprint] == ["contact"], 20,
                 "accepted after the yes")
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        impostor.close()
