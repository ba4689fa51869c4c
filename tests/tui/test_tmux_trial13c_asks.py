"""The chat screen in a real terminal (tmux), against real nodes: notes/s35/trial13c.md B5
(/remove asks first) and B11 (Tab offers "@bob" and "#bob" where a contact and a group are
both called bob)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header, open_on_bob

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def states(node: NodeProcess) -> list[str]:
    return [c["state"] for c in node.json("contacts", "list")]


def test_remove_asks_and_a_no_keeps_the_contact(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B5: `/remove bob` removed at once, and the "y" typed for a question went out."""
    alice, bob = pair
    open_on_bob(terminal, alice.home, tmp_path)
    terminal.line("/remove bob")
    terminal.wait_screen(lambda s: "Remove bob?" in s and "y/n" in s, "the question")
    terminal.line("n")
    terminal.wait_screen(lambda s: "bob not removed" in s, "the no, on the row")
    assert states(alice) == ["contact"]
    terminal.line("/remove bob")
    terminal.wait_screen(lambda s: "Remove bob?" in s and "y/n" in s, "the question again")
    terminal.line("y")
    terminal.wait_screen(lambda s: "removed bob; the history is kept" in s, "the answer")
    wait_for(lambda: "contact" not in states(alice), 20, "bob removed")  # maybe a request
    assert bob.log_json("alice") == []  # nothing typed went out as a message


def test_tab_offers_the_contact_and_the_group_of_one_name(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """B11: "/msg ca" + Tab gave "/msg carol" (a contact and a group), refused on Enter.
    (Only names count: bob is a contact whose node need not run.)"""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        alice.cli("contacts", "add", Identity.generate().fingerprint, "--name", "bob",
                  check=True)
        alice.cli("group", "create", "bob", check=True)
        terminal.start(chat_argv(alice.home), tmp_path / "exit")
        terminal.wait_screen(lambda s: "bob · " in header(s), "the chat open, on either bob")
        terminal.literal("/msg bo")
        terminal.keys("Tab")
        screen = terminal.wait_screen(lambda s: "@bob" in s and "#bob" in s,
                                      "both forms offered")
        assert "/msg bob " not in screen, screen
    finally:
        alice.close()
