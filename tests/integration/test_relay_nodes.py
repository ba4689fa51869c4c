"""Real `p2pchat node` processes that reach each other only through a real `p2pchat relay`.

127.0.0.1 with mDNS off: nodes on one host could reach each other directly, so they are given no
way to find each other (contacts by fingerprint, no address) and the relay is their only path.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2pchat.control_client import ControlClient
from p2pchat.core.identity import parse_fingerprint, x25519_from_ed25519_public
from tests.nodes import NodeProcess, wait_for
from tests.relay_client import RelayProcess

pytestmark = pytest.mark.timeout(180)

MakeNode = Callable[[str], NodeProcess]
SECRET_AB = "the owl flies at dawn: alpha-bravo-5521"
SECRET_BA = "understood, bring the lantern: bravo-alpha-8830"


class Pipe:
    """A TCP forwarder on 127.0.0.1 to `target`, in threads. It keeps every byte it passes
    (`seen`); while `open` is False it takes connections and closes them at once (a path that
    does not work yet)."""

    def __init__(self, target: int, *, open: bool = True) -> None:
        self.target = target
        self.open = open
        self.seen = bytearray()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.5)
        self.port: int = self._server.getsockname()[1]
        self._closed = threading.Event()
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():  # bounded by close(): the accept times out
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            self._socks += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._copy, args=(src, dst), daemon=True).start()

    def _copy(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):  # ends with the connection
                with self._lock:
                    self.seen += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        for sock in self._socks:
            sock.close()


@pytest.fixture
def pipes() -> Iterator[Callable[..., Pipe]]:
    made: list[Pipe] = []

    def make(target: int, **kwargs: bool) -> Pipe:
        made.append(Pipe(target, **kwargs))
        return made[-1]

    yield make
    for pipe in made:
        pipe.close()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay").start()
    yield process
    process.close()


def relay_arg(relay: RelayProcess, port: int | None = None) -> str:
    return f"127.0.0.1:{port or relay.port}#{relay.status['fingerprint']}"


def contacts(a: NodeProcess, b: NodeProcess, *, b_addr: str | None = None) -> None:
    """Mutual contacts by fingerprint only (or with one address for b)."""
    extra = ["--addr", b_addr] if b_addr else []
    a.cli("contacts", "add", b.fingerprint, "--name", b.name, *extra, check=True)
    b.cli("contacts", "add", a.fingerprint, "--name", a.name, check=True)


def texts(node: NodeProcess, who: str, *, by: NodeProcess | None = None) -> list[str]:
    """The conversation with `who` as `node` shows it (only `by`'s messages when given)."""
    return [m["text"] for m in node.log_json(who)
            if by is None or m["author"] == by.fingerprint]


def link_to(node: NodeProcess, other: NodeProcess) -> dict[str, object] | None:
    return next((p for p in node.json("peers")["links"]
                 if p["fingerprint"] == other.fingerprint and p["state"] == "contact"), None)


def send(node: NodeProcess, to: str, text: str) -> str:
    with ControlClient(node.home) as client:
        return str(client.call("send", to=to, text=text)["id"])


def test_two_nodes_chat_through_a_relay_that_learns_nothing(
        make_node: MakeNode, relay: RelayProcess, pipes: Callable[..., Pipe]) -> None:
    recorder = pipes(relay.port)
    a, b = make_node("alice"), make_node("bob")
    a.start("--relay", relay_arg(relay, recorder.port))
    b.start("--relay", relay_arg(relay))
    contacts(a, b)
    wait_for(lambda: all(r["state"] == "attached" for n in (a, b)
                         for r in n.json("status")["relays"]), 10, "both nodes to attach")

    send(a, "bob", SECRET_AB)
    wait_for(lambda: texts(b, "alice") == [SECRET_AB], 10, "a's message in b's log")
    send(b, "alice", SECRET_BA)
    wait_for(lambda: texts(a, "bob") == [SECRET_AB, SECRET_BA], 10, "b's reply")
    wait_for(lambda: a.log_json("bob")[0]["status"] == "delivered", 10, "the receipt")

    link = link_to(a, b)
    assert link is not None and link["path"] == "relay"
    assert link["relay"] == relay_arg(relay, recorder.port)
    status = b.json("status")
    assert [(r["state"], r["found_by"], r["links"]) for r in status["relays"]] == \
        [("attached", "config", 1)]
    human = b.cli("peers", check=True).stdout
    assert "via relay 127.0.0.1:" in human
    assert "relay: 127.0.0.1:" in b.cli("status", check=True).stdout

    # Random bytes on the relay's port leave it forwarding.
    for junk in (os.urandom(3000), b"\x00\x05hello", b"GET / HTTP/1.0\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as sock:
            sock.sendall(junk)
    send(a, "bob", "still there?")
    wait_for(lambda: texts(b, "alice")[-1:] == ["still there?"], 10, "a message after junk")

    seen = bytes(recorder.seen)
    assert len(seen) > 1000  # the recorder really carried a's traffic
    for secret in (SECRET_AB.encode(), SECRET_BA.encode(), b"still there?"):
        assert secret not in seen
    for node in (a, b):
        key = parse_fingerprint(node.fingerprint)
        assert key not in seen and x25519_from_ed25519_public(key) not in seen
    assert relay.stop() == 0
    output = relay.output()
    for secret in (SECRET_AB, SECRET_BA, "still there?"):
        assert secret not in output


def test_a_relay_killed_mid_conversation_and_restarted_loses_nothing(
        make_node: MakeNode, relay: RelayProcess) -> None:
    a, b = make_node("alice"), make_node("bob")
    port = relay.port
    a.start("--relay", relay_arg(relay))
    b.start("--relay", relay_arg(relay))
    contacts(a, b)
    send(a, "bob", "before 0")
    wait_for(lambda: texts(b, "alice") == ["before 0"], 10, "the first message")

    relay.close()  # SIGKILL: no goodbye to anyone
    sent = [f"during {i}" for i in range(5)]
    for text in sent:
        send(a, "bob", text)
    send(b, "alice", "reply during")
    restarted = RelayProcess(relay.home).start("--listen", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: texts(b, "alice", by=a) == ["before 0", *sent], 30,
                 "every message, once")
        wait_for(lambda: texts(a, "bob", by=b) == ["reply during"], 30, "the reply")
        assert [m["seq"] for m in b.log_json("alice") if m["author"] == a.fingerprint] == \
            list(range(1, 7))
        wait_for(lambda: all(m["status"] == "delivered" for m in a.log_json("bob")
                             if m["own"]), 15, "receipts")
    finally:
        restarted.close()


def test_a_direct_link_that_appears_replaces_the_relayed_one(
        make_node: MakeNode, relay: RelayProcess, pipes: Callable[..., Pipe]) -> None:
    a, b = make_node("alice"), make_node("bob")
    b.start("--relay", relay_arg(relay))
    assert b.port is not None
    gate = pipes(b.port, open=False)  # b's address, unreachable for now
    a.start("--relay", relay_arg(relay))
    contacts(a, b, b_addr=f"127.0.0.1:{gate.port}")
    first = [f"relayed {i}" for i in range(10)]
    for text in first:
        send(a, "bob", text)
    wait_for(lambda: texts(b, "alice") == first, 15, "the messages through the relay")
    link = link_to(a, b)
    assert link is not None and link["path"] == "relay"

    gate.open = True  # the direct path appears; a's dialer still tries it now and then
    second = [f"switching {i}" for i in range(30)]
    for text in second:
        send(a, "bob", text)
    wait_for(lambda: (link_to(a, b) or {}).get("path") == "direct", 20, "the direct link")
    wait_for(lambda: (link_to(b, a) or {}).get("path") == "direct", 10, "b's side direct")
    third = ["direct 0"]
    send(a, "bob", third[0])
    wait_for(lambda: texts(b, "alice") == first + second + third, 20, "every message")
    log = b.log_json("alice")
    assert [m["seq"] for m in log] == list(range(1, len(log) + 1))
    assert len({m["id"] for m in log}) == len(log)
    assert gate.seen  # the direct link really went through the opened path
    wait_for(lambda: all(m["status"] == "delivered" for m in a.log_json("bob")), 15,
             "receipts")


def test_when_a_relay_vanishes_another_one_carries_the_link(
        make_node: MakeNode, relay: RelayProcess, tmp_path: Path) -> None:
    second = RelayProcess(tmp_path / "relay2").start()
    try:
        a, b = make_node("alice"), make_node("bob")
        for node in (a, b):
            node.start("--relay", relay_arg(relay), "--relay", relay_arg(second))
        contacts(a, b)
        send(a, "bob", "first")
        wait_for(lambda: texts(b, "alice") == ["first"], 10, "the first message")
        used = (link_to(a, b) or {}).get("relay")
        assert used in (relay_arg(relay), relay_arg(second))
        (relay if used == relay_arg(relay) else second).close()
        send(a, "bob", "second")
        wait_for(lambda: texts(b, "alice") == ["first", "second"], 15, "a message after")
        now = (link_to(a, b) or {}).get("relay")
        assert now is not None and now != used
        states = sorted(r["state"] for r in a.json("status")["relays"])
        assert states == ["attached", "waiting"] or states == ["attached", "connecting"]
    finally:
        second.close()
