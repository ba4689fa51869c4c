"""Trial 4 (issue 23, node and CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli import assert_clean_failure, cli_env
from tests.nodes import NodeProcess, wait_for


def test_an_unblocked_impostor_request_is_a_request_again_and_the_cli_warns(
    tmp_path: Path,
) -> None:
    """B1: a request under a verified contact's name, blocked then unblocked, had become a
    contact (its messages flowed, no accept). B2: the CLI listed and accepted it unwarned."""
    from tests.faults import EventLog
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    events = EventLog(alice.home)
    try:
        mutual(alice, bob, "alice", "bob")
        alice.cli("contacts", "verify", "bob", check=True)
        impostor.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                     alice.addr, check=True)
        request = wait_for(lambda: events.of("contact_request"), 20, "the request")[0][1]
        name = request["name"]
        assert name == f"bob ({impostor.fingerprint[:7]})"
        listed = alice.cli("contacts", check=True).stdout
        assert "WARNING: a NEW KEY under the name of bob, whom you VERIFIED" in listed, listed
        alice.cli("contacts", "block", name, check=True)
        unblocked = alice.json("contacts", "unblock", name)
        assert unblocked["state"] == "request", unblocked  # was "contact"
        assert unblocked["same_name_verified"] is True
        assert "WARNING: a NEW KEY" in alice.cli("contacts", check=True).stdout
        impostor.cli("send", "alice", "hi alice it's bob (really)", check=True)
        # Refused without --anyway, saying why and how to compare; nothing accepted.
        refused = alice.cli("contacts", "accept", name)
        assert_clean_failure(refused)
        assert "NEW KEY" in refused.stderr and "p2pchat safety" in refused.stderr
        assert "--anyway" in refused.stderr
        typed = impostor.fingerprint.replace("-", " ").lower()  # the key typed another way
        other_way = alice.cli("contacts", "accept", typed)
        assert_clean_failure(other_way)
        assert "NEW KEY" in other_way.stderr, other_way.stderr
        assert [c["state"] for c in alice.json("contacts", "list")
                if c["fingerprint"] == impostor.fingerprint] == ["request"]
        assert alice.log_json(impostor.fingerprint) == []  # nothing of theirs was taken
        accepted = alice.cli("contacts", "accept", name, "--anyway", check=True).stdout
        assert f"Accepted {name}" in accepted
        texts = wait_for(lambda: [m["text"] for m in alice.log_json(impostor.fingerprint)],
                         20, "the waiting message, once accepted")
        assert texts == ["hi alice it's bob (really)"]
    finally:
        events.close()
        for node in (alice, bob, impostor):
            node.close()


def _start_node(node: NodeProcess, *args: str) -> dict[str, Any]:
    """`p2pchat node ARGS` as typed (NodeProcess.start always adds --listen); its status."""
    argv = [sys.executable, "-m", "p2pchat", "--home", str(node.home), "node", *args]
    with node.log_path.open("a") as log:
        node.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, env=cli_env(),
                                     start_new_session=True)
    status: dict[str, Any] = wait_for(node._status, 20, "the node to start")
    return status


def _port(status: dict[str, Any]) -> int:
    return int(status["listen"][0].rsplit(":", 1)[1])


def test_the_port_of_a_listen_any_port_run_is_kept_and_a_change_is_said(
    tmp_path: Path,
) -> None:
    """Point 16 / B12: a run with `--listen 127.0.0.1:0` kept nothing, so the next start
    without --listen came up on a new port (friends' typed address broke)."""
    alice = NodeProcess(tmp_path / "alice", "alice")
    try:
        first = _port(_start_node(alice, "--listen", "127.0.0.1:0", "--no-mdns"))
        assert alice.stop() == 0
        # No --listen typed: the home's listen setting (loopback here, any port) applies, and
        # the port is last time's.
        alice.cli("settings", "listen", "127.0.0.1:0", check=True)
        again = _start_node(alice, "--no-mdns")
        assert _port(again) == first, again
        assert again["port_changed_from"] is None
        assert "a new port" not in alice.cli("status", check=True).stdout
        assert alice.stop() == 0
        with socket.socket() as taken:  # someone else has it now: a new port, and it is said
            taken.bind(("127.0.0.1", first))
            taken.listen()
            moved = _start_node(alice, "--no-mdns")
            assert _port(moved) != first and moved["port_changed_from"] == first
            said = alice.cli("status", check=True).stdout
            assert f"a new port: {first} (last time's) was taken" in said, said
            assert f"a new port: {first} (last time's) was taken" in alice.log_path.read_text()
    finally:
        alice.close()


def test_a_join_via_a_member_from_the_chat_s_call_and_a_waiting_join_says_closed(
    tmp_path: Path,
) -> None:
    """B3: the node's join takes `via` (what the chat's `/network join NAME --via HOST:PORT`
    calls), admitted at once; a join still waiting closes the node to strangers, which
    `status` now says, with how many were refused (B4)."""
    import json

    from p2pchat.control_client import ControlClient, ControlError

    carol = NodeProcess(tmp_path / "carol", "carol").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    erin = NodeProcess(tmp_path / "erin", "erin").start()
    try:
        made = json.loads(carol.cli("network", "create", "club", "--json", "--no-qr",
                                    check=True).stdout)
        with ControlClient(bob.home) as client:
            try:
                client.call("network.join", name="club", passphrase="wrong words here",
                            via=carol.addr)
                raise AssertionError("a wrong passphrase was admitted")
            except ControlError as exc:
                assert "not admitted by" in str(exc) and "nothing was joined" in str(exc)
            joined = client.call("network.join", name="club", passphrase=made["passphrase"],
                                 via=carol.addr)
        assert joined["networks"] == ["club"] and joined["waiting"] == []
        assert joined["check_codes"]["club"] == carol.json("network", "list")[
            "check_codes"]["club"]
        # erin waits for a network nobody admits her to: closed to strangers, and it says so.
        with ControlClient(erin.home) as client:
            client.call("network.join", name="lab", passphrase="owl kite moss fern")
        status = erin.json("status")
        assert status["closed_to_strangers"] == ["lab"] and status["strangers_refused"] == 0
        bob.cli("contacts", "add", erin.fingerprint, "--name", "erin", "--addr", erin.addr,
                check=True)
        wait_for(lambda: erin.json("status")["strangers_refused"] > 0, 20,
                 "bob's request refused")
        said = erin.cli("status", check=True).stdout
        assert "closed to strangers until admitted to lab" in said, said
        assert "strangers refused: " in said
        assert erin.json("contacts", "list") == []  # the request never came in
    finally:
        for node in (carol, bob, erin):
            node.close()


def test_p2pchat_stop_stops_a_background_node_and_says_when_none_runs(tmp_path: Path) -> None:
    """B15: there was no command to stop a background node; the chat said "'kill PID'"."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        pid = alice.json("status")["pid"]
        said = alice.cli("stop", check=True).stdout
        assert f"Stopped the node (pid {pid})" in said, said
        assert alice.proc is not None and alice.proc.wait(timeout=5) == 0  # a clean exit
        none = alice.cli("stop")
        assert none.returncode == 0 and "No node is running" in none.stdout, none
        assert alice.cli("status").returncode == 1
    finally:
        alice.close()


def test_group_words_count_others_and_mark_a_name_only_when_a_contact_shares_it(
    tmp_path: Path,
) -> None:
    """B17: "2 other online"; `p2pchat send '#climbing' TEXT` though no contact is called so."""
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        mutual(alice, bob, "alice", "bob")
        mutual(alice, carol, "alice", "carol")
        mutual(bob, carol, "bob", "carol")
        for title in ("carol", "hike"):
            group = alice.json("group", "create", title)["group"]
            for who, node in (("bob", bob), (carol.fingerprint, carol)):
                alice.cli("group", "invite", "#" + title, who, check=True)
                wait_for(lambda n=node, g=group: any(  # type: ignore[misc]
                    x["group"] == g and x["role"] == "invited"
                    for x in n.json("group", "list", "--json")), 20, "the invitation")
                said = node.cli("group", "accept", group, check=True).stdout
                if title == "hike" and node is bob:
                    assert "p2pchat send hike TEXT" in said, said  # no contact called hike
                if title == "carol" and node is bob:  # bob has a contact carol
                    assert "p2pchat send '#carol' TEXT" in said, said
        wait_for(lambda: all(g["online"] == 2 for g in alice.json("group", "list", "--json")),
                 20, "both members online")
        listed = alice.cli("group", check=True).stdout
        assert "2 others online" in listed and "other online" not in listed, listed
    finally:
        for node in (alice, bob, carol):
            node.close()


def test_a_wrong_passphrase_fails_where_the_key_is_unlocked_and_nick_needs_none(
    tmp_path: Path,
) -> None:
    """B21: `P2PCHAT_PASSPHRASE=x p2pchat nick bob` worked: nick needs no key (README now
    lists the commands that do); one that unlocks the key refuses a wrong passphrase."""
    from tests.cli import run

    home = tmp_path / "mallory"
    secret = {"P2PCHAT_PASSPHRASE": "the right one, long enough"}
    run(home, "init", "--name", "mallory", env=secret, check=True)
    wrong = {"P2PCHAT_PASSPHRASE": "x"}
    renamed = run(home, "nick", "bob", env=wrong)  # no node: the clear header only
    assert renamed.returncode == 0 and "You are now bob" in renamed.stdout
    unlocked = run(home, "log", "nobody", env=wrong)  # sealed messages: the key is needed
    assert_clean_failure(unlocked)
    assert "passphrase" in unlocked.stderr
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "needs no passphrase" in readme and "`nick`" in readme


def test_search_text_alone_searches_every_conversation_and_who_text_one(
    tmp_path: Path,
) -> None:
    """Point 25: `p2pchat search ping` was a usage error ("text" required): the CLI could not
    search everything, as the chat's /search does."""
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        mutual(alice, bob, "alice", "bob")
        mutual(alice, carol, "alice", "carol")
        bob.cli("send", "alice", "ping from bob", check=True)
        carol.cli("send", "alice", "PING from carol", check=True)
        group = alice.json("group", "create", "hike")["group"]
        alice.cli("send", group, "a ping to nobody yet", check=True)
        wait_for(lambda: alice.log_json("bob") and alice.log_json("carol"), 20, "both messages")
        found = alice.cli("search", "ping", check=True).stdout
        assert "[bob] bob: ping from bob" in found, found
        assert "[carol] carol: PING from carol" in found
        assert "[#hike] alice: a ping to nobody yet" in found
        one = alice.cli("search", "carol", "ping", check=True).stdout  # as before: WHO TEXT
        assert "carol: PING from carol" in one and "bob" not in one
        none = alice.cli("search", "pong", check=True)
        assert "Nothing in 3 conversations contains 'pong'." in none.stderr, none.stderr
        assert_clean_failure(alice.cli("search", "ping", "from", "bob"))  # say: quote it
        alice.stop()  # with no node: the store, the key unlocked once
        offline = alice.cli("search", "ping", check=True).stdout
        assert "[bob] bob: ping from bob" in offline and "[carol]" in offline
    finally:
        for node in (alice, bob, carol):
            node.close()


def test_a_stranger_refused_by_a_node_in_a_network_is_told_why_and_counted(
    tmp_path: Path,
) -> None:
    """B4: erin (not a member) asked alice (in a network): erin saw alice "offline" and
    nothing else, alice saw nothing. Now erin's `contacts` says why, and alice's `status`
    counts the refused strangers."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    erin = NodeProcess(tmp_path / "erin", "erin").start()
    try:
        alice.cli("network", "create", "club", "--no-qr", check=True)
        erin.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
                 check=True)
        wait_for(lambda: erin.json("contacts", "list")[0].get("unanswered"), 20,
                 "erin's dial closed unanswered")
        said = erin.cli("contacts", check=True).stdout
        # The chat's words (trial 13c, B3): one wording for one state
        assert "alice's node closes the connection unanswered: they may be in a closed" \
            " network, or not have you as a contact (not yet, removed or blocked)" in said, said
        status = alice.json("status")
        assert status["closed_to_strangers"] == ["club"] and status["strangers_refused"] > 0
        told = alice.cli("status", check=True).stdout
        assert "closed to strangers: only contacts and members of club reach you" in told
        assert alice.json("contacts", "list") == []
        alice.cli("network", "leave", "club", check=True)  # open again: the request comes in
        # In no network now: the count is said as of before (trial 13c, B12)
        told = alice.cli("status", check=True).stdout
        assert "strangers refused while you were in a network: " in told, told
        assert "(in a network, or waiting" not in told and "closed to strangers" not in told
        wait_for(lambda: alice.json("contacts", "list"), 30, "erin's request")
        wait_for(lambda: not erin.json("contacts", "list")[0].get("unanswered"), 20,
                 "the note gone once answered")
    finally:
        alice.close()
        erin.close()


def test_a_stranger_refused_through_a_relay_is_told_why(tmp_path: Path) -> None:
    """B4 as the trial had it: erin reaches alice only through a relay, while alice is in a
    network; her refused stream is dropped without a word, so erin's handshake times out."""
    from tests.integration.test_relay_nodes import relay_arg
    from tests.relay_client import RelayProcess

    relay = RelayProcess(tmp_path / "relay").start()
    alice = NodeProcess(tmp_path / "alice", "alice")
    erin = NodeProcess(tmp_path / "erin", "erin")
    try:
        alice.start("--relay", relay_arg(relay))
        erin.start("--relay", relay_arg(relay))
        alice.cli("network", "create", "club", "--no-qr", check=True)
        erin.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
        wait_for(lambda: erin.json("contacts", "list")[0].get("unanswered"), 60,
                 "erin's relayed handshake unanswered")
        assert "they may be in a closed network" in erin.cli("contacts", check=True).stdout
        assert alice.json("status")["strangers_refused"] > 0
        said = erin.cli("status", check=True).stdout  # "links: 0" next to "1 link(s)" was read
        assert "link(s)" not in said and "open through it (links up or being set up)" in said
    finally:
        alice.close()
        erin.close()
        relay.close()
