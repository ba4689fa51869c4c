"""The chat screen in a real terminal (tmux): keys a newcomer's trial found wanting (issue 23,
notes/s31/trial1.md): Esc then a letter, Tab completion's space, /group's completions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import (
    TMUX,
    Terminal,
    exited,
    header,
    open_on_bob,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def input_row(screen: str) -> str:
    """The last input row (after the status line)."""
    rows = [row for row in screen.splitlines() if row.startswith(">")]
    return rows[-1] if rows else ""


def test_esc_then_a_letter_is_esc_then_the_letter_and_our_alt_keys_still_work(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """B12: closing a page with Esc and typing "carol again" in one burst gave "arol again"
    (Esc+c read as Alt+C). Alt+1..9, Alt+A and Alt+Enter are ours and stay."""
    alice, bob = pair
    alice.cli("group", "create", "hike", check=True)
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    terminal.wait_screen(lambda s: "hike" in s, "the group in the list")
    terminal.line("/help")
    terminal.wait_screen(lambda s: "Help (Esc to close)" in header(s), "the help page")
    terminal.literal("\x1bcarol again")  # ONE write: Esc and the letters together
    screen = terminal.wait_screen(lambda s: "carol again" in input_row(s), "the letters typed")
    assert input_row(screen).rstrip() == "> carol again", screen
    assert "bob · online" in header(screen)  # and Esc closed the page
    terminal.keys("C-u")
    terminal.wait_screen(lambda s: input_row(s).rstrip() == ">", "the input cleared")

    # Ours: Alt+2 and Alt+1 switch, Alt+A looks for news, Alt+Enter starts a new line.
    terminal.keys("M-2")
    terminal.wait_screen(lambda s: "hike" in header(s), "Alt+2 to the group")
    terminal.keys("M-1")
    terminal.wait_screen(lambda s: "bob · online" in header(s), "Alt+1 back to bob")
    terminal.keys("M-a")
    terminal.wait_screen(lambda s: "nothing unread" in s, "Alt+A")
    terminal.literal("two")
    terminal.keys("M-Enter")
    terminal.literal("lines")
    terminal.wait_screen(lambda s: "> two" in s and "lines" in s and "> lines" not in s,
                         "a new line from Alt+Enter")
    assert [m["text"] for m in alice.log_json("bob") if m["own"]] == []
    assert bob.log_json("alice") == []
    # B13: the question names the draft; a second Ctrl-C is no answer, and says so plainly.
    terminal.keys("C-c")
    terminal.wait_screen(lambda s: "You have unsent text for bob. Quit anyway? y/n" in s,
                         "the question, naming the draft")
    terminal.keys("C-c")
    terminal.wait_screen(lambda s: "not quitting, nothing done: your unsent text is kept" in s,
                         "no question a second time")
    terminal.keys("C-c")
    terminal.wait_screen(lambda s: "Quit anyway? y/n" in s, "asked again")
    terminal.keys("y", "Enter")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_tab_gives_a_name_its_space_and_group_actions_complete_what_they_take(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """21: `/msg b`+Tab then typing gave `/msg bobhi`; `/group accept c`+Tab offered nothing
    for a pending invitation; `/group invite `+Tab offered groups too."""
    alice, bob = pair
    bob.cli("group", "create", "climbing", check=True)
    bob.cli("group", "invite", "climbing", "alice", check=True)
    wait_for(lambda: any(g["role"] == "invited" for g in alice.json("group", "list")), 20,
             "alice's invitation")
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    terminal.wait_screen(lambda s: "climbing" in s, "the invitation in the list")
    # B11: the invitation's log, which does not exist yet, stopped the load: "(loading)".
    terminal.wait_screen(lambda s: "No messages with bob yet." in s, "bob's history read")
    assert "no contact named" not in terminal.screen()

    terminal.literal("/msg b")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: input_row(s).rstrip() == "> /msg bob", "the name")
    terminal.literal("hi")  # after the space the completion put there
    terminal.wait_screen(lambda s: input_row(s).rstrip() == "> /msg bob hi", "its space")
    terminal.keys("Enter")
    wait_for(lambda: [m["text"] for m in bob.log_json("alice")] == ["hi"], 20, "bob to get it")

    terminal.literal("/group accept c")
    terminal.keys("Tab")
    terminal.wait_screen(lambda s: input_row(s).rstrip() == "> /group accept climbing",
                         "the pending invitation completed")
    terminal.keys("Enter")
    terminal.wait_screen(lambda s: "you joined climbing" in s, "accepted")

    terminal.line("/msg climbing")
    terminal.wait_screen(lambda s: "climbing" in header(s), "the group open")
    # (/group invite + Tab offers contacts not yet members, never groups: bob is a member
    # here now, so that is tests/tui/test_groups_ui.py's, trial 6 B16.)
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_attaching_names_every_typed_option(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """11: `chat --no-mdns --listen 127.0.0.1:0` on a running node said "--no-mdns did
    nothing" and nothing of --listen (which the node follows): each typed option is named."""
    from tests.tui.test_tmux import chat_argv

    alice, _bob = pair
    exit_file = tmp_path / "exit"
    terminal.start(chat_argv(alice.home, "--listen", "127.0.0.1:0", "--relay",
                             "127.0.0.1:9"), exit_file)
    screen = terminal.wait_screen(lambda s: "did nothing" in s, "the options told")
    flat = " ".join(row.split("│", 1)[-1].strip() for row in screen.splitlines())
    # One sentence, with the pid to stop (trial 2, B10).
    pid = alice.json("status")["pid"]
    # --listen 127.0.0.1:0 asked for a fresh port: not taken either (trial 5, 11)
    assert f"Your node was already running (pid {pid}), so --listen --relay did nothing" \
        f" (it listens on {alice.addr}); it keeps --no-mdns as it runs. To change that: quit," \
        " 'p2pchat stop' with your --home" \
        in flat, flat
    assert "'p2pchat settings' keeps options for every start)." in flat, flat  # all shown
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_a_request_answered_from_the_cli_leaves_no_notice_and_the_contacts_page_follows(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """18: "carol asks to connect" stayed after she was added from the CLI; an open Contacts
    page showed carol as she was when it opened (online after /block, blocked after
    /unblock)."""
    alice, _bob = pair
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        exit_file = open_on_bob(terminal, alice.home, tmp_path)
        carol.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                  alice.addr, check=True)
        terminal.wait_screen(lambda s: "carol (" in s and "asks to connect" in s,
                             "the request's notice")
        terminal.line("/contacts")
        terminal.wait_screen(lambda s: "Contacts" in header(s) and "[request]" in s,
                             "the page with the request")
        alice.cli("contacts", "add", carol.fingerprint, "--name", "carol", check=True)

        def carol_row(screen: str) -> str:
            """carol's line on the page, with the row it wraps onto."""
            rows = [r.split("│", 1)[-1] for r in screen.splitlines()]
            at = next((i for i, r in enumerate(rows) if r.strip().startswith("carol ")), None)
            if at is None:
                return ""
            more = rows[at + 1] if at + 1 < len(rows) and rows[at + 1].startswith("    ") \
                else ""
            return rows[at] + more
        screen = terminal.wait_screen(lambda s: "online" in carol_row(s)
                                      and "[request]" not in s, "the page following the add")
        assert "asks to connect" not in screen, screen
        terminal.line("/block carol")
        terminal.wait_screen(lambda s: "y/n" in s, "the question")
        terminal.keys("y", "Enter")
        terminal.wait_screen(lambda s: "[blocked]" in carol_row(s)
                             and "offline" in carol_row(s), "the page following the block")
        terminal.line("/unblock carol")
        terminal.wait_screen(lambda s: "unblocked carol" in s and carol_row(s)
                             and "[blocked]" not in carol_row(s),
                             "the page following the unblock")
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        carol.close()
