"""The control API (p2pchat/control.py, docs/api.md) over its real Unix socket, with a node in
this test's event loop and clients as a script would write them: raw lines, and ControlClient
in a thread of its own (it blocks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, BinaryIO

import pytest

from p2pchat.control import MAX_LINE, ControlServer, Lines
from p2pchat.control_client import ControlClient
from p2pchat.home import socket_path
from p2pchat.net.addresses import format_addr
from p2pchat.node import Node
from tests.aio import turns, until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def serving(node: Node) -> AsyncIterator[None]:
    control = ControlServer(node)
    await control.start()
    try:
        yield
    finally:
        await control.stop()


def ask(node: Node, *lines: bytes) -> list[dict[str, Any]]:
    """Send raw request lines on one connection; the replies, until the node closes or stops."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(socket_path(node.home)))
        sock.sendall(b"".join(lines))
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as replies:
            return [json.loads(line) for line in replies]


def codes(replies: list[dict[str, Any]]) -> list[str | None]:
    return [None if r.get("ok") else r["error"]["code"] for r in replies]


async def test_bad_lines_get_clean_errors_and_the_connection_goes_on(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    async with serving(alice):
        replies = await asyncio.to_thread(
            ask, alice,
            b"\xff\xfe not utf-8\n",  # was an "internal" error
            b"{not json\n",
            b"[1, 2]\n",
            b'{"id": 7, "method": "no.such"}\n',
            b'{"id": 8, "method": "status", "params": []}\n',
            b'{"id": 9, "method": "status"}\n')
    assert codes(replies) == ["bad_request", "bad_request", "bad_request", "unknown_method",
                              "bad_request", None]
    assert [r["id"] for r in replies] == [None, None, None, 7, 8, 9]
    assert replies[-1]["result"]["name"] == "alice"


async def test_an_over_long_line_is_refused_and_the_connection_closed(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    async with serving(alice):
        replies = await asyncio.to_thread(
            ask, alice, b'{"id": 1, "method": "status", "x": "' + b"x" * MAX_LINE + b'"}\n',
            b'{"id": 2, "method": "status"}\n')
    assert [(r["id"], r["error"]["code"]) for r in replies] == [(None, "bad_request")]


async def linked_pair(make_local_node: MakeLocalNode) -> tuple[Node, Node]:
    """alice and bob, contacts of each other, linked (alice dials bob)."""
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(alice.status()["fingerprint"], "alice", [])
    await alice.add_contact(bob.status()["fingerprint"], "bob",
                            [format_addr(bob.listen_addresses[0])])
    await until(lambda: alice.links.is_linked(bob.key), what="the link")
    return alice, bob


def next_text(events: Iterator[dict[str, Any]]) -> str:
    while True:
        event = next(events)
        if event["type"] == "message":
            return str(event["text"])


async def test_events_a_call_reads_are_kept_for_events(make_local_node: MakeLocalNode) -> None:
    """The bot of docs/api.md: one connection, subscribed, sending from its event loop."""
    alice, bob = await linked_pair(make_local_node)
    async with serving(alice):
        client = ControlClient(alice.home, timeout=10)
        events = client.events()
        first = asyncio.create_task(asyncio.to_thread(next_text, events))
        await until(lambda: alice.events.wanted, what="the subscription")
        await bob.send("alice", "zero")
        assert await asyncio.wait_for(first, 10) == "zero"

        def two_sends_then_events() -> list[str]:
            # The first send's event reaches the connection while the second call waits for
            # its reply; it used to be dropped there.
            client.call("send", to="bob", text="one")
            client.call("send", to="bob", text="two")
            return [next_text(events), next_text(events)]

        try:
            assert await asyncio.to_thread(two_sends_then_events) == ["one", "two"]
        finally:
            client.close()


async def test_events_wait_longer_than_the_clients_timeout(
        make_local_node: MakeLocalNode) -> None:
    alice, bob = await linked_pair(make_local_node)
    async with serving(alice):
        client = ControlClient(alice.home, timeout=0.2)
        try:
            waiting = asyncio.create_task(asyncio.to_thread(next_text, client.events()))
            await until(lambda: alice.events.wanted, what="the subscription")
            # The quiet spell is the scenario, not a synchronisation: a bot waits for hours.
            await asyncio.sleep(0.6)  # bounded: three of the client's timeouts
            assert not waiting.done()  # it used to end here in TimeoutError
            await bob.send("alice", "at last")
            assert await asyncio.wait_for(waiting, 10) == "at last"
        finally:
            client.close()


@asynccontextmanager
async def raw_subscriber(node: Node) -> AsyncIterator[tuple[socket.socket, BinaryIO]]:
    """A raw connection that has subscribed: the socket and its lines as they come."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        await asyncio.to_thread(sock.connect, str(socket_path(node.home)))
        with sock.makefile("rb") as replies:
            sock.sendall(b'{"id": 1, "method": "subscribe"}\n')
            assert json.loads(await asyncio.to_thread(replies.readline))["result"] == "subscribed"
            await until(lambda: node.events.wanted, what="the subscription")
            yield sock, replies


async def test_a_lagged_subscriber_subscribes_again_on_the_same_connection(
        make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    async with serving(alice), raw_subscriber(alice) as (sock, replies):
        # More than the socket's buffer and the queue hold together, before any is read.
        for n in range(20_000):
            alice.events.emit({"type": "test", "n": n})
        seen: list[dict[str, Any]] = []

        def read_until_lagged() -> None:
            while not seen or seen[-1].get("type") != "lagged":
                seen.append(json.loads(replies.readline())["event"])

        await asyncio.to_thread(read_until_lagged)
        assert seen[-1] == {"type": "lagged"} and len(seen) < 20_000
        sock.sendall(b'{"id": 2, "method": "subscribe"}\n')
        assert json.loads(await asyncio.to_thread(replies.readline))["result"] == "subscribed"
        await until(lambda: alice.events.wanted, what="the second subscription")
        alice.events.emit({"type": "test", "n": "again"})
        event = json.loads(await asyncio.to_thread(replies.readline))["event"]
        assert event == {"type": "test", "n": "again"}  # it used to say nothing more


async def test_a_subscriber_that_reads_late_gets_every_event_once_in_order(
        make_local_node: MakeLocalNode) -> None:
    """Events go out at once while nothing is on its way, and queue behind whatever is."""
    alice = await make_local_node("alice")
    async with serving(alice), raw_subscriber(alice) as (_, replies):
        pad = "x" * 2000  # 3,000 of these are more than the socket holds unread
        for n in range(3000):
            alice.events.emit({"type": "test", "n": n, "pad": pad})
            if n % 100 == 0:
                await turns(1)  # a new loop turn: its first event may go at once

        def read(count: int) -> list[int]:
            return [json.loads(replies.readline())["event"]["n"] for _ in range(count)]

        assert await asyncio.to_thread(read, 3000) == list(range(3000))


async def test_an_event_goes_out_at_once_only_when_nothing_is_on_its_way() -> None:
    """`Lines` over a real socket pair whose far end reads nothing until told to."""
    near, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    _, writer = await asyncio.open_unix_connection(sock=near)
    lines = Lines(writer)
    try:
        assert lines.send_event_now({"n": 0})
        assert not lines.send_event_now({"n": 1})  # the same loop turn: it joins the batch
        await turns(1)  # the next loop turn
        reply = asyncio.create_task(lines.send({"id": 1, "big": "x" * (4 << 20)}))
        await until(lambda: writer.transport.get_write_buffer_size(), what="a reply to drain")
        assert not lines.send_event_now({"n": 2})  # the reply is on its way: queue behind it
        far.setblocking(False)
        received = bytearray()

        def drain_far() -> bool:
            with contextlib.suppress(BlockingIOError):
                while chunk := far.recv(1 << 20):
                    received.extend(chunk)
            return reply.done()

        await until(drain_far, what="the reply to leave")
        await until(lambda: lines.send_event_now({"n": 3}), what="nothing on its way")
        await until(lambda: drain_far() and received.endswith(b'{"event": {"n": 3}}\n'),
                    what="the last event")
        sent = [json.loads(line) for line in bytes(received).splitlines()]
        assert [m.get("event", m.get("id")) for m in sent] == [{"n": 0}, 1, {"n": 3}]
    finally:
        writer.close()
        far.close()


async def test_stop_is_refused_for_a_chat_screen_s_own_node(
        make_local_node: MakeLocalNode) -> None:
    """`p2pchat stop` (trial 4, B15) stops a background node; a chat screen's node is the
    screen's to stop: refused, saying so (nothing is signalled: this test's process lives)."""
    alice = await make_local_node("alice", in_chat_screen=True)
    async with serving(alice):
        replies = await asyncio.to_thread(ask, alice, b'{"id": 1, "method": "stop"}\n')
    assert codes(replies) == ["in_chat_screen"]
    assert "quit that chat to stop it" in replies[0]["error"]["message"]
