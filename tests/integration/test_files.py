"""Files between real node processes on 127.0.0.1, driven through the CLI (issue 27)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_direct_chat import befriend, linked
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(180)

MakeNode = Callable[[str], NodeProcess]


def make_file(path: Path, size: int, seed: bytes = b"x") -> Path:
    """`size` bytes that differ from chunk to chunk (so a misplaced chunk shows)."""
    with path.open("wb") as out:
        block = 0
        while size > 0:
            data = hashlib.blake2b(seed + block.to_bytes(8, "big"), digest_size=64).digest()
            piece = (data * 1024)[: min(size, 64 * 1024)]
            out.write(piece)
            size -= len(piece)
            block += 1
    return path


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def transfers(node: NodeProcess) -> list[dict[str, Any]]:
    return json.loads(node.cli("file", "list", "--json", check=True).stdout)


def one(node: NodeProcess, state: str | None = None) -> dict[str, Any] | None:
    got = transfers(node)
    if got and (state is None or got[0]["state"] == state):
        return got[0]
    return None


def pair(make_node: MakeNode, *extra: str) -> tuple[NodeProcess, NodeProcess]:
    alice = make_node("alice").start()
    bob = make_node("bob").start(*extra)
    befriend(alice, bob)
    wait_for(lambda: linked(alice, bob), 10, "the link")
    return alice, bob


def test_a_file_arrives_byte_for_byte_where_file_list_says(make_node: MakeNode,
                                                          tmp_path: Path) -> None:
    alice, bob = pair(make_node)
    src = make_file(tmp_path / "talk slides.pdf", 20 * 1024 * 1024 + 1234)  # 20 MB and a bit
    sent = json.loads(alice.cli("file", "send", "bob", str(src), "--no-wait", "--json",
                                check=True).stdout)
    assert [t["state"] for t in sent] == ["offered"] and sent[0]["size"] == src.stat().st_size
    got = wait_for(lambda: one(bob, "done"), 30, "bob to receive the file")
    assert Path(got["path"]) == bob.home / "downloads" / "talk slides.pdf"
    assert digest(Path(got["path"])) == digest(src)
    assert got["received"] == got["size"] and got["resumed_from"] == 0
    assert got["id"] == sent[0]["id"] and got["direction"] == "in"
    wait_for(lambda: one(alice, "done"), 10, "alice to hear it arrived")
    # nothing else is left in the downloads folder (the partial file was renamed)
    assert sorted(p.name for p in (bob.home / "downloads").iterdir()) == ["talk slides.pdf"]
    # the same name again gets " (1)"
    alice.cli("file", "send", "bob", str(src), "--no-wait", check=True)
    wait_for(lambda: len([t for t in transfers(bob) if t["state"] == "done"]) == 2, 30,
             "the second copy")
    assert (bob.home / "downloads" / "talk slides (1).pdf").read_bytes() == src.read_bytes()


def test_file_list_reads_the_store_when_no_node_runs(make_node: MakeNode,
                                                     tmp_path: Path) -> None:
    alice, bob = pair(make_node)
    src = make_file(tmp_path / "notes.txt", 300_000)
    alice.cli("file", "send", "bob", str(src), "--no-wait", check=True)
    got = wait_for(lambda: one(bob, "done"), 30, "bob to receive the file")
    bob.stop()
    assert transfers(bob) == [got]  # the same view, from the store
    shown = bob.cli("file", "list", check=True).stdout
    assert "notes.txt" in shown and "done" in shown and "alice" in shown


def test_a_big_file_waits_for_accept_and_decline_tells_the_sender(make_node: MakeNode,
                                                                  tmp_path: Path) -> None:
    alice, bob = pair(make_node, "--auto-accept-size", "100K")
    src = make_file(tmp_path / "video.mp4", 300 * 1024)
    alice.cli("file", "send", "bob", str(src), "--no-wait", check=True)
    offer = wait_for(lambda: one(bob, "offered"), 10, "the offer")
    assert not (bob.home / "downloads").exists() or not any((bob.home / "downloads").iterdir())
    bob.cli("file", "accept", offer["id"][:8], check=True)
    got = wait_for(lambda: one(bob, "done"), 30, "the accepted file")
    assert digest(Path(got["path"])) == digest(src)
    alice.cli("file", "send", "bob", str(src), "--no-wait", check=True)
    second = wait_for(lambda: [t for t in transfers(bob) if t["state"] == "offered"], 10,
                      "the second offer")[0]
    bob.cli("file", "decline", second["id"], check=True)
    wait_for(lambda: any(t["state"] == "declined" for t in transfers(alice)), 10,
             "alice to see the decline")


def test_file_send_waits_and_reports_done(make_node: MakeNode, tmp_path: Path) -> None:
    alice, bob = pair(make_node)
    src = make_file(tmp_path / "notes.txt", 1000)
    proc = alice.cli("file", "send", "bob", str(src), "--wait", "--json", check=True)
    assert [t["state"] for t in json.loads(proc.stdout)] == ["done"]
    assert (bob.home / "downloads" / "notes.txt").read_bytes() == src.read_bytes()


def test_file_errors_are_one_clean_line(make_node: MakeNode, tmp_path: Path) -> None:
    alice, _bob = pair(make_node)
    proc = alice.cli("file", "send", "bob", str(tmp_path / "missing"))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "cannot read" in proc.stderr
    proc = alice.cli("file", "send", "nobody", str(make_file(tmp_path / "a", 10)))
    assert proc.returncode == 1 and "no contact named" in proc.stderr
    proc = alice.cli("file", "accept", "abcdef")
    assert proc.returncode == 1 and "no transfer" in proc.stderr


def test_received_names_are_made_safe(make_node: MakeNode, tmp_path: Path) -> None:
    alice, bob = pair(make_node)
    evil = make_file(tmp_path / "..\u202egnp.exe", 100)
    alice.cli("file", "send", "bob", str(evil), "--no-wait", check=True)
    got = wait_for(lambda: one(bob, "done"), 30, "the file")
    assert got["name"] == "gnp.exe" and Path(got["path"]).parent == bob.home / "downloads"
    assert "\u202e" not in got["path"]


def test_a_killed_receiver_resumes_and_the_file_is_whole(make_node: MakeNode,
                                                         tmp_path: Path) -> None:
    alice, bob = pair(make_node, "--auto-accept-size", "1G")
    src = make_file(tmp_path / "big.bin", 80 * 1024 * 1024)
    alice.cli("file", "send", "bob", str(src), "--no-wait", check=True)

    def midway() -> bool:
        got = one(bob)
        return got is not None and 10 * 1024 * 1024 < got["received"] < 60 * 1024 * 1024

    wait_for(midway, 60, "bob to be part way", interval=0.01)
    bob.kill()
    bob.start("--auto-accept-size", "1G")
    got = wait_for(lambda: one(bob, "done"), 120, "the resumed transfer")
    assert got["resumed_from"] > 0
    assert digest(Path(got["path"])) == digest(src)


def test_a_file_crosses_a_relay_between_relay_only_nodes(make_node: MakeNode,
                                                         tmp_path: Path) -> None:
    from tests.integration.test_relay_nodes import contacts, link_to, relay_arg
    from tests.relay_client import RelayProcess

    relay = RelayProcess(tmp_path / "relay").start()
    try:
        a, b = make_node("alice"), make_node("bob")
        a.start("--relay", relay_arg(relay))
        b.start("--relay", relay_arg(relay))
        contacts(a, b)  # by fingerprint only: the relay is their one path
        wait_for(lambda: link_to(a, b), 20, "the link through the relay")
        src = make_file(tmp_path / "photo.jpg", 2 * 1024 * 1024 + 17)
        a.cli("file", "send", "bob", str(src), "--no-wait", check=True)
        got = wait_for(lambda: one(b, "done"), 60, "the file through the relay")
        assert digest(Path(got["path"])) == digest(src)
        link = link_to(a, b)
        assert link is not None and link["path"] == "relay"
    finally:
        relay.close()


def test_a_file_sent_to_a_group_reaches_a_member(make_node: MakeNode, tmp_path: Path) -> None:
    alice, bob = pair(make_node)
    group = json.loads(alice.cli("group", "create", "climbing", "--json",
                                 check=True).stdout)["group"]
    alice.cli("group", "invite", "climbing", "bob", check=True)
    wait_for(lambda: any(g["role"] == "invited" for g in bob.json("group", "list")), 20,
             "bob's invitation")
    bob.cli("group", "accept", group, check=True)  # invitations wait for consent
    wait_for(lambda: any(g["role"] == "member" and g["has_key"]
                         for g in bob.json("group", "list")), 20, "bob to join")
    src = make_file(tmp_path / "route.png", 700 * 1024)
    sent = json.loads(alice.cli("file", "send", "climbing", str(src), "--no-wait", "--json",
                                check=True).stdout)
    assert sent[0]["group"] == bob.json("group", "list")[0]["group"]
    got = wait_for(lambda: one(bob, "done"), 30, "bob to receive the group's file")
    assert digest(Path(got["path"])) == digest(src) and got["group"] == sent[0]["group"]
    # the offer is a group message: it shows in the group's log
    assert any("route.png" in m["text"] for m in bob.log_json("climbing"))


def test_a_killed_sender_resumes_after_its_restart(make_node: MakeNode, tmp_path: Path) -> None:
    alice, bob = pair(make_node, "--auto-accept-size", "1G")
    src = make_file(tmp_path / "big.bin", 60 * 1024 * 1024)
    alice.cli("file", "send", "bob", str(src), "--no-wait", check=True)

    def midway() -> bool:
        got = one(bob)
        return got is not None and 5 * 1024 * 1024 < got["received"] < 50 * 1024 * 1024

    wait_for(midway, 60, "bob to be part way", interval=0.01)
    alice.kill()
    alice.start()
    got = wait_for(lambda: one(bob, "done"), 120, "the transfer after the sender's restart")
    assert got["resumed_from"] > 0
    assert digest(Path(got["path"])) == digest(src)
    wait_for(lambda: one(alice, "done"), 20, "alice to hear it arrived")


def test_a_transfer_goes_on_when_a_direct_link_replaces_the_relay(make_node: MakeNode,
                                                                  tmp_path: Path) -> None:
    from tests.integration.test_relay_nodes import contacts, link_to, relay_arg
    from tests.relay_client import RelayProcess

    relay = RelayProcess(tmp_path / "relay").start()  # its default rate: 4 MiB/s a client
    try:
        a, b = make_node("alice"), make_node("bob")
        a.start("--relay", relay_arg(relay))
        b.start("--relay", relay_arg(relay), "--auto-accept-size", "1G")
        contacts(a, b)
        wait_for(lambda: link_to(a, b), 20, "the link through the relay")
        src = make_file(tmp_path / "big.bin", 24 * 1024 * 1024)
        a.cli("file", "send", "bob", str(src), "--no-wait", check=True)
        wait_for(lambda: (one(b) or {}).get("received", 0) > 2 * 1024 * 1024, 30,
                 "part of it through the relay")
        a.cli("contacts", "addr", "bob", b.addr, check=True)  # now a direct path
        wait_for(lambda: (link_to(a, b) or {}).get("path") == "direct", 20, "the direct link")
        got = wait_for(lambda: one(b, "done"), 60, "the rest over the direct link")
        assert got["resumed_from"] > 0  # it went on from what it had, on the new link
        assert digest(Path(got["path"])) == digest(src)
    finally:
        relay.close()
