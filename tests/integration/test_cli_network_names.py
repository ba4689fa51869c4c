"""`p2pchat network list` with no node running: the names need no passphrase (issue 23.14)."""

import json
from pathlib import Path

import pytest

from tests.cli import assert_clean_failure, run, run_json

PW = {"P2PCHAT_PASSPHRASE": "open sesame"}
NET_PW = {"P2PCHAT_NETWORK_PASSPHRASE": "a long passphrase for the lab"}


def _home_in_two_networks(tmp_path: Path) -> tuple[Path, str]:
    """A passphrase-protected home in "club" (created: a member) and "lab" (joined: waiting);
    no node runs. Returns the home and club's passphrase."""
    home = tmp_path / "alice"
    run(home, "init", "--name", "alice", env=PW, check=True)
    created = json.loads(run(home, "network", "create", "club", "--json", env=PW,
                             check=True).stdout)
    run(home, "network", "join", "lab", env=PW | NET_PW, check=True)
    return home, created["passphrase"]


def test_list_reads_the_names_without_a_passphrase(tmp_path: Path) -> None:
    home, club_passphrase = _home_in_two_networks(tmp_path)
    # No $P2PCHAT_PASSPHRASE (tests.cli drops every P2PCHAT_ variable), nothing on stdin.
    listed = run(home, "network", "list")
    assert listed.returncode == 0, listed
    assert listed.stdout.splitlines()[:2] == ["club", "lab"]
    assert "node not running" in listed.stdout and "--unlock" in listed.stdout
    assert "passphrase" not in listed.stderr
    assert run_json(home, "network", "list") == {"names": ["club", "lab"], "unlocked": False,
                                                 "node_running": False}
    # Nothing secret in the clear: the network passphrases and keys stay sealed.
    text = (home / "networks.json").read_text()
    assert club_passphrase not in text and NET_PW["P2PCHAT_NETWORK_PASSPHRASE"] not in text
    relay_key = run(home, "network", "relay-key", "club", env=PW, check=True).stdout
    assert relay_key.split()[-1] not in text
    # --unlock asks for the identity's passphrase and shows states and check codes.
    assert_clean_failure(run(home, "network", "list", "--unlock"))
    unlocked = run(home, "network", "list", "--unlock", env=PW, check=True).stdout
    assert "club  check code " in unlocked and "lab (waiting" in unlocked
    run(home, "network", "leave", "club", env=PW, check=True)
    run(home, "network", "leave", "lab", env=PW, check=True)
    assert run(home, "network", "list", check=True).stdout == "In no network.\n"


@pytest.mark.parametrize("names", [
    "club", [1], ["Club"], ["x" * 33], ["a" * 10_000], [f"n{i}" for i in range(9)],
    ["../etc"], [["club"]], ["club", "club"], None, {"club": 1},
])
def test_a_tampered_names_list_is_a_clear_error(tmp_path: Path, names: object) -> None:
    home, _ = _home_in_two_networks(tmp_path)
    path = home / "networks.json"
    record = json.loads(path.read_text())
    record["names"] = names
    path.write_text(json.dumps(record))
    proc = run(home, "network", "list")
    assert_clean_failure(proc)
    assert "networks.json is damaged" in proc.stderr, proc.stderr


@pytest.mark.parametrize("content", [
    b"[" * 50_000 + b"]" * 10_000, b"\xff\xfe{", b'"just a string"', b"[]", b"{}",
    b'{"format": "p2pchat-networks", "version": 3, "names": []' + b" " * 70_000 + b"}",
])
def test_a_damaged_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    home, _ = _home_in_two_networks(tmp_path)
    (home / "networks.json").write_bytes(content)
    proc = run(home, "network", "list")
    assert_clean_failure(proc)
    assert "networks.json is" in proc.stderr, proc.stderr


def test_an_older_file_is_unlocked_once_then_listed_without_a_passphrase(
        tmp_path: Path) -> None:
    home, _ = _home_in_two_networks(tmp_path)
    path = home / "networks.json"
    record = json.loads(path.read_text())
    del record["names"]
    record["version"] = 2  # as every p2pchat before this one wrote it
    path.write_text(json.dumps(record))
    # Its names are sealed: it says so, and asks for the passphrase as before.
    locked = run(home, "network", "list")
    assert_clean_failure(locked)
    assert "older p2pchat" in locked.stderr and "P2PCHAT_PASSPHRASE" in locked.stderr
    unlocked = run(home, "network", "list", env=PW)
    assert unlocked.returncode == 0, unlocked
    assert "club  check code " in unlocked.stdout and "lab (waiting" in unlocked.stdout
    # ...and rewrote it with the names in the clear: the next list needs no passphrase.
    assert json.loads(path.read_text())["names"] == ["club", "lab"]
    assert run(home, "network", "list", check=True).stdout.splitlines()[:2] == ["club", "lab"]
