"""What a newcomer's third trial of the CLI hit (issue 23, round 2), through the real command
in real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import assert_clean_failure, run

pytestmark = pytest.mark.timeout(120)


def test_the_mdns_interface_setting_takes_what_the_flag_takes(tmp_path: Path) -> None:
    home = tmp_path / "a"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    run(home, "settings", "mdns-interface", "127.0.0.1", check=True)  # as --mdns-interface
    assert json.loads(run(home, "settings", "--json").stdout) == {
        "mdns-interface": ["127.0.0.1"]}
    failed = run(home, "settings", "mdns-interface", "192.0.2.1:53")  # refused, as the flag does
    assert_clean_failure(failed)
    assert "no port" in failed.stderr
    assert json.loads(run(home, "settings", "--json").stdout) == {
        "mdns-interface": ["127.0.0.1"]}


def _stranger(tmp_path: Path, name: str) -> str:
    """The fingerprint of a new identity (no node runs for it)."""
    from tests.cli import run_json

    home = tmp_path / name
    run(home, "init", "--name", name, "--no-passphrase", check=True)
    return str(run_json(home, "id")["fingerprint"])


def test_adding_a_blocked_key_is_refused_not_an_unblock(tmp_path: Path) -> None:
    from tests.nodes import NodeProcess

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        dave = _stranger(tmp_path, "dave")
        alice.cli("contacts", "add", dave, "--name", "dave", check=True)
        alice.cli("contacts", "block", "dave", check=True)
        again = alice.cli("contacts", "add", dave, "--name", "dave2")
        assert_clean_failure(again)
        assert "you blocked this key (as dave): unblock it first" in again.stderr, again.stderr
        assert [(c["name"], c["state"]) for c in alice.json("contacts", "list")] == [
            ("dave", "blocked")]
    finally:
        alice.close()


def test_the_block_hint_after_a_removal_works_when_pasted(tmp_path: Path) -> None:
    import shlex

    from tests.nodes import NodeProcess

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        dave = _stranger(tmp_path, "dave")
        alice.cli("contacts", "add", dave, "--name", "dave", check=True)
        said = alice.cli("contacts", "remove", "dave", check=True).stdout
        hint = said.split("'p2pchat contacts block ")[1].split("'")[0]
        assert hint == dave, said
        alice.cli(*shlex.split(f"contacts block {hint}"), check=True)
        assert [(c["fingerprint"], c["state"]) for c in alice.json("contacts", "list")] == [
            (dave, "blocked")]
    finally:
        alice.close()


def test_log_shows_an_action_as_the_chat_screen_does(tmp_path: Path) -> None:
    from tests.nodes import NodeProcess
    from tests.tui.test_tmux import mutual

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        alice.cli("send", "bob", "/me waves", check=True)  # what /me sends
        alice.cli("send", "bob", "plain words", check=True)
        shown = alice.cli("log", "bob", check=True).stdout
        assert "* alice waves" in shown and "/me" not in shown, shown
        assert "alice: plain words" in shown
        found = alice.cli("search", "bob", "waves", check=True).stdout
        assert "* alice waves" in found, found
    finally:
        alice.close()
        bob.close()


def test_id_shows_the_reachable_address_while_a_node_runs(tmp_path: Path) -> None:
    from tests.cli import run_json
    from tests.nodes import NodeProcess

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        shown = alice.cli("id", check=True).stdout
        assert f"Reachable:   {alice.addr}" in shown, shown
        assert run_json(alice.home, "id")["reachable"] == [alice.addr]
    finally:
        alice.close()
    stopped = run(alice.home, "id", check=True).stdout
    assert "Reachable" not in stopped


def test_status_says_a_typed_relay_was_given_not_from_config(tmp_path: Path) -> None:
    from tests.nodes import NodeProcess

    alice = NodeProcess(tmp_path / "alice", "alice").start("--relay", "127.0.0.1:9")
    try:
        shown = alice.cli("status", check=True).stdout
        relay = [line for line in shown.splitlines() if line.startswith("relay: 127.0.0.1:9")]
        assert relay and "given with --relay" in relay[0], shown
        assert "from config" not in shown
    finally:
        alice.close()


def test_share_app_on_loopback_warns_and_its_page_offers_only_what_it_serves(
        tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    from tests.cli import cli_env
    from tests.integration.test_share_install import read_until

    proc = subprocess.Popen(
        [sys.executable, "-m", "p2pchat", "--home", str(tmp_path / "sharer"), "share-app",
         "--listen", "127.0.0.1:0", "--no-mdns"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=cli_env(), stdin=subprocess.DEVNULL)
    try:
        said = read_until(proc, r"(?s)Sharing p2pchat \S+ on 127\.0\.0\.1:(\d+).*stop with Ctrl-C")
        assert "opens only on this machine" in said.group(0), said.group(0)
        url = f"http://127.0.0.1:{said.group(1)}/"
        with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
            page = response.read().decode()
        assert sys.platform == "linux"  # this share holds linux wheels alone (nothing prepared)
        assert "PowerShell" not in page and "Command Prompt" not in page, page
        assert "<h2>Linux (in a terminal)</h2>" in page
        assert page.index("This share can install p2pchat on") < page.index("python3 -m venv")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
