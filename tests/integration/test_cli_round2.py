"""The CLI habits a newcomer hit (issue 23), through the real command in real processes."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from tests.cli import cli_env, run
from tests.nodes import NodeProcess

pytestmark = pytest.mark.timeout(120)


def test_contacts_and_group_without_an_action_list(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        alice.cli("contacts", "add", Identity.generate().fingerprint, "--name", "bob",
                  check=True)
        alice.cli("group", "create", "climbing", check=True)
        listed = alice.cli("contacts")
        assert listed.returncode == 0 and "bob" in listed.stdout, listed
        assert listed.stdout == alice.cli("contacts", "list").stdout
        groups = alice.cli("group")
        assert groups.returncode == 0 and "climbing" in groups.stdout, groups
    finally:
        alice.close()
    offline = run(alice.home, "contacts")  # no node: read from the store, as `list` does
    assert offline.returncode == 0 and "bob" in offline.stdout, offline


def test_a_closed_pipe_ends_every_command_quietly(tmp_path: Path) -> None:
    home = tmp_path / "a"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    for args in (["id", "--qr"], ["--help"], ["contacts"]):
        argv = shlex.join([sys.executable, "-m", "p2pchat", "--home", str(home), *args])
        proc = subprocess.run(["sh", "-c", f"{argv} | head -1"], capture_output=True,
                              text=True, timeout=30, env=cli_env())
        assert proc.returncode == 0, proc
        assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_a_printed_hint_with_a_spaced_name_can_be_pasted(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    carol = NodeProcess(tmp_path / "carol", "Alice Liddell").start()
    try:
        carol.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
                  check=True)
        from tests.nodes import wait_for
        listed = wait_for(lambda: (out := alice.cli("contacts").stdout)
                          and "asks to connect" in out and out, 20, "carol's request")
        hint = listed.split("(p2pchat ")[1].split(")\n")[0]
        assert hint == "contacts accept 'Alice Liddell'", listed
        accepted = alice.cli(*shlex.split(hint))
        assert accepted.returncode == 0, accepted
    finally:
        alice.close()
        carol.close()


def test_a_new_nick_reaches_a_linked_contact_at_once(tmp_path: Path) -> None:
    from tests.nodes import wait_for
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        said = alice.cli("nick", "Ada L", check=True).stdout
        assert "the 1 linked now see it at once, other contacts" in said, said

        def their_name() -> object:
            links = bob.json("peers")["links"]
            return [link["their_name"] for link in links if link["name"] == "alice"]
        wait_for(lambda: their_name() == ["Ada L"], 5, "bob's node to know the new name")
        # What bob calls her is his choice: unchanged.
        assert [c["name"] for c in bob.json("contacts", "list")] == ["alice"]
    finally:
        alice.close()
        bob.close()


def _node_with_settings(home: Path) -> subprocess.Popen[str]:
    """`p2pchat node` with no options typed: the home's settings decide."""
    return subprocess.Popen([sys.executable, "-m", "p2pchat", "--home", str(home), "node"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, env=cli_env(),
                            start_new_session=True)


def test_settings_are_kept_in_the_home_and_the_port_across_restarts(tmp_path: Path) -> None:
    import json
    import os
    import signal

    from tests.cli import assert_clean_failure
    from tests.nodes import wait_for

    home = tmp_path / "a"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    assert "No settings kept" in run(home, "settings").stdout
    run(home, "settings", "listen", "127.0.0.1:0", check=True)  # port 0: a free one, kept
    run(home, "settings", "mdns", "off", check=True)
    assert json.loads(run(home, "settings", "--json").stdout) == {
        "listen": ["127.0.0.1:0"], "mdns": False}
    assert_clean_failure(run(home, "settings", "mdns", "maybe"))
    assert_clean_failure(run(home, "settings", "relay", "nowhere"))

    ports = []
    for _ in range(2):
        node = _node_with_settings(home)
        try:
            status = wait_for(lambda: (p := run(home, "status", "--json")).returncode == 0
                              and json.loads(p.stdout), 20, "the node")
            assert status["mdns"] is False
            ports.append(status["listen"][0])
        finally:
            os.killpg(node.pid, signal.SIGTERM)
            node.wait(timeout=15)
    assert ports[0] == ports[1] and ports[0].startswith("127.0.0.1:"), ports
    run(home, "settings", "mdns", "--unset", check=True)
    assert json.loads(run(home, "settings", "--json").stdout) == {"listen": ["127.0.0.1:0"]}



def test_network_list_needs_no_passphrase_while_the_node_runs(tmp_path: Path) -> None:
    import json
    import os
    import signal

    from tests.nodes import wait_for

    home = tmp_path / "sealed"
    secret = {"P2PCHAT_PASSPHRASE": "correct horse"}
    run(home, "init", "--name", "alice", env=secret, check=True)
    node = subprocess.Popen(
        [sys.executable, "-m", "p2pchat", "--home", str(home), "node", "--no-mdns", "--listen",
         "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=cli_env(secret), start_new_session=True)
    try:
        wait_for(lambda: run(home, "status").returncode == 0, 20, "the node")
        # no discovery on this node: a join without --via is refused (trial1 B8), unasked
        no_via = run(home, "network", "join", "lab",
                     env=secret | {"P2PCHAT_NETWORK_PASSPHRASE": "owl"})
        assert no_via.returncode == 1 and "--via HOST:PORT" in no_via.stderr
        from p2pchat.control_client import ControlClient

        with ControlClient(home) as client:  # the node's own join still waits, warned
            assert client.call("network.join", name="lab", passphrase="owl")["warnings"]
        created = json.loads(run(home, "network", "create", "club", "--json", check=True,
                                 env=secret).stdout)
        assert created["network"] == "club"
        listed = run(home, "network", "list")  # no passphrase anywhere, and no terminal
        assert listed.returncode == 0, listed
        view = json.loads(run(home, "network", "list", "--json").stdout)
        code = view["check_codes"]["club"]
        assert list(view["check_codes"]) == ["club"]  # none for a network still waiting
        assert f"club  check code {code}" in listed.stdout and "lab (waiting" in listed.stdout
    finally:
        os.killpg(node.pid, signal.SIGTERM)
        node.wait(timeout=15)
    # With no node, the names are read from the file's clear list; states and check codes are
    # sealed: --unlock asks for the passphrase, by its name.
    proc = run(home, "network", "list")
    assert proc.returncode == 0 and proc.stdout.splitlines()[:2] == ["lab", "club"], proc
    proc = run(home, "network", "list", "--unlock")
    assert proc.returncode == 1 and "passphrase" in proc.stderr


def test_a_new_key_under_a_verified_contact_s_name_is_flagged(tmp_path: Path) -> None:
    from tests.faults import EventLog
    from tests.nodes import wait_for
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    events = EventLog(alice.home)
    try:
        mutual(alice, bob, "alice", "bob")
        alice.cli("contacts", "verify", "bob", check=True)
        assert [c["verified"] for c in alice.json("contacts", "list")] == [True]
        assert "verified" in alice.cli("contacts").stdout
        impostor.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                     alice.addr, check=True)
        request = wait_for(lambda: events.of("contact_request"), 20, "the request")[0][1]
        assert request["same_name_as"] == bob.fingerprint
        assert request["same_name_verified"] is True
        alice.cli("contacts", "verify", "bob", "--undo", check=True)
        assert [c["verified"] for c in alice.json("contacts", "list")
                if c["name"] == "bob"] == [False]
    finally:
        events.close()
        for node in (alice, bob, impostor):
            node.close()


def test_a_removed_contact_s_kept_history_is_readable(tmp_path: Path) -> None:
    from tests.nodes import wait_for
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        alice.cli("send", "bob", "before the removal", check=True)
        wait_for(lambda: bob.log_json("alice"), 20, "the message")
        said = alice.cli("contacts", "remove", "bob", check=True).stdout
        assert f"'p2pchat log {bob.fingerprint}' shows it" in said, said
        kept = alice.cli("log", bob.fingerprint, check=True).stdout  # through the node
        assert "before the removal" in kept
    finally:
        alice.close()
        bob.close()
    offline = run(alice.home, "log", bob.fingerprint)  # and from the store alone
    assert offline.returncode == 0 and "before the removal" in offline.stdout, offline
