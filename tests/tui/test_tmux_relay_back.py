"""Issue 23, point 18, as the newcomer saw it (a real relay, real nodes, the chat screen in
tmux): the relay killed and started again on the same port; the status line said "via relay"
again but the notice "relay ... unreachable" stayed on the screen until Esc."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.relay_client import RelayProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_the_relay_down_notice_leaves_the_screen_when_the_relay_is_back(
    tmp_path: Path, terminal: Terminal, make_node: Callable[[str], NodeProcess],
) -> None:
    relay = RelayProcess(tmp_path / "relay").start()
    try:
        where = f"127.0.0.1:{relay.port}"
        via = f"{where}#{relay.status['fingerprint']}"
        dave, erin = make_node("dave"), make_node("erin")
        dave.start("--relay", via)
        erin.start("--relay", via)
        # Fingerprints only, no addresses, no mDNS: the relay is their one path.
        dave.cli("contacts", "add", erin.fingerprint, "--name", "erin", check=True)
        erin.cli("contacts", "add", dave.fingerprint, "--name", "dave", check=True)
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(dave.home), exit_file)
        terminal.wait_screen(lambda s: f"erin · online via relay {where}" in header(s),
                             "the relay in the header", timeout=40)
        down = f"relay {where} unreachable: contacts reached only through it are offline"
        relay.stop()  # `kill`: SIGTERM
        terminal.wait_screen(lambda s: down in s, "the notice", timeout=30)
        relay.start("--listen", where)
        terminal.wait_screen(lambda s: f"erin · online via relay {where}" in header(s),
                             "erin back", timeout=40)
        terminal.wait_screen(lambda s: down not in s and f"via relay {where}" in s,
                             "the notice gone, the relay on the status line", timeout=10)
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        relay.close()
