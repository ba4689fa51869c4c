"""The relay server: asyncio sockets and one Noise `Session` per client around `core.relay`.

Every rule (budgets, routing, queues, rates, timeouts) is decided by `RelayState`; this module
moves bytes and does what it is told. It stores nothing and logs counts, errors and short key
prefixes, never the data it forwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import Identity, short_fingerprint
from p2pchat.core.relay import (
    Accepted,
    ConnId,
    Forward,
    NotAttached,
    RelayLimits,
    RelayState,
    Replaced,
)
from p2pchat.core.relay_messages import (
    MAX_RELAY_RECORD,
    REFUSED_QUEUE_FULL,
    Attach,
    Attached,
    NotHere,
    Refused,
    RelayRecord,
    Send,
    decode_relay_record,
    encode_deliver,
    encode_relay_record,
)
from p2pchat.core.session import (
    Closed,
    Established,
    Event,
    RecordReceived,
    ReplayGuard,
    Session,
    SessionConfig,
)
from p2pchat.net.addresses import Address, plain_host
from p2pchat.net.listen import bound_addresses, listen

log = logging.getLogger("p2pchat.relay")

DEFAULT_PORT = 7744
READ_SIZE = 256 * 1024  # several frames a read: one turn, one write each way for a burst
_MAX_LOGGED_REASON = 120


@dataclass
class _Conn:
    id: ConnId
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session: Session
    key: bytes | None = None  # set when attached
    closed: bool = False


def _session_config(limits: RelayLimits) -> SessionConfig:
    # One relay record is one transport message (MAX_RELAY_RECORD): anything bigger is a
    # protocol error the session reports before we look at it.
    return SessionConfig(
        max_record=MAX_RELAY_RECORD,
        handshake_timeout=limits.attach_timeout,
        idle_timeout=limits.idle_timeout,
        keepalive_interval=min(10.0, limits.idle_timeout / 3),
    )


def _safe_reason(reason: str) -> str:
    """A close reason for our log: a peer's own words (after "closed by peer") are not logged."""
    if reason.startswith("closed by peer:"):
        return "closed by the client"
    return reason[:_MAX_LOGGED_REASON]


class RelayServer:
    """Accepts clients on `listen`, attaches them and forwards their frames."""

    def __init__(
        self,
        identity: Identity,
        limits: RelayLimits,
        *,
        listen: tuple[Address, ...] = (("::", DEFAULT_PORT),),
        allow: frozenset[bytes] | None = None,
        on_tick: Callable[[], None] | None = None,
        network_psks: tuple[bytes, ...] = (),
    ) -> None:
        self.identity = identity
        self.limits = limits
        self.state = RelayState(limits, allow=allow)
        # With networks, only their handshakes are answered: an outsider's fails at its first
        # message, before either key is sent (docs/protocol.md, "Networks").
        self._network_psks = network_psks
        self.listen_addresses: list[Address] = []
        self._listen = listen
        self.on_tick = on_tick  # called after every timer tick (the status file)
        self._config = _session_config(limits)
        self._guard = ReplayGuard(max_peers=4096)  # IK timestamps, in memory only
        self._servers: list[asyncio.Server] = []
        self._conns: dict[ConnId, _Conn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            for host, port in self._listen:
                server = await listen(self._on_inbound, host, port)
                self._servers.append(server)
                self.listen_addresses.extend(bound_addresses(server))
        except BaseException:
            await self.stop()
            raise
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        log.info("relay %s listening", short_fingerprint(self.identity.public_key))

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for conn in list(self._conns.values()):
            self._close(conn, "relay shutting down")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()

    # -- connections ------------------------------------------------------------------------

    async def _on_inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        now = _now()
        conn_id, evicted = self.state.open(plain_host(str(peer[0])), now)
        for old in evicted:  # the pending budget was full: stalled connections make room
            victim = self._conns.get(old)
            if victim is not None:
                self._close(victim, "evicted: too many handshakes under way", count=None)
        conn = _Conn(conn_id, reader, writer,
                     Session(identity=self.identity, initiator=False, now=now,
                             replay_guard=self._guard, config=self._config,
                             psks=self._network_psks, allow_plain=not self._network_psks))
        self._conns[conn_id] = conn
        # The transport pauses (and drain() waits) above high_water: backpressure on senders.
        writer.transport.set_write_buffer_limits(high=self.limits.high_water,
                                                 low=self.limits.high_water // 4)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._pump(conn)
        except asyncio.CancelledError:
            # Only stop() cancels these tasks, and it is waiting for them: ended, not failed.
            # Let through, 3.11's streams log a cancelled handler as an error with a traceback
            # (trial 11: Ctrl-C on a relay printed one).
            self._close(conn, "relay shutting down", count=None)
        except (ConnectionError, OSError):
            self._close(conn, "connection error", count=None)
        except Exception:  # a bug must cost one connection, never the relay
            log.exception("internal error on a connection")
            self._close(conn, "internal error", count=None)
        finally:
            self._close(conn, "connection ended", count=None)
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _pump(self, conn: _Conn) -> None:
        limits = self.limits
        while not conn.closed:
            data = await conn.reader.read(READ_SIZE)
            now = _now()
            if not data:
                self._handle(conn, conn.session.receive_data(b"", now), now)
                return
            touched: dict[ConnId, _Conn] = {}
            frames, nbytes = self._handle(conn, conn.session.receive_data(data, now), now,
                                          touched)
            for dest in touched.values():
                self._flush(dest)
            self._flush(conn)
            # Backpressure: a receiver above its high-water mark makes its senders wait (for a
            # while), so a bulk transfer slows down to the receiver's pace instead of overflowing.
            for dest in touched.values():
                if not dest.closed and self.state.over_high_water(dest.id):
                    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                        await asyncio.wait_for(dest.writer.drain(), limits.stall_timeout)
                    self._measure(dest)
            delay = self.state.charge(conn.id, nbytes, frames, _now())
            if delay > 0 and not conn.closed:
                await asyncio.sleep(delay)  # over its rate: stop reading from it meanwhile

    def _handle(self, conn: _Conn, events: list[Event], now: float,
                touched: dict[ConnId, _Conn] | None = None) -> tuple[int, int]:
        """Act on one batch of session events; returns (frames, data bytes) the client sent."""
        frames = nbytes = 0
        for event in events:
            if conn.closed:
                break
            if isinstance(event, RecordReceived):
                try:
                    record = decode_relay_record(event.record)
                    sent = self._on_record(conn, record, now, touched)
                except ProtocolError as exc:
                    self._close(conn, f"protocol error: {exc}", count="protocol_error")
                    break
                frames += 1
                nbytes += sent
            elif isinstance(event, Established):
                self.state.handshaken(conn.id)
                if not self.state.admits(event.remote_key):
                    self._close(conn, "not on this relay's allow-list", count="not_allowed")
            elif isinstance(event, Closed):
                self._on_closed(conn, event.reason)
        return frames, nbytes

    def _on_closed(self, conn: _Conn, reason: str) -> None:
        if reason.startswith("idle timeout"):
            count: str | None = "idle_timeout"
        elif reason.startswith("handshake timed out"):
            count = "attach_timeout"
        elif reason.startswith(("closed by peer", "connection closed by peer")):
            count = None
        else:
            count = "protocol_error"
        self._close(conn, reason, count=count)

    def _on_record(self, conn: _Conn, record: RelayRecord, now: float,
                   touched: dict[ConnId, _Conn] | None) -> int:
        if isinstance(record, Send):
            self._on_send(conn, record, touched)
            return len(record.data)
        if isinstance(record, Attach):
            self._on_attach(conn, now)
            return 0
        raise ProtocolError(f"a client does not send {type(record).__name__}")

    def _on_attach(self, conn: _Conn, now: float) -> None:
        key = conn.session.remote_key
        if key is None:  # records only arrive after the handshake; defensive
            raise ProtocolError("Attach before the handshake")
        result = self.state.attach(conn.id, key, now)
        if isinstance(result, str):
            text = {"relay_full": "relay full", "not_allowed": "not on this relay's allow-list",
                    "host_full": "too many clients from your address"}
            self._close(conn, text.get(result, result), count=None)  # counted by attach()
            return
        conn.key = key
        if isinstance(result, Replaced):
            old = self._conns.get(result.old)
            if old is not None:
                self._close(old, "replaced by a newer connection with the same key", count=None)
        else:
            assert isinstance(result, Accepted)
        limits = self.limits
        self._send(conn, Attached(limits.max_data, limits.byte_rate, limits.frame_rate))
        log.info("client %s attached (%d attached)", short_fingerprint(key),
                 self.state.client_count)

    def _on_send(self, conn: _Conn, record: Send, touched: dict[ConnId, _Conn] | None) -> None:
        route = self.state.route(conn.id, record.to, len(record.data))
        if isinstance(route, Forward):
            dest = self._conns[route.dest]
            assert conn.key is not None  # route() refuses a connection that is not attached
            self._send_bytes(dest, encode_deliver(conn.key, record.stream, record.data),
                             flush=touched is None)
            if touched is not None:
                touched[dest.id] = dest
            return
        answer: RelayRecord = (NotHere(record.to, record.stream)
                               if isinstance(route, NotAttached)
                               else Refused(record.to, record.stream, REFUSED_QUEUE_FULL))
        if self.state.may_answer(conn.id):
            self._send(conn, answer, flush=False)

    # -- output -----------------------------------------------------------------------------

    def _send(self, conn: _Conn, record: RelayRecord, *, flush: bool = True) -> None:
        self._send_bytes(conn, encode_relay_record(record), flush=flush)

    def _send_bytes(self, conn: _Conn, record: bytes, *, flush: bool = True) -> None:
        if conn.closed:
            return
        try:
            conn.session.send_record(record, _now())
        except ProtocolError as exc:  # its session closed or is full: that connection is done
            self._close(conn, f"cannot send: {exc}", count=None)
            return
        if flush:
            self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        data = conn.session.data_to_send()
        if data and not conn.writer.is_closing():
            conn.writer.write(data)
        self._measure(conn)
        if conn.key is not None and not conn.closed and \
                conn.writer.transport.get_write_buffer_size() > 2 * self.limits.max_queue:
            # Only answers to its own frames can pile up past max_queue (frames to it are
            # refused first): a client that sends and never reads is cut.
            self._close(conn, "not reading", count="slow_receiver")

    def _measure(self, conn: _Conn) -> None:
        if not conn.writer.is_closing():
            self.state.set_backlog(conn.id, conn.writer.transport.get_write_buffer_size())

    def _close(self, conn: _Conn, reason: str, *, count: str | None = None) -> None:
        if conn.closed:
            return
        conn.closed = True
        if count is not None:
            self.state.refuse(count, _safe_reason(reason))
        with contextlib.suppress(Exception):
            conn.session.close(reason)
            data = conn.session.data_to_send()
            if data and not conn.writer.is_closing():
                conn.writer.write(data)
        conn.writer.close()
        self.state.close(conn.id)
        self._conns.pop(conn.id, None)
        if conn.key is not None:
            log.info("client %s left: %s (%d attached)", short_fingerprint(conn.key),
                     _safe_reason(reason), self.state.client_count)
        elif count is not None:
            # Debug only: strangers can make these as fast as they like; the status counts them.
            log.debug("refused a connection: %s", _safe_reason(reason))

    # -- timers -----------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        limits = self.limits
        interval = min(1.0, limits.attach_timeout / 4, limits.idle_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = _now()
            for conn_id in self.state.expired(now):
                conn = self._conns.get(conn_id)
                if conn is not None:
                    self._close(conn, "no Attach in time", count=None)  # counted by expired()
            for conn in list(self._conns.values()):
                if not conn.closed:
                    self._handle(conn, conn.session.tick(now), now)
                    if not conn.closed:
                        self._flush(conn)
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:
                    log.exception("status update failed")


def _now() -> float:
    return asyncio.get_running_loop().time()
