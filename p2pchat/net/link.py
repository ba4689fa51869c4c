"""One TCP connection running one core Session: the only place a session's bytes meet a socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from p2pchat.core.session import Closed, Established, RecordReceived, Session
from p2pchat.core.sync import AckWait
from p2pchat.net.addresses import plain_host

log = logging.getLogger(__name__)

# A catch-up arrives in large writes; reading up to 256 KiB at once lets the node take a whole
# batch of records in one turn, and so store them in one commit.
READ_SIZE = 256 * 1024
# A peer that stops reading must not make us buffer without end.
MAX_WRITE_BUFFER = 8 * 1024 * 1024


DIVERT_HEAD = 3  # a frame's length and its kind byte: what `divert` decides on
Divert = Callable[["Link", bytes], Awaitable[None] | None]


@dataclass
class PeerState:
    """What the node has decided and learned about the peer on one link."""

    up: bool = False  # the node accepted this link as the peer's one link
    stranger_until: float | None = None  # set while the peer is not a contact: when to cut it
    since_ms: int = 0
    their_name: str | None = None  # as their Hello gave it: theirs to choose, never trusted
    ack_pending: dict[bytes, AckWait] = field(default_factory=dict)  # vectors held back
    group_only: bool = False  # not a contact: a fellow group member, for group records only

    @property
    def stranger(self) -> bool:
        return self.stranger_until is not None


class Link:
    """Pumps bytes between a stream and a Session and hands session events to the node.

    The node's handler runs synchronously for every event, in order; it may call send_record()
    and close() on this link.
    """

    # The relay this link goes through ("host:port#fingerprint"), None for a direct TCP link.
    # net/relay_connection.py's RelayedLink sets it.
    relay: str | None = None
    # Whether a record came through since the handshake: a link that dies before that proved
    # nothing about its path (the dialer's backoff goes on; net/dialer.py).
    carried: bool = False

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        *,
        outbound: bool,
        on_event: Callable[[Link, Any], None],
        divert: Divert | None = None,
    ) -> None:
        self.reader = reader
        # Shown the first bytes of an inbound connection (at least a frame header and kind):
        # returns an awaitable if it takes the connection over (a network admission, not a
        # handshake), None to let the session have them. The link stays counted meanwhile.
        self._divert = divert
        self._head = b""
        self.writer = writer
        self.session = session
        self.outbound = outbound
        self._on_event = on_event
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.address: tuple[str, int] = (plain_host(str(peer[0])), int(peer[1]))
        self.established = asyncio.get_running_loop().create_future()
        self.close_reason: str | None = None
        self.dialed: tuple[str, int] | None = None  # the address we dialed, for outbound links
        self.peer = PeerState()
        self.opened = self.last_received = _now()

    @property
    def remote_key(self) -> bytes | None:
        """The peer's Ed25519 key, once the handshake has proven it."""
        return self.session.remote_key

    @property
    def source(self) -> str:
        """Whom the per-address caps count this link against: the peer's IP address."""
        return self.address[0]

    @property
    def local_ip(self) -> str | None:
        local = self.writer.get_extra_info("sockname")
        return plain_host(str(local[0])) if local else None

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    def send_record(self, record: bytes) -> None:
        self.send_records((record,))

    def send_records(self, records: Iterable[bytes]) -> None:
        """Seal every record, then hand the socket all of them in one write (one syscall for a
        whole batch instead of one per record)."""
        if self.closed:
            return
        now = _now()
        for record in records:
            self.session.send_record(record, now)
        self._flush()

    async def drained(self) -> bool:
        """Wait until what was written has mostly left for the peer; False if the link ended."""
        if self.closed or self.writer.is_closing():
            return False
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            return False
        return not self.closed

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.close_reason = reason
        with contextlib.suppress(Exception):
            self.session.close(reason)
            self._flush()
        self.writer.close()
        if not self.established.done():
            self.established.set_result(False)

    def tick(self) -> None:
        if self.closed:
            return
        self._dispatch(self.session.tick(_now()))
        self._flush()
        if self.session.closed:  # a timeout: the read loop may be parked on a silent peer
            self.writer.close()

    def _flush(self) -> None:
        data = self.session.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
                self.close("peer is not reading")

    def _dispatch(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, Closed) and self.close_reason is None:
                self.close_reason = event.reason
            elif isinstance(event, RecordReceived):
                self.carried = True
            self._on_event(self, event)
            if isinstance(event, Established) and not self.established.done():
                self.established.set_result(not self.closed)

    async def run(self) -> None:
        """Read until the peer or the session ends the link; always closes the socket."""
        try:
            self._flush()  # an initiator's first handshake message is ready at once
            while not self.closed:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    self._end("connection closed by peer")
                    break
                self.last_received = _now()
                if self._divert is not None:
                    self._head += data
                    if len(self._head) < DIVERT_HEAD:
                        continue
                    data, self._head = self._head, b""
                    divert, self._divert = self._divert, None
                    taken = divert(self, data)
                    if taken is not None:
                        await taken
                        self._end("not a handshake: diverted")
                        break
                self._dispatch(self.session.receive_data(data, _now()))
                self._flush()
                if not self.closed:
                    await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            self._end(f"connection error: {exc.__class__.__name__}")
        finally:
            if not self.closed:
                self._end("link ended")
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)
            if not self.established.done():
                self.established.set_result(False)

    def _end(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason


def _now() -> float:
    return asyncio.get_running_loop().time()
