"""The chat screen in a real terminal (tmux): notes/s35/trial13c.md B6, an invitation to a
group named like a contact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_an_invitation_named_like_a_contact_reads_as_one_and_says_how_to_answer(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B6: bob's list showed "? carol" next to "● carol", and opening it "carol · group · 2
    members" over "No messages with carol yet (loading)." for >10 s, with no hint."""
    alice, bob = pair
    terminal.start(chat_argv(bob.home), tmp_path / "exit")
    terminal.wait_screen(lambda s: "alice · online" in header(s), "alice open")
    alice.cli("group", "create", "alice", "bob", check=True)  # named as bob's contact alice
    terminal.wait_screen(lambda s: "? #alice" in s and "● alice" in s, "the invitation's row")
    terminal.keys("M-a")  # the next request or invitation
    screen = terminal.wait_screen(
        lambda s: header(s).strip().endswith("alice · group invitation · 2 members"),
        "the invitation open")
    assert "alice invites you to #alice (2 members): /group accept alice or /group decline" \
        " alice" in screen, screen
    assert "loading" not in screen and "No messages" not in screen, screen
    terminal.line("/group accept #alice")  # as its row reads it
    screen = terminal.wait_screen(lambda s: "you joined #alice" in s, "the accept")
    assert "group · 2 members" in header(screen), screen


def test_the_header_of_a_group_follows_a_member_who_accepted_before_you(
    tmp_path: Path, terminal: Terminal,
) -> None:
    """B4: dave accepted hike after bob; his header stayed "hike · group · 2 members, 1
    invited" for minutes, while his Members page and `p2pchat group` said 3 members."""
    from tests.integration.test_groups_cli import api, hub, invited
    from tests.nodes import wait_for

    carol, bob, dave = (NodeProcess(tmp_path / n, n) for n in ("carol", "bob", "dave"))
    try:
        for node in (carol, bob, dave):
            node.start()
        hub(carol, bob, dave)
        group = carol.json("group", "create", "hike", "bob", "dave")["group"]
        for member in (bob, dave):
            wait_for(lambda m=member: invited(m, group), 20, f"{member.name}'s invitation")
        bob.cli("group", "accept", "hike", check=True)
        wait_for(lambda: not any(m["invited"] for m in api(carol, "groups.members", group=group)
                                 if m["fingerprint"] == bob.fingerprint), 20, "bob's join")
        terminal.start(chat_argv(dave.home), tmp_path / "exit")
        terminal.wait_screen(lambda s: "? #hike" in s, "the invitation")
        terminal.line("/group accept hike")
        screen = terminal.wait_screen(lambda s: "you joined hike" in s, "the accept")
        terminal.wait_screen(lambda s: header(s).strip().endswith("hike · group · 3 members"),
                             "the header counting bob", timeout=10)
        terminal.line("/group members")
        screen = terminal.wait_screen(lambda s: "Members of hike: 3 members" in s, "the page")
        assert "invited" not in screen, screen
    finally:
        for node in (carol, bob, dave):
            node.close()
