"""The chat screen in a real terminal (tmux): what a newcomer's third trial hit (issue 23)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import (
    TMUX,
    Terminal,
    chat_argv,
    exited,
    header,
    open_on_bob,
)

pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(180)]


def test_the_block_hint_after_remove_is_a_command_that_works(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    bob.close()  # away, as the newcomer's dave was: no new request to answer by name
    terminal.wait_screen(lambda s: "bob · offline" in header(s),
                         "bob gone")
    terminal.line("/remove bob")
    terminal.wait_screen(lambda s: "Remove bob?" in s, "the question")  # trial 13c, B5
    terminal.keys("y", "Enter")
    screen = terminal.wait_screen(lambda s: "refuses them for good" in s, "the hint")
    # The notice rows right of the conversation list, joined back into one line.
    flat = " ".join(row.split("│", 1)[-1].strip() for row in screen.splitlines())
    assert "They can ask again: " in flat, screen
    hint = flat.split("They can ask again: ")[1].split(" refuses")[0]
    assert hint == f"/block {bob.fingerprint}", hint
    terminal.line(hint)
    terminal.wait_screen(lambda s: "y/n" in s, "the question")
    terminal.keys("y", "Enter")
    terminal.wait_screen(lambda s: "blocked " in s, "the block said")
    assert [(c["fingerprint"], c["state"]) for c in alice.json("contacts", "list")] == [
        (bob.fingerprint, "blocked")]
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_the_impostor_warning_stays_on_the_request_across_a_restart(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    """The warning was only a notice from the request's event: a screen (or node) started
    later showed a plain request. The request page itself carries it now."""
    alice, _bob = pair
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    try:
        alice.cli("contacts", "verify", "bob", check=True)
        impostor.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                     alice.addr, check=True)
        wait_for(lambda: any(c["state"] == "request" for c in alice.json("contacts", "list")),
                 20, "the request")
        exit_file = tmp_path / "exit"
        terminal.start(chat_argv(alice.home), exit_file)  # a screen that never saw the event
        terminal.wait_screen(lambda s: "bob · online" in header(s), "bob open")
        terminal.wait_screen(lambda s: "2 ! bob (" in s, "the request listed, after bob, marked")
        terminal.keys("M-2")  # numbered as it came: after bob (trial 14a, B16)
        screen = terminal.wait_screen(lambda s: "asks to connect" in header(s), "the request")
        flat = " ".join(row.split("│", 1)[-1].strip() for row in screen.splitlines())
        assert "WARNING: a NEW KEY under the name of bob, whom you VERIFIED" in flat, screen
        terminal.keys("C-c")
        assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"
    finally:
        impostor.close()


def test_a_second_screen_says_the_first_one_runs_the_node(tmp_path: Path) -> None:
    from tests.cli import run, run_json

    home = tmp_path / "alice"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    first, second = Terminal(), Terminal()
    try:
        first.start(chat_argv(home, "--listen", "127.0.0.1:0"), tmp_path / "exit1")
        first.wait_screen(lambda s: "alice" in s and ">" in s, "the first screen")
        status = wait_for(lambda: (p := run(home, "status", "--json")).returncode == 0
                          and p, 20, "the node in the first screen")
        screen_pid = run_json(home, "status")["pid"]
        assert status
        second.start(chat_argv(home), tmp_path / "exit2")
        second.wait_screen(lambda s: "node in another chat screen" in s, "the second screen")
        second.keys("C-c")
        assert wait_for(lambda: exited(tmp_path / "exit2"), 20, "the second to exit") == "0"
        said = (tmp_path / "exit2.err").read_text()
        assert f"Another chat screen (pid {screen_pid}) runs your node" in said, said
        assert "kill" not in said and "in the background" not in said
    finally:
        first.close()
        second.close()


def test_a_nick_renames_your_past_messages_and_your_group_membership_on_screen(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    alice, _bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    terminal.line("hello bob")
    terminal.wait_screen(lambda s: "alice: hello bob" in s, "the message")
    terminal.line("/group create club")
    terminal.wait_screen(lambda s: "club" in header(s), "the group open")
    terminal.line("/nick Ada")
    terminal.wait_screen(lambda s: "you are now Ada" in s, "the nick")
    terminal.line("/group members")
    screen = terminal.wait_screen(lambda s: "Members of club" in s, "the members")
    assert "Ada (you, owner)" in screen, screen
    assert "alice (owner)" not in screen
    terminal.keys("Escape")
    terminal.keys("M-1")
    screen = terminal.wait_screen(lambda s: "hello bob" in s and "bob · online" in header(s),
                                  "back to bob")
    assert "Ada: hello bob" in screen and "alice: hello bob" not in screen, screen
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_a_contact_added_from_the_cli_appears_on_the_open_screen(
    tmp_path: Path, terminal: Terminal, pair: tuple[NodeProcess, NodeProcess],
) -> None:
    from p2pchat.core.identity import Identity

    alice, _bob = pair
    exit_file = open_on_bob(terminal, alice.home, tmp_path)
    carol = Identity.generate().fingerprint
    alice.cli("contacts", "add", carol, "--name", "carol", check=True)
    terminal.wait_screen(lambda s: "○ carol" in s, "carol in the list, without a message")
    alice.cli("contacts", "remove", "carol", check=True)
    terminal.wait_screen(lambda s: "○ carol" not in s, "carol gone from the list")
    terminal.keys("C-c")
    assert wait_for(lambda: exited(exit_file), 20, "the chat to exit") == "0"


def test_network_join_asks_for_the_passphrase_once(tmp_path: Path, terminal: Terminal) -> None:
    """A typo is reported now (the network becomes "refused"), so no second prompt."""
    import sys

    from tests.cli import run

    home = tmp_path / "alice"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    exit_file = tmp_path / "exit"
    terminal.start([sys.executable, "-m", "p2pchat", "--home", str(home), "network", "join",
                    "club"], exit_file)
    terminal.wait_screen(lambda s: "Passphrase of network club:" in s, "the prompt")
    terminal.line("ocean-kettle-maple-drum-lynx-pearl")
    assert wait_for(lambda: exited(exit_file), 20, "the join to end") == "0"
    said = (tmp_path / "exit.err").read_text() + terminal.screen()
    assert "again" not in said.replace("asks again", ""), said
    assert "waiting" in run(home, "network", "list").stdout
