"""Direct chat between real node processes on 127.0.0.1, driven through the CLI."""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from p2pchat.control_client import ControlClient, ControlError
from tests.cli import assert_clean_failure
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)

MakeNode = Callable[[str], NodeProcess]


def befriend(a: NodeProcess, b: NodeProcess) -> None:
    """Mutual contacts with addresses, typed as a user would."""
    a.cli("contacts", "add", b.fingerprint, "--name", b.name, "--addr", b.addr, check=True)
    b.cli("contacts", "add", a.fingerprint, "--name", a.name, "--addr", a.addr, check=True)


def texts(node: NodeProcess, who: str) -> list[str]:
    return [m["text"] for m in node.log_json(who)]


def linked(node: NodeProcess, other: NodeProcess) -> bool:
    peers = node.json("peers")["links"]
    return any(p["fingerprint"] == other.fingerprint and p["state"] == "contact" for p in peers)


def test_message_arrives_and_is_delivered(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    sent = alice.cli("send", "bob", "hello bob", check=True).stdout.strip()
    got = wait_for(lambda: bob.log_json("alice"), 5, "bob to receive the message")
    assert [(m["text"], m["author"], m["author_name"]) for m in got] == [
        ("hello bob", alice.fingerprint, "alice")]
    assert got[0]["id"] == sent and got[0]["sent_at"].endswith("+00:00")
    wait_for(lambda: alice.log_json("bob")[0]["status"] == "delivered", 5, "delivery receipt")
    bob.cli("send", "alice", "hi alice", check=True)
    wait_for(lambda: texts(alice, "bob") == ["hello bob", "hi alice"], 5, "the reply")
    status = alice.json("status")
    assert status["fingerprint"] == alice.fingerprint and status["links"] == 1
    assert status["listen"] == [alice.addr]


def test_send_lines_sends_each_line_in_order_and_a_bad_one_sends_none_of_its_batch(
        make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    lines = [f"line {i}" for i in range(250)]
    typed = "\n".join(lines[:10]) + "\n\n   \n" + "\r\n".join(lines[10:]) + "\n"  # blanks skipped
    sent = alice.cli("send", "bob", "--lines", input=typed, check=True).stdout.split()
    mine = alice.log_json("bob")
    assert [m["text"] for m in mine] == lines and [m["id"] for m in mine] == sent
    wait_for(lambda: texts(bob, "alice") == lines, 15, "all 250 lines at bob, in order")

    # A line the protocol refuses (over 16 KiB) fails its batch as a whole, with a clean error
    # that says how many went before it; the batch before it stays sent.
    more = [f"more {i}" for i in range(100)] + ["ok", "x" * 20_000, "never"]
    failed = alice.cli("send", "bob", "--lines", input="\n".join(more))
    assert_clean_failure(failed)
    assert "100 messages were sent before this" in failed.stderr
    assert len(failed.stdout.split()) == 100
    assert texts(alice, "bob") == lines + more[:100]

    for wrong in ([], ["also text", "--lines"]):
        refused = alice.cli("send", "bob", *wrong)
        assert_clean_failure(refused)
        assert "give the message, or --lines" in refused.stderr


def test_send_dash_sends_standard_input_as_one_message(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    typed = "first line\nsecond line\n"
    sent = alice.cli("send", "bob", "-", input=typed, check=True).stdout.strip()
    [mine] = alice.log_json("bob")
    assert (mine["text"], mine["id"]) == ("first line\nsecond line", sent)
    wait_for(lambda: texts(bob, "alice") == ["first line\nsecond line"], 5, "the message at bob")
    for typed, says in (("\n\n", "nothing to send"),
                        ("x" * 20_000, "over the limit of 16384: --split"),
                        ("x" * 70_000, "--lines sends each line")):
        refused = alice.cli("send", "bob", "-", input=typed)
        assert_clean_failure(refused)
        assert says in refused.stderr
    assert texts(alice, "bob") == ["first line\nsecond line"]  # nothing of what was refused


def test_send_with_texts_is_one_call_all_or_none_and_bounded(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    with ControlClient(alice.home) as client:
        events = client.call("send", to="bob", texts=["one", "two", "three"])
        assert [e["text"] for e in events] == ["one", "two", "three"]
        assert [e["seq"] for e in events] == [1, 2, 3] and all(e["own"] for e in events)
        for texts_, code in ((["fine", " "], "bad_text"), ([], "bad_request"),
                             (["x"] * 101, "bad_request"), ("one", "bad_request"),
                             ([1, 2], "bad_request")):
            with pytest.raises(ControlError) as refused:
                client.call("send", to="bob", texts=texts_)
            assert refused.value.code == code
    assert texts(alice, "bob") == ["one", "two", "three"]  # nothing of a refused call
    wait_for(lambda: texts(bob, "alice") == ["one", "two", "three"], 15, "the three at bob")


def test_message_waits_for_a_receiver_that_is_down(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    wait_for(lambda: linked(alice, bob), 10, "the link")
    bob.stop()
    alice.cli("send", "bob", "while you were out", check=True)
    assert alice.log_json("bob")[0]["status"] in ("queued", "sent")
    bob.start()
    wait_for(lambda: texts(bob, "alice") == ["while you were out"], 15, "the queued message")
    wait_for(lambda: alice.log_json("bob")[0]["status"] == "delivered", 5, "delivery")


def test_fifty_messages_to_a_killed_receiver_arrive_once_in_order(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    wait_for(lambda: linked(alice, bob), 10, "the link")
    bob.kill()
    for i in range(50):
        alice.cli("send", "bob", f"message {i}", check=True)
    bob.start()
    expected = [f"message {i}" for i in range(50)]
    wait_for(lambda: texts(bob, "alice") == expected, 15, "all 50 messages in order")
    assert [m["seq"] for m in bob.log_json("alice")] == list(range(1, 51))


def _send_many(node: NodeProcess, to: str, count: int, prefix: str,
               kill_at: int, victim: NodeProcess) -> list[str]:
    """Send through the control API, like a bot, and SIGKILL `victim` right after the
    `kill_at`-th acknowledgement. Returns the ids the sending node acknowledged."""
    ids = []
    with ControlClient(node.home) as client:
        for i in range(count):
            try:
                ids.append(client.call("send", to=to, text=f"{prefix} {i}")["id"])
            except Exception:
                break  # the sender died under us: only acknowledged messages count
            if len(ids) == kill_at:
                victim.kill()
    return ids


@pytest.mark.parametrize("victim", ["receiver", "sender"])
def test_sigkill_with_messages_in_flight_loses_and_doubles_nothing(
        make_node: MakeNode, victim: str) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    wait_for(lambda: linked(alice, bob), 10, "the link")
    killed = bob if victim == "receiver" else alice
    acknowledged = _send_many(alice, "bob", 1000, "burst", kill_at=300, victim=killed)
    # The receiver dies with messages on the wire and 700 more queued behind it; the sender
    # dies with acknowledged messages not yet delivered.
    assert len(acknowledged) == (1000 if victim == "receiver" else 300)
    killed.start()
    wait_for(lambda: linked(alice, bob), 15, "the link after restart")

    def all_arrived() -> list[dict[str, object]] | None:
        log = bob.log_json("alice")
        got = {m["id"] for m in log}
        return log if set(acknowledged) <= got else None

    log = wait_for(all_arrived, 60, "every acknowledged message")
    ids = [m["id"] for m in log]
    assert len(ids) == len(set(ids)), "a message was shown twice"
    assert [m["seq"] for m in log] == list(range(1, len(log) + 1)), "order or a gap"
    assert [m["text"] for m in log] == [f"burst {i}" for i in range(len(log))]
    statuses = {m["status"] for m in alice.log_json("bob")}
    wait_for(lambda: {m["status"] for m in alice.log_json("bob")} == {"delivered"}, 15,
             f"every message marked delivered (now {statuses})")


def test_mistyped_fingerprint_is_refused(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob")
    typo = bob.fingerprint[:20] + ("A" if bob.fingerprint[20] != "A" else "B") + \
        bob.fingerprint[21:]
    proc = alice.cli("contacts", "add", typo, "--name", "bob")
    assert_clean_failure(proc)
    assert "mistyped" in proc.stderr
    assert alice.json("contacts", "list") == []


def test_a_contacts_address_is_changed_and_dialled_at_once(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    # Alice knows bob's key but not where he is (no mDNS here); bob does not know her at all.
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    again = alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr)
    assert_clean_failure(again)
    assert "contacts addr" in again.stderr  # says how to do what the user meant

    shown = alice.cli("contacts", "addr", "bob", bob.addr, check=True).stdout
    assert f"reached at {bob.addr}" in shown
    wait_for(lambda: linked(alice, bob), 10, "alice to dial bob's new address")
    assert alice.json("contacts", "list")[0]["addrs"] == [bob.addr]

    for bad in (["bob", "nowhere"], ["bob", *[f"127.0.0.1:{p}" for p in range(1, 10)]],
                ["carol", bob.addr]):
        proc = alice.cli("contacts", "addr", *bad)
        assert_clean_failure(proc)
    assert alice.json("contacts", "list")[0]["addrs"] == [bob.addr]  # a refusal changes nothing
    cleared = alice.json("contacts", "addr", "bob")
    assert cleared["addrs"] == [] and "discovery" in alice.cli(
        "contacts", "addr", "bob", check=True).stdout


def test_commands_without_a_node_say_how_to_start_one(make_node: MakeNode) -> None:
    alice = make_node("alice")
    for args in (["status"], ["send", "bob", "hi"], ["peers"]):
        proc = alice.cli(*args)
        assert_clean_failure(proc)
        assert "node" in proc.stderr and "start" in proc.stderr
    # Reading needs no node (issue #12): the store is read directly.
    assert "No contacts yet" in alice.cli("contacts", "list", check=True).stdout


def test_wrong_key_at_a_contacts_address_is_refused_loudly(make_node: MakeNode) -> None:
    alice, bob, mallory = make_node("alice").start(), make_node("bob"), make_node("mallory")
    mallory.start()
    # Alice believes bob is at mallory's address.
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", mallory.addr,
              check=True)
    wait_for(lambda: "presented key" in alice.log_path.read_text(), 10, "the warning")
    log = alice.log_path.read_text()
    assert "WARNING" in log and mallory.fingerprint in log
    assert alice.json("peers")["links"] == []
    alice.cli("send", "bob", "for bob only", check=True)
    assert all(p["fingerprint"] != alice.fingerprint for p in mallory.json("peers")["links"])
    assert mallory.json("contacts", "list") == []  # mallory never even learned who called


def _raw(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_garbage_on_the_port_leaves_the_node_serving(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    wait_for(lambda: linked(alice, bob), 10, "the link")
    assert bob.port is not None
    with _raw(bob.port) as s:  # random bytes
        s.sendall(os.urandom(4096))
    with _raw(bob.port) as s:  # a half handshake: a valid XX first message, then nothing
        s.sendall(struct.pack(">H", 33) + b"\x01" + os.urandom(32))
    with _raw(bob.port) as s:  # an oversize frame header
        s.sendall(b"\xff\xff" + os.urandom(1000))
    rss_before = _rss_kib(bob)
    flood = []
    try:
        for _ in range(1000):  # a thousand connections from one address, left open
            flood.append(_raw(bob.port))
        alice.cli("send", "bob", "still there?", check=True)
        wait_for(lambda: texts(bob, "alice") == ["still there?"], 10, "chat to carry on")
        rss_during = _rss_kib(bob)
    finally:
        for s in flood:
            s.close()
    log = bob.log_path.read_text()
    assert "too many handshakes from that address" in log
    assert bob.proc is not None and bob.proc.poll() is None
    assert json.loads(bob.cli("status", "--json").stdout)["links"] == 1
    assert rss_during - rss_before < 64 * 1024, (rss_before, rss_during)  # KiB


def _rss_kib(node: NodeProcess) -> int:
    assert node.proc is not None
    status = Path(f"/proc/{node.proc.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def test_home_stays_private_and_damage_gives_clean_errors(make_node: MakeNode) -> None:
    alice, bob = make_node("alice").start(), make_node("bob").start()
    befriend(alice, bob)
    alice.cli("send", "bob", "hi", check=True)
    wait_for(lambda: texts(bob, "alice") == ["hi"], 10, "the message")
    for node in (alice, bob):
        for path in [node.home, *node.home.iterdir()]:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    bob.stop()
    for path in bob.home.iterdir():
        if path.is_file():
            path.write_bytes(os.urandom(max(path.stat().st_size, 100)))
    for args in (["id"], ["node", "--listen", "127.0.0.1:0", "--no-mdns"]):
        assert_clean_failure(bob.cli(*args))
    alice.stop()
    (alice.home / "p2pchat.db").write_bytes(os.urandom(8192))
    for suffix in ("-wal", "-shm"):
        (alice.home / f"p2pchat.db{suffix}").unlink(missing_ok=True)
    proc = alice.cli("node", "--listen", "127.0.0.1:0", "--no-mdns")
    assert_clean_failure(proc)
    assert "message store" in proc.stderr
