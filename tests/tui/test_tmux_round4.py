"""The chat screen in a real terminal (tmux), a group's owner: an invitation reads "invited" until
the invitee accepts, a declined one says so, the counts keep the invited apart, the lines come
back after a restart, and /receipts names who has a message (issue 23, round 4; issue 24's
points 5 and 6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2pchat.cli.serve import GROUP_SYNC_ENV
from tests.integration.test_groups_cli import group_view, hub, invited
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, header

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess, NodeProcess]]:
    nodes = [NodeProcess(tmp_path / n, n) for n in ("alice", "bob", "carol")]
    try:
        # A member's vector, which says what it holds (/receipts), goes at the group's next
        # anti-entropy round: half a second here, not ten.
        alice, bob, carol = (node.start(env={GROUP_SYNC_ENV: "0.5"}) for node in nodes)
        hub(alice, bob, carol)
        wait_for(lambda: sum(c["online"] for c in alice.json("contacts", "list")) == 2, 20,
                 "alice linked to both")
        yield alice, bob, carol
    finally:
        for node in nodes:
            node.close()


def flat(screen: str) -> str:
    """The rows right of the conversation list, as one line (notices wrap)."""
    return " ".join(row.split("│", 1)[-1].strip() for row in screen.splitlines())


def conversation(screen: str) -> list[str]:
    """The main pane's rows, right of the conversation list, stripped."""
    return [row.split("│", 1)[-1].strip() for row in screen.splitlines()[1:]]


def open_hall(terminal: Terminal, alice: NodeProcess, exit_file: Path) -> None:
    terminal.start(chat_argv(alice.home), exit_file)
    terminal.wait_screen(lambda s: "alice" in s and ">" in s, "the screen")
    terminal.line("/msg hall")
    terminal.wait_screen(lambda s: header(s).split("·")[0].strip().endswith("hall"), "hall open")


def test_an_invitation_reads_invited_until_accepted_and_a_no_says_declined(
    tmp_path: Path, terminal: Terminal, trio: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    alice, bob, carol = trio
    group = alice.json("group", "create", "hall")["group"]
    exit_file = tmp_path / "exit"
    open_hall(terminal, alice, exit_file)

    terminal.line("/group invite bob")
    screen = terminal.wait_screen(lambda s: "you invited bob" in s, "the invitation's line")
    assert "1 member (you), 1 invited" in header(screen), header(screen)
    assert "bob joined" not in flat(screen)
    assert "(invited, not joined yet)" in alice.cli("group", "members", "hall",
                                                    check=True).stdout
    assert "1 member (you), 1 invited" in alice.cli("group", "list", check=True).stdout
    view = group_view(alice, "hall")
    assert view is not None and (view["members"], view["invited"]) == (2, 1)

    wait_for(lambda: invited(bob, group), 20, "bob's invitation")
    bob.cli("group", "accept", "hall", check=True)
    screen = terminal.wait_screen(lambda s: "bob joined" in s and "2 members" in header(s),
                                  "bob joined, once he said yes")
    assert "invited" not in header(screen), header(screen)

    terminal.line("/group invite carol")
    terminal.wait_screen(lambda s: "you invited carol" in s, "carol's invitation")
    wait_for(lambda: invited(carol, group), 20, "carol's invitation")
    carol.cli("group", "decline", "hall", check=True)
    screen = terminal.wait_screen(lambda s: "carol declined the invitation" in s
                                  and "2 members" in header(s), "carol's no")
    assert "carol left" not in flat(screen), screen
    lines = conversation(screen)
    said = [line for line in lines if line.startswith("—") or "— " in line]
    order = ["you invited bob", "bob joined", "you invited carol",
             "carol declined the invitation"]
    where = [next(i for i, line in enumerate(said) if text in line) for text in order]
    assert where == sorted(where), said

    # The same words in `log`, in the same order.
    log = alice.cli("log", "hall", check=True).stdout
    assert [log.index(text) for text in order] == sorted(log.index(text) for text in order), log
    assert "bob left" not in log and "carol left" not in log

    # After a restart the screen asks the node for the changes: they are all there again.
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    terminal.close()
    again = Terminal()
    try:
        open_hall(again, alice, tmp_path / "exit2")
        screen = again.wait_screen(lambda s: "carol declined the invitation" in s,
                                   "the lines after a restart")
        said = [line for line in conversation(screen) if "— " in line or line.startswith("—")]
        where = [next(i for i, line in enumerate(said) if text in line) for text in order]
        assert where == sorted(where), said
        assert "2 members" in header(screen) and "invited" not in header(screen)
        again.keys("C-c")
        assert wait_for(lambda: exited(tmp_path / "exit2"), 20, "the chat to exit") == "0"
    finally:
        again.close()


def test_receipts_names_who_has_the_message_and_who_not_yet(
    tmp_path: Path, terminal: Terminal, trio: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    alice, bob, carol = trio
    group = alice.json("group", "create", "hall")["group"]
    for member in (bob, carol):
        alice.cli("group", "invite", "hall", member.name, check=True)
    wait_for(lambda: invited(bob, group), 20, "bob's invitation")
    bob.cli("group", "accept", "hall", check=True)
    wait_for(lambda: (group_view(alice, "hall") or {}).get("invited") == 1, 20, "bob joined")
    exit_file = tmp_path / "exit"
    open_hall(terminal, alice, exit_file)
    terminal.line("/receipts")
    terminal.wait_screen(lambda s: "written nothing in hall" in s, "nothing to ask about yet")
    terminal.keys("Escape")
    terminal.line("who is here?")
    terminal.wait_screen(lambda s: "1/2" in s, "one of two has it")  # bob; carol not yet
    terminal.line("/receipts")
    screen = terminal.wait_screen(lambda s: "Who has your message" in s, "the page")
    page = flat(screen)
    assert "delivered to 1 of 2: bob" in page, screen
    assert "not yet: carol (invited, has not joined yet)" in page, screen
    terminal.keys("Escape")
    # Tab completes it (/help lists every command: tests/tui/test_tmux.py).
    terminal.literal("/recei")
    terminal.keys("Tab")
    terminal.literal("1")  # the space Tab added is there (the pane drops trailing spaces)
    terminal.wait_screen(lambda s: "> /receipts 1" in s.splitlines()[-1], "Tab completes")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "Who has your message 'who is here?'" in s, "/receipts 1")
    terminal.keys("Escape")
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
