"""Trial 6, B10: the chat run that created the home with `--listen 127.0.0.1:0` kept the port
but not the host: the next plain `chat` listened on every interface (warned after the fact).
The run that creates the home keeps its typed --listen and --no-mdns as the home's settings,
and says so with the port it got (trial 10, B1, B6).
Also (issue 23): the chat's y to a new key under a verified name is the node's `anyway`. A
real terminal (tmux), real processes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.nodes import wait_for
from tests.tui.test_tmux import PW, TMUX, Terminal, chat_argv, exited, reachable_at

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(120)]


def _quit(terminal: Terminal, exit_file: Path) -> None:
    terminal.line("/quit")
    terminal.wait_screen(lambda s: "you will be offline" in s, "the question before leaving")
    terminal.keys("y", "Enter")
    assert wait_for(lambda: exited(exit_file), 30, "the chat to exit") == "0", \
        exit_file.with_suffix(".err").read_text()


@contextlib.contextmanager
def _plain_restart(home: Path, exit_file: Path) -> Iterator[Terminal]:
    """A plain `chat` of `home` (nothing typed but the passphrase) in a new terminal, on its
    screen; once the body is done, it said nothing of kept settings again and leaves cleanly."""
    again = Terminal()
    try:
        again.start(["env", f"P2PCHAT_PASSPHRASE={PW}", sys.executable, "-m", "p2pchat",
                     "--home", str(home), "chat"], exit_file)
        again.wait_screen(lambda s: "/nearby" in s, "the chat again")
        yield again
        assert "Kept for" not in exit_file.with_suffix(".err").read_text()  # said once
        _quit(again, exit_file)
    finally:
        again.close()


def test_the_first_run_keeps_its_listen_host_with_the_port_and_no_mdns(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """Trial 10, B1: the first run's --no-mdns was not kept (a later plain `chat` would
    announce alice on the LAN); B6: "listen 127.0.0.1:0 (the port too)" named no port."""
    from p2pchat import settings
    from tests.cli import run, run_json

    home = tmp_path / "alice"
    first = tmp_path / "first"
    terminal.start(["env", f"P2PCHAT_PASSPHRASE={PW}",
                    *chat_argv(home, "--listen", "127.0.0.1:0")], first)  # with --no-mdns
    terminal.wait_screen(lambda s: "Your name" in s, "the name question")
    terminal.line("alice")
    terminal.wait_screen(lambda s: "/nearby" in s, "the chat")
    where = reachable_at(terminal)
    _quit(terminal, first)
    port = where.rsplit(":", 1)[1]
    said = first.with_suffix(".err").read_text()
    assert (f"Kept for the next starts: listen 127.0.0.1, port {port}; discovery off;"
            " 'p2pchat settings' changes it.") in said, said
    # Checked before the second start, which is told neither: without these settings it
    # would listen on every interface and announce alice there.
    assert settings.load(home) == {"listen": ["127.0.0.1:0"], "mdns": False}, \
        settings.load(home)
    shown = run(home, "settings", check=True).stdout
    assert f"127.0.0.1:0  (port {port}, kept from the last run)" in shown, shown
    assert "mdns            off" in shown, shown
    terminal.close()
    with _plain_restart(home, tmp_path / "second") as again:
        assert reachable_at(again) == where
        status = run_json(home, "status")
        assert status["mdns"] is False and status["mdns_from"] == "settings", status


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
        terminal.keys("y", "Enter")
        wait_for(lambda: [c["state"] for c in alice.json("contacts", "list")
                          if c["fingerprint"] == impostor.fingerprint] == ["contact"], 20,
                 "accepted after the yes")
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        impostor.close()


def test_the_first_chat_of_a_home_made_with_init_keeps_its_relay(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """Issue 23, point 11 (a newcomer trial): `--relay` typed on the first chat of a home made
    with `init` was lost on restart, silently: `settings` said "No settings kept", and a
    contact reachable only through the relay showed offline."""
    from p2pchat import settings
    from tests.cli import run, run_json
    from tests.integration.test_relay_nodes import relay_arg
    from tests.relay_client import RelayProcess

    relay = RelayProcess(tmp_path / "relay").start()
    home = tmp_path / "alice"
    try:
        run(home, "init", "--name", "alice", env={"P2PCHAT_PASSPHRASE": PW}, check=True)
        typed = relay_arg(relay)
        first = tmp_path / "first"
        terminal.start(["env", f"P2PCHAT_PASSPHRASE={PW}",
                        *chat_argv(home, "--listen", "127.0.0.1:0", "--relay", typed)], first)
        terminal.wait_screen(lambda s: "/nearby" in s, "the chat")
        reachable_at(terminal)
        _quit(terminal, first)
        said = first.with_suffix(".err").read_text()
        assert f"relay 127.0.0.1:{relay.port}; discovery off;" in said, said
        assert settings.load(home)["relay"] == [typed], settings.load(home)
        shown = run(home, "settings", check=True).stdout
        assert f"relay           {typed}" in shown, shown
        terminal.close()
        with _plain_restart(home, tmp_path / "second"):
            wait_for(lambda: [r["state"] for r in run_json(home, "status")["relays"]]
                     == ["attached"], 30, "the kept relay attached after a plain restart")
    finally:
        relay.close()
