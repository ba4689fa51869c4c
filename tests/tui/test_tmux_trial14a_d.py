"""The chat screen in a real terminal (tmux), against real nodes: notes/s36/trial14a.md B11 (a
second chat opened on a running node with options it ignored said so only in /notices: the
row showed the standing NEW KEY warning alone); B9 (Tab after "#" or "@"); B10 and B17 (a
contact renamed: the corrected line in the input)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import (
    TMUX,
    Terminal,
    chat_argv,
    exited,
    header,
    impostor_asks,
    mutual,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


@contextmanager
def _started(tmp_path: Path, *homes: tuple[str, str]) -> Iterator[list[NodeProcess]]:
    nodes: list[NodeProcess] = []
    try:
        for home, name in homes:
            nodes.append(NodeProcess(tmp_path / home, name).start())
        yield nodes
    finally:
        for node in nodes:
            node.close()


@pytest.fixture
def three(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess, NodeProcess]]:
    with _started(tmp_path, ("alice", "alice"), ("bob", "bob"), ("impostor", "bob")) as nodes:
        yield nodes[0], nodes[1], nodes[2]


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """alice and bob, not contacts yet: for the tests with no impostor (a node less to start)."""
    with _started(tmp_path, ("alice", "alice"), ("bob", "bob")) as nodes:
        yield nodes[0], nodes[1]


def flat(screen: str) -> str:
    """The main pane's rows as one text (the list's column cut off, rows joined)."""
    return " ".join(" ".join(row.split("│", 1)[-1].split()) for row in screen.splitlines())


def input_row(screen: str) -> str:
    """The input's row (the last with text), trailing spaces dropped by tmux."""
    return [row for row in screen.splitlines() if row.strip()][-1].rstrip()


def test_attaching_with_ignored_options_shows_beside_a_new_key_warning(
    tmp_path: Path, terminal: Terminal,
    three: tuple[NodeProcess, NodeProcess, NodeProcess],
) -> None:
    """B11: `chat --listen 127.0.0.1:0` on a running node with a NEW KEY request pending: the
    row showed only the WARNING; "...did nothing" reached only /notices."""
    alice, bob, impostor = three
    impostor_asks(alice, bob, impostor)
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home, "--listen", "127.0.0.1:0"), exit_file, size=(80, 24))
    screen = terminal.wait_screen(
        lambda s: "WARNING" in s and "NEW KEY" in s and "did nothing" in s,
        "the warning and the ignored options, both on the row")
    assert "so --listen did nothing" in flat(screen), screen
    # Once the user acts, the warning shows whole again, its commands in view.
    terminal.keys("Escape")
    terminal.line("/contacts")
    screen = terminal.wait_screen(lambda s: "/accept bob (" in flat(s), "the warning whole")
    assert "NEW KEY" in screen, screen
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_tab_after_hash_completes_a_group_of_a_contacts_name(
    tmp_path: Path, terminal: Terminal,
    two: tuple[NodeProcess, NodeProcess],
) -> None:
    """B9: with a contact and a group both called bob, "/msg #b" + Tab completed nothing (held
    on main since the s36-a merge: a guard); "/msg #h" for a group "hikers" still did."""
    alice, bob = two
    mutual(alice, bob, "alice", "bob")
    alice.cli("group", "create", "bob", check=True)
    terminal.start(chat_argv(alice.home), tmp_path / "exit")
    terminal.wait_screen(lambda s: "bob · " in header(s), "the chat open, on either bob")
    terminal.literal("/msg #b")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: "> /msg #bob" in input_row(s), "#bob completed")
    terminal.keys("C-u")
    terminal.literal("/msg @b")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: "> /msg @bob" in input_row(s), "@bob completed")
    # a name no contact shares completes after its mark too (main offered it bare only)
    alice.cli("group", "create", "hikers", check=True)
    terminal.wait_screen(lambda s: "# hikers" in s, "hikers listed")
    terminal.keys("C-u")
    terminal.literal("/msg #h")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: "> /msg #hikers" in input_row(s), "#hikers completed")


def test_a_renamed_contact_corrected_in_the_input_for_create_and_remove(
    tmp_path: Path, terminal: Terminal,
    two: tuple[NodeProcess, NodeProcess],
) -> None:
    """B17: `/group create team bob carol` (carol renamed "Carol S") was refused and had to be
    typed again; B10: `/group remove carol` then said "no single member called 'carol'"."""
    from tests.integration.test_groups_cli import hub

    alice, bob = two
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        hub(alice, bob, carol)
        wait_for(lambda: all(c["online"] for c in alice.json("contacts", "list")), 20,
                 "bob and carol linked")
        alice.cli("contacts", "rename", "carol", "Carol S", check=True)
        terminal.start(chat_argv(alice.home), tmp_path / "exit", size=(80, 24))
        terminal.wait_screen(lambda s: "· online" in header(s), "the chat open")
        terminal.line("/group create team bob carol")
        screen = terminal.wait_screen(lambda s: "corrected line is in the input" in flat(s),
                                      "the refusal")
        assert "carol is now called 'Carol S'" in flat(screen), screen
        assert input_row(screen) == '> /group create team bob "Carol S"', screen
        assert alice.json("group", "list") == []  # nothing created, nothing sent
        terminal.keys("Enter")
        terminal.wait_screen(lambda s: "created team and invited bob and Carol S" in flat(s),
                             "created on Enter")
        carol.cli("group", "accept", "team", check=True)
        terminal.line("/group remove carol")
        screen = terminal.wait_screen(lambda s: "corrected line is in the input" in flat(s),
                                      "the hint")
        assert "carol is now called 'Carol S': /group remove \"Carol S\"" in flat(screen), \
            screen
        terminal.keys("Enter")
        terminal.wait_screen(lambda s: "Remove Carol S from team?" in flat(s), "the question")
        terminal.line("y")
        terminal.wait_screen(lambda s: "you removed Carol S from team" in flat(s), "removed")
        terminal.line("/group remove dave")
        terminal.wait_screen(lambda s: "no member called 'dave' in team" in flat(s),
                             "no such member")
    finally:
        carol.close()
