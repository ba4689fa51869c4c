"""The chat screen in a real terminal (tmux), trial 14a: what it says of a contact is the
node's 1:1 state, as `p2pchat contacts` says it (B6), and "they see a request" only once their
node has it (B18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_a_contact_who_removed_you_reads_not_linked_though_a_group_links_you(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B6: alice removed bob, who shares a group with her: bob's screen said "alice · online",
    "● alice" and "1 contact online", and `p2pchat contacts` "not linked"."""
    alice, bob = pair
    group = alice.json("group", "create", "crew", "bob")["group"]
    wait_for(lambda: any(g["role"] == "invited" for g in bob.json("group", "list")), 20,
             "the invitation")
    bob.cli("group", "accept", group, check=True)
    terminal.start(chat_argv(bob.home), tmp_path / "exit")
    terminal.wait_screen(lambda s: "alice · online" in header(s), "alice online")
    alice.cli("contacts", "remove", "bob", check=True)
    wait_for(lambda: "not linked" in bob.cli("contacts", check=True).stdout, 20,
             "the CLI's not linked")
    screen = terminal.wait_screen(lambda s: "alice · not linked: alice's node no longer knows"
                                  " you" in header(s), "the header as the CLI says it")
    assert "● alice" not in screen and "1 contact online" not in screen, screen
    assert any(p["fingerprint"] == alice.fingerprint for p in bob.json("peers")["links"]), \
        "the group's link stays"


def test_add_of_a_node_not_reached_says_the_request_waits_here(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B18: `/add FINGERPRINT erin` for a node bob cannot find said "they see a request"."""
    _, bob = pair
    erin = NodeProcess(tmp_path / "erin", "erin").start()
    try:
        terminal.start(chat_argv(bob.home), tmp_path / "exit")
        terminal.wait_screen(lambda s: "alice · online" in header(s), "alice online")
        terminal.line(f"/add {erin.fingerprint} erin")
        screen = terminal.wait_screen(lambda s: "erin · asked: your request waits here until"
                                      in header(s), "the header")
        joined = " ".join(screen.split())
        assert "added erin; the request waits here until erin's node is reached: not found" \
            in joined, screen
        assert "they see a request" not in joined, screen
        terminal.line(f"/addr erin {erin.addr}")
        terminal.wait_screen(lambda s: "erin · asked, waiting for erin to accept"
                             in header(s), "delivered")
        wait_for(lambda: any(c["state"] == "request" for c in erin.json("contacts", "list")),
                 10, "the request at erin's")
    finally:
        erin.close()
