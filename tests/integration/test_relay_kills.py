"""Repeated kill -9 of the relay and of either node while both nodes send through it (their only
path): every acknowledged message arrives, once, in order, on both sides."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2pchat.control_client import ControlClient
from tests.nodes import NodeProcess, wait_for
from tests.relay_client import RelayProcess

pytestmark = pytest.mark.timeout(300)

MakeNode = Callable[[str], NodeProcess]


class Sender(threading.Thread):
    """Sends `prefix 0`, `prefix 1`, ... to `to` as fast as the node takes them (a little
    spaced), through the control socket. A send the node answered is acknowledged (committed);
    a send cut by a kill is not, and is never repeated (it may or may not have been stored)."""

    def __init__(self, node: NodeProcess, to: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self.node, self.to, self.prefix = node, to, prefix
        self.acknowledged: list[tuple[int, str]] = []  # (index, message id)
        self.cut = 0
        self.done = threading.Event()

    def run(self) -> None:
        index = 0
        while not self.done.is_set():  # bounded by done: the test sets it
            if self.node.proc is None:
                time.sleep(0.05)  # bounded: the node is being restarted
                continue
            try:
                with ControlClient(self.node.home) as client:
                    while not self.done.is_set():
                        text = f"{self.prefix} {index}"
                        result = client.call("send", to=self.to, text=text)
                        self.acknowledged.append((index, str(result["id"])))
                        index += 1
                        time.sleep(0.01)  # bounded: about a hundred a second at most
            except Exception:  # the node was killed under us: that send is not acknowledged
                self.cut += 1
                index += 1
                time.sleep(0.05)  # bounded: retry once the node is back


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    made = [RelayProcess(tmp_path / "relay").start()]
    yield made
    for process in made:
        process.close()


def received(node: NodeProcess, who: str, author: NodeProcess) -> list[dict[str, object]]:
    return [m for m in node.log_json(who) if m["author"] == author.fingerprint]


def test_kill_9_of_relay_and_nodes_while_both_send_loses_doubles_and_reorders_nothing(
        make_node: MakeNode, relay: list[RelayProcess]) -> None:
    port = relay[0].port
    arg = f"127.0.0.1:{port}#{relay[0].status['fingerprint']}"
    alice, bob = make_node("alice"), make_node("bob")
    for node in (alice, bob):
        node.start("--relay", arg)  # no address, no mDNS: the relay is the only path
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", check=True)
    senders = Sender(alice, "bob", "from alice"), Sender(bob, "alice", "from bob")
    for sender in senders:
        sender.start()
    victims = ["relay", "alice", "relay", "bob", "relay", "alice", "bob", "relay"]
    try:
        for victim in victims:
            time.sleep(1.5)  # bounded: both keep sending between the kills
            if victim == "relay":
                relay[-1].close()  # SIGKILL
                time.sleep(0.3)  # bounded: messages queue while it is away
                relay.append(RelayProcess(relay[0].home).start("--listen", f"127.0.0.1:{port}"))
            else:
                node = alice if victim == "alice" else bob
                node.kill()
                node.start("--relay", arg)
        time.sleep(1.5)  # bounded: a last stretch of sending after the last restart
    finally:
        for sender in senders:
            sender.done.set()
        for sender in senders:
            sender.join(timeout=20)
    total = sum(len(s.acknowledged) for s in senders)
    assert total > 500 and all(s.cut >= 1 for s in senders), \
        (total, [s.cut for s in senders])

    for reader, writer, sender, who in ((bob, alice, senders[0], "alice"),
                                        (alice, bob, senders[1], "bob")):
        acked_ids = {message_id for _, message_id in sender.acknowledged}

        def arrived(reader: NodeProcess = reader, writer: NodeProcess = writer,
                    who: str = who, acked_ids: set[str] = acked_ids) -> bool:
            return acked_ids <= {str(m["id"]) for m in received(reader, who, writer)}

        wait_for(arrived, 90, f"every acknowledged message from {who}")
        log = received(reader, who, writer)
        ids = [str(m["id"]) for m in log]
        assert len(ids) == len(set(ids)), "a message was shown twice"
        assert [m["seq"] for m in log] == list(range(1, len(log) + 1)), "a gap or a reorder"
        indices = [int(str(m["text"]).rsplit(" ", 1)[1]) for m in log]
        assert indices == sorted(set(indices)), "out of order or doubled"
        # Only sends a kill cut short may be missing or present; every acknowledged one is in.
        acked_indices = {index for index, _ in sender.acknowledged}
        assert acked_indices <= set(indices)
