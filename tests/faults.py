"""Faults a LAN inflicts, for tests with real node processes.

`Forwarder` stands between two nodes like a flaky NAT or Wi-Fi path: a TCP forwarder on
127.0.0.1 (its own thread and event loop) that can reset connections at random, reset them all,
or stall them: stop passing bytes while keeping them open, as a half-open TCP connection does.
`EventLog` records a node's event stream with arrival times, to measure link gaps from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from p2pchat.control_client import ControlClient, ControlError

CHUNK = 65536


class _Pipe:
    """One forwarded connection: two sockets and the pumps between them."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.writers = (client, server)
        self.stalled = False
        self.closed = False

    def reset(self) -> None:
        """Abort both sides with an RST (linger 0), as a NAT dropping its state would."""
        if self.closed:
            return
        self.closed = True
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
            writer.transport.abort()

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self.closed:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if self.stalled:
                    continue  # a black hole: the bytes vanish, nobody is told
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.reset()


class Forwarder:
    """Forwards 127.0.0.1:`port` to `target`. All methods are safe to call from the test thread."""

    def __init__(self, target: tuple[str, int], seed: int = 0) -> None:
        self.target = target
        self.rng = random.Random(seed)
        self.port = 0
        self.pipes: list[_Pipe] = []
        self.accepted = 0
        self.resets = 0
        self._lifetime: tuple[float, float] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Forwarder:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._on_client, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _do(self, fn: Any) -> Any:
        async def run() -> Any:
            return fn()

        return self._call(run())

    async def _on_client(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), 5)
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        pipe = _Pipe(writer, up_writer)
        self.pipes = [p for p in self.pipes if not p.closed] + [pipe]
        self.accepted += 1
        self._schedule_reset(pipe)
        await asyncio.gather(pipe.pump(reader, up_writer), pipe.pump(up_reader, writer))

    def _schedule_reset(self, pipe: _Pipe) -> None:
        if self._lifetime is not None:
            self._loop.call_later(self.rng.uniform(*self._lifetime), self._reset, pipe)

    def _reset(self, pipe: _Pipe) -> None:
        if not pipe.closed:
            self.resets += 1
            pipe.reset()

    def reset_randomly(self, shortest: float, longest: float) -> None:
        """From now on every connection is reset after a random lifetime in [shortest, longest]."""

        def go() -> None:
            self._lifetime = (shortest, longest)
            for pipe in self.pipes:
                self._schedule_reset(pipe)

        self._do(go)

    def calm(self) -> None:
        """No more random resets for new connections."""
        self._do(lambda: setattr(self, "_lifetime", None))

    def reset_all(self) -> int:
        def go() -> int:
            live = [p for p in self.pipes if not p.closed]
            for pipe in live:
                self._reset(pipe)
            return len(live)

        count: int = self._do(go)
        return count

    def stall_all(self) -> int:
        """Open connections stop passing bytes but stay open; new ones work normally."""

        def go() -> int:
            live = [p for p in self.pipes if not p.closed]
            for pipe in live:
                pipe.stalled = True
            return len(live)

        count: int = self._do(go)
        return count

    def close(self) -> None:
        if self._thread.is_alive():
            def go() -> None:
                if self._server is not None:
                    self._server.close()
                for pipe in self.pipes:
                    pipe.reset()

            with contextlib.suppress(Exception):
                self._do(go)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


class EventLog:
    """A node's events as (monotonic time, event), recorded by a thread until `close`."""

    def __init__(self, home: Path) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._client = ControlClient(home, timeout=None)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(ControlError, OSError, ValueError):
            for event in self._client.events():
                with self._lock:
                    self.events.append((time.monotonic(), event))

    def of(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return [(t, e) for t, e in self.events if e.get("type") == kind]

    def links(self, fingerprint: str) -> list[tuple[float, str, dict[str, Any]]]:
        """(time, "up"|"down", event) for links with `fingerprint`, in order."""
        with self._lock:
            return [(t, e["type"][5:], e) for t, e in self.events
                    if e.get("type") in ("link_up", "link_down")
                    and e.get("fingerprint") == fingerprint]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._client._sock.shutdown(socket.SHUT_RDWR)
        self._client.close()
        self._thread.join(timeout=10)


def link_gaps(links: list[tuple[float, str, dict[str, Any]]], after: float) -> list[float]:
    """How long each spell without any live link lasted, from the first link up after `after`.

    Counting ups and downs, not pairing them: a new link may come up before the one it replaces
    goes down."""
    gaps: list[float] = []
    live = 0
    down_since: float | None = None
    started = False
    for when, kind, _ in links:
        if when < after:
            continue
        if kind == "up":
            started = True
            live += 1
            if down_since is not None:
                gaps.append(when - down_since)
                down_since = None
        elif started:
            live = max(0, live - 1)
            if live == 0:
                down_since = when
    return gaps


class DoublingRelay:
    """A relay that works, except that it delivers every frame twice (a buggy or hostile relay):
    real Noise sessions with its clients over real TCP on 127.0.0.1, in its own thread and event
    loop, so that tests with blocking waits (node processes) can use it. Each client's second
    copy of a frame breaks the Noise nonces of the end-to-end stream it belongs to."""

    def __init__(self) -> None:
        from p2pchat.core.identity import Identity

        self.identity = Identity.generate()
        self.port = 0
        self.delivered = 0
        self._clients: dict[bytes, tuple[Any, asyncio.StreamWriter]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def arg(self) -> str:
        """The node's `--relay` value."""
        return f"127.0.0.1:{self.port}#{self.identity.fingerprint}"

    def start(self) -> DoublingRelay:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop)
        self._server = future.result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from p2pchat.core.relay_messages import (
            MAX_DATA,
            Attach,
            Attached,
            Send,
            decode_relay_record,
            encode_deliver,
            encode_relay_record,
        )
        from p2pchat.core.session import RecordReceived, Session, SessionConfig

        loop = asyncio.get_running_loop()
        session = Session(identity=self.identity, initiator=False, now=loop.time(),
                          config=SessionConfig(max_record=65518, idle_timeout=60.0,
                                               keepalive_interval=10.0))
        key: bytes | None = None

        def flush(to: Any, out: asyncio.StreamWriter) -> None:
            data = to.data_to_send()
            if data and not out.is_closing():
                out.write(data)

        try:
            while data := await reader.read(65536):  # ends with the connection
                for event in session.receive_data(data, loop.time()):
                    if not isinstance(event, RecordReceived):
                        continue
                    record = decode_relay_record(event.record)
                    if isinstance(record, Attach):
                        key = session.remote_key
                        assert key is not None
                        self._clients[key] = (session, writer)
                        session.send_record(encode_relay_record(
                            Attached(MAX_DATA, 4 << 20, 2000)), loop.time())
                    elif isinstance(record, Send) and key is not None:
                        dest = self._clients.get(record.to)
                        if dest is None:
                            continue
                        deliver = encode_deliver(key, record.stream, record.data)
                        for _ in range(2):  # the fault: every frame twice
                            dest[0].send_record(deliver, loop.time())
                        self.delivered += 1
                        flush(*dest)
                flush(session, writer)
        except Exception:  # a client that breaks its session just leaves
            pass
        finally:
            if key is not None and self._clients.get(key, (None,))[0] is session:
                del self._clients[key]
            writer.close()

    def close(self) -> None:
        if self._thread.is_alive():
            def go() -> None:
                if self._server is not None:
                    self._server.close()
                for _, writer in self._clients.values():
                    writer.close()

            with contextlib.suppress(Exception):
                self._loop.call_soon_threadsafe(go)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
