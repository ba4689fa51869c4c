"""The chat screen in a real terminal (tmux), trial 14a: what it says of a contact is the
node's 1:1 state, as `p2pchat contacts` says it (B6), and "they see a request" only once their
node has it (B18); an answer to /add stays through the flap of links that follows it (B12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.tui.reach_watch import SETTLE
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
    tmp_path: Path, terminal: Terminal,
) -> None:
    """B18: `/add FINGERPRINT erin` for a node bob cannot find said "they see a request"."""
    bob = NodeProcess(tmp_path / "bob", "bob").start()  # no contact needed beside erin
    erin = NodeProcess(tmp_path / "erin", "erin").start()
    try:
        terminal.start(chat_argv(bob.home), tmp_path / "exit")
        terminal.wait_screen(lambda s: "apart" in s, "the chat open (its node runs apart)")
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
        bob.close()


def test_re_adding_a_fellow_member_keeps_the_answer(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B12: alice `/add` of bob, whom she had removed and who still had her (they share a
    group): "added bob; they had added you too, so you are linked: you can chat", and 3 s later
    the row was empty (the group's link closed to link again as contacts)."""
    import time

    alice, bob = pair
    group = alice.json("group", "create", "crew", "bob")["group"]
    wait_for(lambda: any(g["role"] == "invited" for g in bob.json("group", "list")), 20,
             "the invitation")
    bob.cli("group", "accept", group, check=True)
    terminal.start(chat_argv(alice.home), tmp_path / "exit")  # open while the links change
    terminal.wait_screen(lambda s: "bob · online" in header(s), "bob online")
    alice.cli("contacts", "remove", "bob", check=True)
    wait_for(lambda: any(p["fingerprint"] == bob.fingerprint and p["state"] == "group"
                         for p in alice.json("peers")["links"]), 20, "the group's link")
    terminal.wait_screen(lambda s: "~ bob (removed)" in s, "bob removed in the list")
    terminal.line("/add bob")
    answer = "added bob; they had added you too, so you are linked: you can chat"
    terminal.wait_screen(lambda s: answer in " ".join(s.split()), "the answer")
    wait_for(lambda: any(p["fingerprint"] == bob.fingerprint and p["state"] == "contact"
                         for p in alice.json("peers")["links"]), 20, "a contacts' link")
    # The new link makes the screen read the node SETTLE later: the read that dropped the answer
    # (3 s after it, in the trial). Sampled past it with room; the later period reads are driven
    # one by one in test_screen_trial14a_links (same rule, no clock).
    deadline = time.monotonic() + 3 * SETTLE
    while time.monotonic() < deadline:  # bounded: the answer stays all along
        screen = terminal.screen()
        assert answer in " ".join(screen.split()), screen
        time.sleep(0.5)  # sampling the screen, not waiting for it
