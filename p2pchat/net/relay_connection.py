"""A node's link to one relay, and the end-to-end links it carries (docs/protocol.md section 9).

`RelayConnection` runs the relay link: an ordinary `Link` over TCP whose records are relay
records. It attaches, then hands each `Deliver` to the `RelayedLink` of its (sender, stream) and
turns what those links write into `Send`s. A `RelayedLink` is a `Link` without a socket of its
own, so the node's link table, trust and conversations use it exactly like a TCP link; the
end-to-end `Session` inside it is the ordinary one.

What a stream writes in one event-loop turn leaves as few `Send`s as possible (one per
`max_data` bytes): a burst of small records costs one padded relay frame, not one each, which is
what keeps small messages within the relay's frame rate and near a plain pipe's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import FingerprintError, fingerprint, parse_fingerprint
from p2pchat.core.relay_messages import (
    MAX_RELAY_RECORD,
    MAX_STREAM,
    Attach,
    Attached,
    Deliver,
    NotHere,
    Refused,
    decode_relay_record,
    encode_relay_record,
    encode_send,
)
from p2pchat.core.session import (
    Closed,
    Established,
    Event,
    KeyMismatch,
    RecordReceived,
    Session,
    SessionConfig,
)
from p2pchat.net.addresses import Address, format_addr, parse_addr
from p2pchat.net.link import LinkOf, OnEvent, P, SessionLink, TcpLink

log = logging.getLogger(__name__)

# The relay sends a keepalive every 10 s at most (its idle timeout is 60 s): 30 s of silence
# means it is gone. One relay record is one transport message.
RELAY_SESSION = SessionConfig(max_record=MAX_RELAY_RECORD, keepalive_interval=10.0,
                              idle_timeout=30.0, handshake_timeout=10.0)
ATTACH_TIMEOUT = 10.0  # from connecting to Attached
NOT_ON_RELAY = "peer not on the relay"  # a stream's close reason after the relay's NotHere
MAX_STREAMS = 256  # end-to-end links one relay connection carries at once
DEAD_STREAMS = 1024  # closed streams remembered, so their late frames start nothing new
FLUSH_AT = 256 * 1024  # a turn that writes this much sends at once rather than at its end

StreamId = tuple[bytes, int]


class RelayAddressError(ValueError):
    pass


@dataclass(frozen=True)
class RelayAddress:
    """Where a relay is and, when the user pinned it, the key it must prove."""

    address: Address
    key: bytes | None = None

    def __str__(self) -> str:
        text = format_addr(self.address)
        return f"{text}#{fingerprint(self.key)}" if self.key is not None else text


def parse_relay(text: str) -> RelayAddress:
    """`HOST:PORT` or `HOST:PORT#FINGERPRINT` (the line `p2pchat relay` prints)."""
    where, sep, fp = text.strip().partition("#")
    try:
        address = parse_addr(where)
    except ValueError as exc:
        raise RelayAddressError(f"{text!r}: {exc}") from None
    if address[1] == 0:
        raise RelayAddressError(f"{text!r}: a relay address needs a port")
    if not sep:
        return RelayAddress(address)
    try:
        return RelayAddress(address, parse_fingerprint(fp))
    except FingerprintError as exc:
        raise RelayAddressError(f"{text!r}: {exc}") from None


OnInbound = Callable[["RelayConnection", bytes, int], "RelayedLink[Any] | None"]


class RelayConnection:
    """One TCP connection to a relay: attach, then carry streams until it ends.

    `on_inbound(conn, sender, stream)` is asked for each stream a peer opens; it returns the
    link to feed (built with `carry`) or None to refuse it. `on_change` is told when the
    connection attaches or ends.
    """

    def __init__(self, relay: RelayAddress, *, session: Callable[[bytes | None], Session],
                 on_inbound: OnInbound, on_change: Callable[[], None],
                 rng: random.Random | None = None) -> None:
        self.relay = relay
        self.address = relay.address
        self._new_session = session
        self._on_inbound = on_inbound
        self._on_change = on_change
        self._rng = rng or random.Random()
        self.link: TcpLink[None] | None = None
        self.key: bytes | None = relay.key  # proven by the handshake once it is done
        self.max_data = 0
        self.attached = False
        self.streams: dict[StreamId, RelayedLink[Any]] = {}
        self._dead: OrderedDict[StreamId, None] = OrderedDict()
        # Streams in a row that ended before carrying a record: the node prefers a relay
        # whose streams work (links.py), and a relay that mangles every stream goes last.
        self.failed_streams = 0
        self.attached_at: float | None = None
        self.carried = False  # the relay delivered or answered something after Attached

    @property
    def label(self) -> str:
        return str(RelayAddress(self.address, self.key))

    @property
    def local_ip(self) -> str | None:
        return self.link.local_ip if self.link is not None else None

    async def run(self, connect_timeout: float) -> str:
        """Connect, attach and carry streams until the relay link ends; returns why it ended.
        Raises OSError or TimeoutError when the relay cannot be reached."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*self.address),
                                                connect_timeout)
        self.link = TcpLink(reader, writer, self._new_session(self.relay.key), outbound=True,
                            on_event=self._on_relay_event, peer=None)
        self.link.dialed = self.address
        try:
            await self.link.run()
        finally:
            was_attached, self.attached = self.attached, False
            for link in list(self.streams.values()):
                link.close("relay link lost")
            if was_attached:
                self._on_change()
        return self.link.close_reason or "ended"

    def close(self, reason: str) -> None:
        if self.link is not None:
            self.link.close(reason)

    def tick(self, now: float) -> None:
        link = self.link
        if link is None:
            return
        link.tick()
        if not self.attached and not link.closed and now - link.opened > ATTACH_TIMEOUT:
            link.close("the relay did not attach us in time")

    async def drained(self) -> bool:
        return self.link is not None and await self.link.drained()

    # ------------------------------------------------------------ streams

    def open(self, peer: bytes, session: Session, on_event: OnEvent[P], *,
             peer_state: P) -> RelayedLink[P] | None:
        """A new outbound stream to `peer`, its handshake on the way; None if we carry too many.

        The stream number is random rather than counted: two peers that open streams to each
        other at once then (almost surely) pick different numbers, and a number never repeats
        one the peer still remembers from before a relay restart.
        """
        if not self.attached or len(self.streams) >= MAX_STREAMS:
            return None
        stream = self._rng.randint(1, MAX_STREAM)
        while (peer, stream) in self.streams or (peer, stream) in self._dead:
            stream = self._rng.randint(1, MAX_STREAM)
        link = self.carry(peer, stream, session, outbound=True, on_event=on_event,
                          peer_state=peer_state)
        link.flush_soon()
        return link

    def carry(self, peer: bytes, stream: int, session: Session, *, outbound: bool,
              on_event: OnEvent[P], peer_state: P) -> RelayedLink[P]:
        """The link of one stream; `peer_state` is the node's own state about its peer."""
        link = RelayedLink(self, peer, stream, session, outbound=outbound, on_event=on_event,
                           peer=peer_state)
        self.streams[(peer, stream)] = link
        return link

    def send(self, peer: bytes, stream: int, data: bytes) -> None:
        """A stream's bytes as Sends of at most `max_data` bytes each, sealed and handed to the
        socket about FLUSH_AT bytes per write: one write per frame costs a syscall each, one
        write for a whole MiB costs more (fresh pages for the large buffers, measured in
        docs/performance.md). Each byte is copied once into its record (memoryview slices;
        `encode_send`, since the stream's peer key and number are checked when it opens)."""
        link = self.link
        if link is None or link.closed or not self.attached:
            return
        step = self.max_data
        batch = max(1, FLUSH_AT // step) * step
        with memoryview(data) as view:
            for first in range(0, len(data), batch):
                end = min(first + batch, len(data))
                link.send_records([encode_send(peer, stream, view[start:min(start + step, end)])
                                   for start in range(first, end, step)])

    def proven(self, lasted: float) -> bool:
        """Whether this connection worked well enough that losing it should not grow the
        reconnect backoff: it carried something, or stayed attached for `lasted` seconds."""
        if not self.max_data or self.attached_at is None:
            return False
        return self.carried or (self.link is not None and self.link.last_received
                                - self.attached_at >= lasted)

    def forget(self, link: RelayedLink[Any]) -> None:
        self.failed_streams = 0 if link.carried else self.failed_streams + 1
        sid = (link.peer_key, link.stream)
        if self.streams.get(sid) is link:
            del self.streams[sid]
        self._dead[sid] = None
        while len(self._dead) > DEAD_STREAMS:
            self._dead.popitem(last=False)

    # ------------------------------------------------------------ the relay's records

    def _on_relay_event(self, link: LinkOf[None], event: Event) -> None:
        if isinstance(event, Established):
            self.key = event.remote_key
            link.send_record(encode_relay_record(Attach()))
        elif isinstance(event, RecordReceived):
            try:
                self._on_record(decode_relay_record(event.record))
            except ProtocolError as exc:
                link.close(f"protocol error: {exc}")
        elif isinstance(event, KeyMismatch):
            log.warning("the relay at %s presented another key than the one pinned for it;"
                        " not using it", format_addr(self.address))
        elif isinstance(event, Closed):
            log.debug("relay link %s closed: %s", format_addr(self.address), event.reason)

    def _on_record(self, record: Any) -> None:
        if self.attached:
            self.carried = True
        if isinstance(record, Deliver) and self.attached:
            self._deliver(record)
        elif isinstance(record, NotHere | Refused) and self.attached:
            stream = self.streams.get((record.to, record.stream))
            if stream is not None:  # bytes of it were lost: its nonces no longer line up
                stream.close(NOT_ON_RELAY if isinstance(record, NotHere)
                             else "the relay dropped a frame")
        elif isinstance(record, Attached) and not self.attached:
            self.max_data = record.max_data
            self.attached = True
            self.attached_at = _now()
            log.info("attached to the relay %s", self.label)
            self._on_change()
        else:
            raise ProtocolError(f"unexpected {type(record).__name__} from the relay")

    def _deliver(self, record: Deliver) -> None:
        sid = (record.sender, record.stream)
        link = self.streams.get(sid)
        if link is None:
            if sid in self._dead or len(self.streams) >= MAX_STREAMS:
                return
            link = self._on_inbound(self, record.sender, record.stream)
            if link is None:
                self._dead[sid] = None
                while len(self._dead) > DEAD_STREAMS:
                    self._dead.popitem(last=False)
                return
        link.feed(record.data)


class RelayedLink(SessionLink[P]):
    """One end-to-end session carried by a relay stream; a `Link` like a `TcpLink`, whose bytes
    the relay connection carries instead of a socket of its own."""

    def __init__(self, conn: RelayConnection, peer_key: bytes, stream: int, session: Session,
                 *, outbound: bool, on_event: OnEvent[P], peer: P) -> None:
        # dialed stays None: the relay's address is not the peer's, never learn it.
        super().__init__(session, outbound=outbound, on_event=on_event, peer=peer,
                         address=conn.address)
        self.conn = conn
        self.peer_key = peer_key  # the relay's word until the handshake proves it
        self.stream = stream
        self.relay = conn.label
        self._ended = asyncio.Event()
        self._flush_pending = False

    @property
    def source(self) -> str:
        """Caps count relayed streams per claimed sender key, not per relay address."""
        return "relay:" + self.peer_key.hex()[:16]

    @property
    def local_ip(self) -> str | None:
        return self.conn.local_ip

    def feed(self, data: bytes) -> None:
        """Bytes of this stream, as the relay delivered them."""
        if self.closed:
            return
        now = _now()
        self.last_received = now
        self._dispatch(self.session.receive_data(data, now))
        if self.closed or self.session.closed:
            self._flush_now()  # a CLOSE the session queued
            self._finish()
        else:
            self._flush()

    def _dispatch(self, events: list[Event]) -> None:
        if any(isinstance(e, Established) and e.remote_key != self.peer_key for e in events):
            # The Deliver's sender is only the relay's word: our answers would go to a key
            # the handshake did not prove.
            self.close("the relay's sender key is not the one the handshake proved")
            return
        super()._dispatch(events)

    def flush_soon(self) -> None:
        self._flush()

    def _flush(self) -> None:
        # Everything written in this turn leaves together at its end (module docstring).
        if self.session.pending_send_bytes >= FLUSH_AT:
            self._flush_now()
        elif not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_pending = False
        data = self.session.data_to_send()
        if data:
            self.conn.send(self.peer_key, self.stream, data)

    async def drained(self) -> bool:
        if self.closed:
            return False
        return await self.conn.drained() and not self.closed

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.close_reason = reason
        with contextlib.suppress(Exception):
            self.session.close(reason)
            self._flush_now()
        self._finish()

    def tick(self) -> None:
        if self.closed:
            return
        self._dispatch(self.session.tick(_now()))
        self._flush()
        if self.session.closed:  # a timeout
            self._flush_now()
            self._finish()

    def _finish(self) -> None:
        if self.close_reason is None:
            self.close_reason = "link ended"
        self.conn.forget(self)
        self._ended.set()
        if not self.established.done():
            self.established.set_result(False)

    async def run(self) -> None:
        """Wait until the stream ends (the relay connection feeds it meanwhile)."""
        try:
            await self._ended.wait()
        finally:
            if not self.closed:
                self.close("link ended")


def _now() -> float:
    return asyncio.get_running_loop().time()
