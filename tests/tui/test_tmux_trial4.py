"""Trial 4 in a real terminal (tmux), attached to real nodes: the chat's network join with
discovery off (B3) and the note on leaving (B15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_a_chat_join_with_discovery_off_needs_via_and_via_admits_at_once(
    tmp_path: Path, terminal: Terminal,
) -> None:
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()  # --no-mdns
    try:
        made = json.loads(carol.cli("network", "create", "club", "--json", "--no-qr",
                                    check=True).stdout)
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(bob.home), exit_file)
        terminal.wait_screen(lambda s: "discovery off" in s, "the chat attached")
        terminal.line("/network join club topsecret")
        flat = terminal.wait_screen(lambda s: "no member can be found" in s, "the refusal")
        assert "topsecret" not in flat
        assert bob.json("network", "list")["waiting"] == []  # nothing was joined
        terminal.line(f"/network join club --via {carol.addr} {made['passphrase']}")
        terminal.wait_screen(lambda s: "networks: club (check code" in s, "admitted at once")
        assert bob.json("network", "list")["networks"] == ["club"]
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
        said = (tmp_path / "exit.err").read_text()
        assert f"'p2pchat --home {bob.home} stop' stops it" in said, said  # not kill (B15)
    finally:
        carol.close()
        bob.close()
