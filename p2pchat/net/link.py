"""The links the node talks through, and the one that owns a socket.

`Link` is the interface: what the node may use of a link, whether its bytes travel over its own
TCP stream (`TcpLink`, here) or as frames through a relay (`RelayedLink`,
net/relay_connection.py). Both run one core `Session` on a `SessionLink` base that holds what
they share (the session, the event callback, closing); each adds how its bytes move. A link
carries the node's own state about its peer in `peer`, whose type the node picks (`P`): the
network layer never looks inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from p2pchat.core.error_words import in_words
from p2pchat.core.session import Closed, Established, Event, RecordReceived, Session
from p2pchat.net.addresses import plain_host

log = logging.getLogger(__name__)

# A catch-up arrives in large writes; reading up to 256 KiB at once lets the node take a whole
# batch of records in one turn, and so store them in one commit.
READ_SIZE = 256 * 1024
# A peer that stops reading must not make us buffer without end.
MAX_WRITE_BUFFER = 8 * 1024 * 1024


P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)

DIVERT_HEAD = 3  # a frame's length and its kind byte: what `divert` decides on
Divert = Callable[["TcpLink[P]", bytes], Awaitable[None] | None]

class LinkOf(Protocol[P_co]):
    """What the node uses of a link, direct or relayed, whose `peer` is a `P_co`."""

    session: Session
    outbound: bool
    address: tuple[str, int]  # the peer's (direct) or the relay's (relayed) address
    established: asyncio.Future[bool]  # True once the handshake is done, False if it never is
    close_reason: str | None
    dialed: tuple[str, int] | None  # the address we dialed, for outbound direct links
    opened: float
    last_received: float

    @property
    def peer(self) -> P_co:
        """The node's own state about the peer on this link."""

    @property
    def relay(self) -> str | None:
        """The relay this link goes through ("host:port#fingerprint"), None for a direct link."""

    @property
    def carried(self) -> bool:
        """Whether a record came through since the handshake: a link that dies before that
        proved nothing about its path (the dialer's backoff goes on; net/dialer.py)."""

    @property
    def remote_key(self) -> bytes | None:
        """The peer's Ed25519 key, once the handshake has proven it."""

    @property
    def source(self) -> str:
        """Whom the per-address caps count this link against."""

    @property
    def local_ip(self) -> str | None:
        """Our address on the path this link takes."""

    @property
    def closed(self) -> bool:
        """Whether the link has ended (close_reason says why)."""

    def send_record(self, record: bytes) -> None:
        """Seal one record and send it."""

    def send_records(self, records: Iterable[bytes]) -> None:
        """Seal every record, then hand them on together."""

    async def drained(self) -> bool:
        """Wait until what was written has mostly left; False if the link ended."""

    def close(self, reason: str) -> None:
        """End the link, telling the peer why."""

    def tick(self) -> None:
        """Let the session keep time (keepalives, rekeys, timeouts)."""

    async def run(self) -> None:
        """Carry the link until it ends."""

    def __hash__(self) -> int:
        """Links are told apart by identity (keys of the node's per-link tables)."""


# A link whatever state the node keeps about its peer (node/peer_state.py's `PeerLink` types it).
Link = LinkOf[Any]
# The node's handler of a link's session events, run synchronously for every event, in order;
# it may call send_record() and close() on the link.
OnEvent = Callable[[LinkOf[P], Event], None]


class SessionLink(Generic[P]):
    """What both kinds of link share: one `Session`, the node's callback and state, closing.
    A subclass moves the bytes (`_flush`, `close`, `run`)."""

    relay: str | None = None
    carried: bool = False

    def __init__(self, session: Session, *, outbound: bool, on_event: OnEvent[P], peer: P,
                 address: tuple[str, int], dialed: tuple[str, int] | None = None) -> None:
        self.session = session
        self.outbound = outbound
        self._on_event = on_event
        self.peer = peer
        self.address = address
        self.dialed = dialed
        loop = asyncio.get_running_loop()
        self.established: asyncio.Future[bool] = loop.create_future()
        self.close_reason: str | None = None
        self.opened = self.last_received = loop.time()

    @property
    def remote_key(self) -> bytes | None:
        """The peer's Ed25519 key, once the handshake has proven it."""
        return self.session.remote_key

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    def send_record(self, record: bytes) -> None:
        self.send_records((record,))

    def send_records(self, records: Iterable[bytes]) -> None:
        """Seal every record, then hand the transport all of them at once (one syscall for a
        whole batch instead of one per record)."""
        if self.closed:
            return
        now = _now()
        for record in records:
            self.session.send_record(record, now)
        self._flush()

    # How the bytes move: each kind of link has its own.
    @property
    def source(self) -> str:
        raise NotImplementedError

    @property
    def local_ip(self) -> str | None:
        raise NotImplementedError

    async def drained(self) -> bool:
        raise NotImplementedError

    def close(self, reason: str) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        raise NotImplementedError

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Closed) and self.close_reason is None:
                self.close_reason = event.reason
            elif isinstance(event, RecordReceived):
                self.carried = True
            self._on_event(self, event)
            if isinstance(event, Established) and not self.established.done():
                self.established.set_result(not self.closed)

    def _end(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason


class TcpLink(SessionLink[P]):
    """Pumps bytes between a TCP stream and a Session and hands session events to the node."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        *,
        outbound: bool,
        on_event: OnEvent[P],
        peer: P,
        divert: Divert[P] | None = None,
    ) -> None:
        peer_address = writer.get_extra_info("peername") or ("?", 0)
        super().__init__(session, outbound=outbound, on_event=on_event, peer=peer,
                         address=(plain_host(str(peer_address[0])), int(peer_address[1])))
        self.reader = reader
        # Shown the first bytes of an inbound connection (at least a frame header and kind):
        # returns an awaitable if it takes the connection over (a network admission, not a
        # handshake), None to let the session have them. The link stays counted meanwhile.
        self._divert = divert
        self._head = b""
        self.writer = writer

    @property
    def source(self) -> str:
        """Whom the per-address caps count this link against: the peer's IP address."""
        return self.address[0]

    @property
    def local_ip(self) -> str | None:
        local = self.writer.get_extra_info("sockname")
        return plain_host(str(local[0])) if local else None

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
            self._end(f"connection error: {in_words(exc)}")
        finally:
            if not self.closed:
                self._end("link ended")
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)
            if not self.established.done():
                self.established.set_result(False)


def _now() -> float:
    return asyncio.get_running_loop().time()
