"""The chat screen in a real terminal (tmux), against a real node: notes/s36/trial14b.md B4
(a contact removed and added again kept its list number until the chat restarted, then moved
to the end: its `since` was the new contact row's time, not its conversation's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nacl.public import PrivateKey

from p2pchat.core.identity import fingerprint
from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv
from tests.tui.test_tmux_trial14a import numbers

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def _since(node: NodeProcess) -> dict[str, str]:
    return {c["name"]: c["since"] for c in node.json("contacts", "list")}


def test_a_contact_removed_and_added_again_keeps_its_since_and_number(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """bob added, then carol; bob removed and added again: still since his first add, so a
    chat started afterwards numbers him 1, as the chats before did."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        bob, carol = (fingerprint(bytes(PrivateKey.generate().public_key)) for _ in "bc")
        alice.cli("contacts", "add", bob, "--name", "bob", check=True)
        alice.cli("contacts", "add", carol, "--name", "carol", check=True)
        before = _since(alice)
        assert before["bob"] < before["carol"], before
        alice.cli("contacts", "remove", "bob", check=True)
        alice.cli("contacts", "add", bob, "--name", "bob", check=True)
        assert _since(alice) == before
        terminal.start(chat_argv(alice.home), tmp_path / "exit")  # a restart of the chat
        screen = terminal.wait_screen(lambda s: len(numbers(s)) == 2, "the list")
        assert [row.split()[-1] for row in numbers(screen)] == ["bob", "carol"], screen
    finally:
        alice.close()
