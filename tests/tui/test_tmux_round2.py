"""The chat screen's second round (issue 23) in a real terminal (tmux), attached to real
nodes: what a newcomer hit, gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import TMUX, Terminal, chat_argv, exited, header, mutual

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_attached_screen_says_what_it_ignores_where_it_is_and_that_the_node_stays(
    tmp_path: Path, terminal: Terminal,
) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home, "--relay", "127.0.0.1:9"), exit_file)
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
        terminal.wait_screen(lambda s: "--relay did nothing" in s,
                             "the options a running node did not take")

        terminal.line("/id")
        terminal.wait_screen(lambda s: f"reachable at {alice.addr}" in s, "the address")

        # Numbers in the list; a second conversation; Alt+A to the one with news.
        terminal.line(f"/add {Identity.generate().fingerprint} carol")
        terminal.wait_screen(lambda s: "carol · asked" in header(s), "carol open")
        terminal.wait_screen(lambda s: " 1 ● bob" in s and " 2 ○ carol" in s,
                             "numbered conversations")
        bob.cli("send", "alice", "news for you", check=True)
        terminal.wait_screen(lambda s: " 1 ● bob (1)" in s, "bob's unread count, in place")
        terminal.keys("M-a")
        terminal.wait_screen(lambda s: "bob · online" in header(s) and "news for you" in s,
                             "Alt+A to bob")

        terminal.keys("C-c")  # attached, no draft: leaves at once, and says the node stays
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
        said = (tmp_path / "exit.err").read_text()
        pid = alice.json("status")["pid"]
        assert f"Your node is still running (pid {pid}): you stay online" in said, said
        assert f"'p2pchat --home {alice.home} stop' stops it" in said
    finally:
        alice.close()
        bob.close()


def test_the_header_and_peers_say_when_a_link_goes_via_a_relay(
    tmp_path: Path, terminal: Terminal, make_node: Callable[[str], NodeProcess],
) -> None:
    from tests.relay_client import RelayProcess

    relay = RelayProcess(tmp_path / "relay").start()
    try:
        via = f"127.0.0.1:{relay.port}#{relay.status['fingerprint']}"
        alice, bob = make_node("alice"), make_node("bob")
        alice.start("--relay", via)
        bob.start("--relay", via)
        # Fingerprints only, no addresses, no mDNS: the relay is their one path.
        alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
        bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: f"bob · online via relay 127.0.0.1:{relay.port}"
                             in header(s), "the relay in the header", timeout=40)
        terminal.line("/peers")
        terminal.wait_screen(lambda s: "link: bob contact" in s
                             and f"via relay 127.0.0.1:{relay.port}" in s, "/peers")
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        relay.close()



def test_search_covers_every_conversation_marks_and_jumps(
    tmp_path: Path, terminal: Terminal,
) -> None:
    import re

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        mutual(alice, bob, "alice", "bob")
        mutual(alice, carol, "alice", "carol")
        bob.cli("send", "alice", "the picnic is at noon", check=True)
        later = "".join(f"line {n}\n" for n in range(60))  # pushes it off the first screen
        carol.cli("send", "alice", "--lines", input="a picnic basket from carol\n" + later,
                  check=True)
        wait_for(lambda: len(alice.log_json("carol")) == 61, 20, "carol's messages")
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: " · online" in header(s), "a conversation open")
        terminal.line("/msg bob")
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
        terminal.line("/search PICNIC")
        screen = terminal.wait_screen(lambda s: "2 matches for 'PICNIC'" in header(s),
                                      "results from every conversation")
        assert "1. [bob]" in screen and "2. [carol]" in screen  # the open one first
        terminal.line("/jump 2")
        screen = terminal.wait_screen(lambda s: "carol · online" in header(s)
                                      and "carol: a picnic basket from carol" in s,
                                      "the jump to an old message")
        assert "line 59" not in screen  # scrolled up to it, not at the end
        styled = terminal.tmux("capture-pane", "-p", "-e", "-t", "chat")
        assert re.search(r"\x1b\[[0-9;]*7[0-9;]*m(\x1b\[[0-9;]*m)*picnic", styled), styled
        terminal.keys("Escape")  # the marks go
        terminal.wait_screen(lambda s: not re.search(
            r"\x1b\[[0-9;]*7[0-9;]*m(\x1b\[[0-9;]*m)*picnic",
            terminal.tmux("capture-pane", "-p", "-e", "-t", "chat")), "the marks gone")
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        for node in (alice, bob, carol):
            node.close()


def test_a_newcomers_second_trial(tmp_path: Path, terminal: Terminal) -> None:
    """Points of issue 23 a person meets on the screen, one after another, as they typed them."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        bob.cli("send", "alice", "hello from bob", check=True)
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: "bob: hello from bob" in s, "bob's message")

        # 19: no question for a name that does not exist.
        terminal.line("/block nobody")
        screen = terminal.wait_screen(lambda s: "no contact named 'nobody'" in s, "the error")
        assert "y/n" not in screen
        # 20: a rename reaches the past messages.
        terminal.line("/rename bob Robert")
        terminal.wait_screen(lambda s: "Robert: hello from bob" in s
                             and "bob: hello from bob" not in s, "the old message renamed")
        # 21: Tab after "/group " offers the actions.
        terminal.literal("/group ")
        terminal.keys("Tab")
        terminal.wait_screen(lambda s: "create" in s and "invite" in s and "members" in s,
                             "the actions offered")
        terminal.keys("Escape")
        terminal.keys("C-u")
        # 29: /me shows as an action, here and in bob's log as typed.
        terminal.line("/me waves")
        terminal.wait_screen(lambda s: "* alice waves" in s, "the action")
        wait_for(lambda: [m["text"] for m in bob.log_json("alice") if not m["own"]]
                 == ["/me waves"], 20,
                 "bob to get it")
        # 4: a network made from the CLI shows in the status line.
        alice.cli("network", "create", "club", "--no-qr", check=True)
        terminal.wait_screen(lambda s: "network club" in s or "net club" in s,
                             "the status line following the CLI")
        # 31: a long paste is counted, then offered in parts.
        terminal.tmux("set-buffer", "-b", "long", "x" * 13000)
        terminal.tmux("paste-buffer", "-b", "long", "-t", "chat")
        terminal.wait_screen(lambda s: "13000/16384 bytes" in s, "the counter")
        terminal.keys("C-c")
        terminal.wait_screen(lambda s: "unsent text" in s, "the question")
        terminal.keys("y", "Enter")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        alice.close()
        bob.close()


def test_after_its_node_restarts_the_screen_shows_what_the_node_has(
    tmp_path: Path, terminal: Terminal,
) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob online")
        alice.stop()
        terminal.wait_screen(lambda s: "node stopped: reconnecting" in s, "the node gone")
        alice.start()  # same port; the link to bob is back before the screen reconnects
        wait_for(lambda: any(c["online"] for c in alice.json("contacts", "list")), 20,
                 "the node's link to bob")
        terminal.wait_screen(lambda s: "reconnected to the node" in s
                             and "bob · online" in header(s), "bob online on the screen",
                             timeout=10)
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        alice.close()
        bob.close()
