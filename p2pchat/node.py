"""Node: one user's running chat. Wires identity, storage, the network and the pure core.

Everything a UI needs goes through here: commands (add a contact, send, read the log) and one
stream of events (message, delivery, contact request, link up/down, key mismatch). The control
socket and the terminal UI are both thin clients of this class.

Durability rule: nothing leaves the node before what it depends on is committed. Writes are
collected during a turn of the event loop; `_flush` commits them once and only then writes the
queued records to the links. So a message acknowledged to the user or to a peer is on disk, and
a crash at any instant can lose only what nobody was told about.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from p2pchat import __version__
from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import (
    FingerprintError,
    Identity,
    fingerprint,
    parse_fingerprint,
    short_fingerprint,
)
from p2pchat.core.messages import (
    ContactAccept,
    ContactRequest,
    Envelope,
    Hello,
    Record,
    SyncRequest,
    SyncVector,
    decode_record,
    decode_text,
    dm_conversation_id,
    encode_record,
    encode_text,
    envelope_hash,
)
from p2pchat.core.presence import (
    day_number,
    private_instance_name,
    private_properties,
    public_instance_name,
    public_properties,
)
from p2pchat.core.session import (
    Closed,
    Established,
    KeyMismatch,
    RecordReceived,
    ReplayGuard,
    Session,
    SessionConfig,
)
from p2pchat.core.sync import ConversationLog
from p2pchat.events import EventBus
from p2pchat.net.addresses import Address, format_addr, is_loopback, parse_addr, plain_host
from p2pchat.net.dialer import Dialer
from p2pchat.net.link import Link
from p2pchat.storage.store import Contact, Store, StoreError

log = logging.getLogger("p2pchat.node")

DB_FILE = "p2pchat.db"
LOCK_FILE = "node.lock"
SOFTWARE = f"p2pchat/{__version__}"
MAX_ADDRS = 8
MAX_LEARNED = 1024  # peers whose dial-back addresses we remember


class CommandError(Exception):
    """A command the user (or a script) got wrong; the message says how to put it right."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class NodeConfig:
    listen: tuple[Address, ...] = (("::", 0),)  # every interface, IPv6 and IPv4, one port
    mdns: bool = True
    mdns_interfaces: tuple[str, ...] | None = None
    presence: str = "public"  # or "private": see docs/privacy.md
    max_links: int = 128
    max_links_per_ip: int = 16
    max_strangers: int = 8
    max_requests: int = 64
    stranger_lifetime: float = 30.0
    connect_timeout: float = 5.0
    session: SessionConfig = field(default_factory=SessionConfig)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    def __init__(self, home: Path, identity: Identity, name: str,
                 config: NodeConfig | None = None) -> None:
        self.home = home
        self.identity = identity
        self.key = identity.public_key
        self.name = name
        self.config = config or NodeConfig()
        self.events = EventBus()
        self.store: Store | None = None
        self.listen_addresses: list[Address] = []
        self.links: dict[bytes, Link] = {}  # the one live, authorised link per peer
        self._connections: set[Link] = set()  # every connection, handshaking ones included
        self._per_ip: Counter[str] = Counter()
        self._conv_logs: dict[bytes, ConversationLog] = {}
        self._dm_ids: dict[bytes, bytes] = {}  # peer -> 1:1 conversation, and back
        self._dm_peers: dict[bytes, bytes] = {}
        self._learned_addrs: dict[bytes, list[Address]] = {}
        self._outq: list[tuple[Link, bytes]] = []
        self._flush_waiters: list[asyncio.Future[None]] = []
        self._flush_scheduled = False
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock_fd: int | None = None
        self._replay_guard = ReplayGuard()
        self._dialer = Dialer(self._dial, self._addresses_for, self._has_working_link)
        self.discovery: Any = None
        self._advert: tuple[int, dict[str, str], str, int] | None = None  # port, TXT, name, day
        self._local_addrs: set[str] = set()
        self._mismatches: set[tuple[str, bytes, bytes]] = set()
        self._ik_sent: dict[bytes, int] = {}  # last IK timestamp we sent, per contact
        self._stopping = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._take_lock()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        try:
            self.store = Store(self.home / DB_FILE, self.identity.derive_key("store"))
        except StoreError as exc:
            raise CommandError("storage", f"cannot open the message store: {exc}") from None
        self._replay_guard = ReplayGuard(self.store.get_ik_timestamps())
        for host, port in self.config.listen:
            server = await self._listen(host, port)
            self._servers.append(server)
            for sock in server.sockets:
                host, port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
                dual_stack = sock.family == socket.AF_INET6 and host == "::" and not \
                    sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
                if dual_stack:  # it serves IPv4 too: say so first, in the form most tools read
                    self.listen_addresses.append(("0.0.0.0", port))
                self.listen_addresses.append((host, port))
        self._spawn(self._ticker(), "ticker")
        for contact in self.store.list_contacts(states=("contact",)):
            self._dialer.want(contact.key)
        if self.config.mdns:
            try:
                await self._start_discovery()
            except Exception as exc:  # chat still works with typed addresses
                log.warning("mDNS discovery is off: %s", exc)
                self.discovery = None
        log.info("node %s listening on %s", short_fingerprint(self.key),
                 ", ".join(format_addr(a) for a in self.listen_addresses))

    async def _listen(self, host: str, port: int) -> asyncio.Server:
        if host == "::":
            # One dual-stack socket, so the one port we advertise serves IPv6 and IPv4 alike
            # (asyncio's own would set IPV6_V6ONLY and need a second socket on another port).
            try:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            except OSError:
                host = "0.0.0.0"  # no IPv6 on this host
            else:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    sock.bind(("::", port))
                except OSError:
                    sock.close()
                    raise
                return await asyncio.start_server(self._on_inbound, sock=sock)
        return await asyncio.start_server(self._on_inbound, host, port)

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self.discovery is not None:
            with contextlib.suppress(Exception):
                await self.discovery.async_stop()
        await self._dialer.stop()
        for server in self._servers:
            server.close()
        for link in list(self._connections):
            link.close("node shutting down")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        if self.store is not None:
            with contextlib.suppress(StoreError):
                self._commit()
            self.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    def _take_lock(self) -> None:
        fd = os.open(self.home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise CommandError("busy", f"a node is already running for {self.home}") from None
            raise
        self._lock_fd = fd

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _ticker(self) -> None:
        while not self._stopping:
            await asyncio.sleep(1.0)
            now = asyncio.get_running_loop().time()
            for link in list(self._connections):
                link.tick()
                expires = link.peer.stranger_until
                if expires is not None and now > expires:
                    link.close("stranger link expired")

    # ------------------------------------------------------------ durability

    @property
    def db(self) -> Store:
        assert self.store is not None, "node not started"
        return self.store

    def _queue(self, link: Link, record: Record) -> None:
        """Send after the current batch of writes is committed (see the module docstring)."""
        self._outq.append((link, encode_record(record)))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _durable(self) -> None:
        """Wait until every write made so far is committed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flush_waiters.append(waiter)
        self._schedule_flush()
        await waiter

    def _commit(self) -> None:
        self.db.commit()

    def _flush(self) -> None:
        self._flush_scheduled = False
        waiters, self._flush_waiters = self._flush_waiters, []
        outq, self._outq = self._outq, []
        try:
            self._commit()
        except Exception as exc:
            log.error("could not commit to the database: %s", exc)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(CommandError("storage", f"could not save: {exc}"))
            return
        # Committed: from here on the waiters must be released whatever a link does.
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        for link, record in outq:
            try:
                link.send_record(record)
            except Exception as exc:
                log.warning("closing link to %s: cannot send: %s",
                            format_addr(link.address), exc)
                link.close(f"cannot send: {exc}")

    # ------------------------------------------------------------ connections

    async def _on_inbound(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        ip = plain_host(str(peer[0]))
        if len(self._connections) >= self.config.max_links:
            log.warning("refused a connection from %s: too many links", ip)
            writer.close()
            return
        if self._per_ip[ip] >= self.config.max_links_per_ip:
            log.warning("refused a connection from %s: too many links from that address", ip)
            writer.close()
            return
        session = Session(
            identity=self.identity, initiator=False, now=asyncio.get_running_loop().time(),
            replay_guard=self._replay_guard, allow_xx=self.config.presence != "private",
            config=self.config.session,
        )
        link = Link(reader, writer, session, outbound=False, on_event=self._on_link_event)
        await self._serve(link)

    async def _dial(self, key: bytes, address: Address) -> bool:
        if self._stopping or len(self._connections) >= self.config.max_links:
            return False
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*address), self.config.connect_timeout)
        except (TimeoutError, OSError) as exc:
            log.debug("cannot reach %s: %s", format_addr(address), exc)
            return False
        session = Session(
            identity=self.identity, initiator=True, now=asyncio.get_running_loop().time(),
            remote_key=key, ik_timestamp=self._next_ik_timestamp(key),
            replay_guard=self._replay_guard,
            config=self.config.session,
        )
        link = Link(reader, writer, session, outbound=True, on_event=self._on_link_event)
        link.dialed = address
        self._spawn(self._serve(link), "link")
        try:
            ok = await asyncio.wait_for(asyncio.shield(link.established),
                                        self.config.session.handshake_timeout + 1)
        except TimeoutError:
            link.close("handshake timed out")
            return False
        return bool(ok) and self.links.get(key) is link

    def _next_ik_timestamp(self, key: bytes) -> int:
        """Wall-clock nanoseconds, but never at or below what we last sent this peer: if our
        clock steps back, a peer that takes only IK (private presence) must still accept us."""
        stamp = max(time.time_ns(), self._ik_sent.get(key, 0) + 1)
        self._ik_sent[key] = stamp
        return stamp

    async def _serve(self, link: Link) -> None:
        ip = link.address[0]
        self._connections.add(link)
        self._per_ip[ip] += 1
        try:
            await link.run()
        finally:
            self._connections.discard(link)
            self._per_ip[ip] -= 1
            if self._per_ip[ip] <= 0:
                del self._per_ip[ip]
            self._link_gone(link)

    def _link_gone(self, link: Link) -> None:
        key = link.remote_key
        reason = link.close_reason or "closed"
        if key is None:
            log.info("connection %s ended before the handshake: %s",
                     format_addr(link.address), reason)
            return
        if self.links.get(key) is link:
            del self.links[key]
            self._dialer.wake(key)
        if link.peer.up:
            log.info("link to %s down: %s", self._who(key), reason)
            self.events.emit({"type": "link_down", "fingerprint": fingerprint(key),
                              "name": self._display_name(key), "reason": reason})

    def _is_linked(self, key: bytes) -> bool:
        link = self.links.get(key)
        return link is not None and not link.closed

    def _has_working_link(self, key: bytes) -> bool:
        """Linked, and not over a path the network has since moved away from."""
        link = self.links.get(key)
        return link is not None and not link.closed and not self._is_stale(link)

    def _is_stale(self, link: Link) -> bool:
        """A link whose peer now advertises only other addresses, or whose local address went.

        Such a TCP connection usually dies silently; waiting for the idle timeout would leave a
        moved peer unreachable for half a minute. Adverts only make us dial: the handshake on
        the new path must succeed before the old link is dropped.
        """
        if link.remote_key is None:
            return False
        local_ip = link.local_ip
        if self._local_addrs and local_ip and local_ip not in self._local_addrs \
                and not is_loopback(local_ip):
            return True
        if self.discovery is None:
            return False
        day = day_number(time.time())
        advertised = [a for advert in self.discovery.adverts()
                      if advert.may_be(link.remote_key, day) for a in advert.addresses]
        return bool(advertised) and all(host != link.address[0] for host, _ in advertised)

    def _addresses_for(self, key: bytes) -> list[Address]:
        found: list[Address] = []
        contact = self.db.get_contact(key)
        candidates: list[Address] = []
        if contact is not None:
            for text in contact.addrs:
                with contextlib.suppress(ValueError):
                    candidates.append(parse_addr(text))
        candidates += self._learned_addrs.get(key, [])
        if self.discovery is not None:
            day = day_number(time.time())
            for advert in self.discovery.adverts():
                if advert.may_be(key, day):
                    candidates += list(advert.addresses)
        for address in candidates:
            if address not in found:
                found.append(address)
        return found[: 2 * MAX_ADDRS]

    # ------------------------------------------------------------ link events

    def _on_link_event(self, link: Link, event: Any) -> None:
        if isinstance(event, Established):
            self._on_established(link, event)
        elif isinstance(event, RecordReceived):
            try:
                record = decode_record(event.record)
            except ProtocolError as exc:
                log.warning("closing link to %s: %s", format_addr(link.address), exc)
                link.close(f"bad record: {exc}")
                return
            self._on_record(link, record)
        elif isinstance(event, KeyMismatch):
            self._on_key_mismatch(link, event)
        elif isinstance(event, Closed):
            log.debug("session %s closed: %s", format_addr(link.address), event.reason)

    def _on_key_mismatch(self, link: Link, event: KeyMismatch) -> None:
        contact = self.db.get_contact(event.expected)
        who = contact.name if contact else short_fingerprint(event.expected)
        address = format_addr(link.dialed or link.address)
        seen = (address, event.expected, event.presented)
        if seen in self._mismatches:  # loud once; the dialer will keep meeting it
            log.debug("the peer at %s still presents a different key", address)
            return
        if len(self._mismatches) < 1024:
            self._mismatches.add(seen)
        log.warning(
            "WARNING: the peer at %s presented key %s, not the key pinned for %s (%s). Refused."
            " Someone may be impersonating them. If %s really has a new key, verify the safety"
            " number in person, then remove and re-add the contact.",
            address, fingerprint(event.presented), who, fingerprint(event.expected), who,
            extra={"shown_as_event": True})  # UIs show the event; they skip this log line
        self.events.emit({
            "type": "key_mismatch", "address": address, "name": who,
            "expected": fingerprint(event.expected), "presented": fingerprint(event.presented),
        })

    def _on_established(self, link: Link, event: Established) -> None:
        key = event.remote_key
        if key == self.key:
            link.close("connected to ourselves")
            return
        contact = self.db.get_contact(key)
        if contact is not None and contact.state == "blocked":
            link.close("blocked")
            return
        self._persist_replay_guard(key)
        is_contact = contact is not None and contact.state == "contact"
        if not is_contact:
            strangers = sum(1 for c in self._connections if c.peer.stranger)
            if strangers >= self.config.max_strangers:
                link.close("too many strangers connected")
                return
            link.peer.stranger_until = (asyncio.get_running_loop().time()
                                        + self.config.stranger_lifetime)
        if not self._claim_link(key, link):
            return
        link.peer.up = True
        link.peer.since_ms = _now_ms()
        ports = list(dict.fromkeys(port for _, port in self.listen_addresses))
        self._queue(link, Hello(name=self.name, software=SOFTWARE, knows_you=is_contact,
                                ports=tuple(ports[:MAX_ADDRS])))
        if is_contact:
            self._start_sync(link, key)
        log.info("link to %s up (%s, %s)", self._who(key),
                 "outbound" if link.outbound else "inbound", event.pattern)
        self.events.emit({"type": "link_up", "fingerprint": fingerprint(key),
                          "name": self._display_name(key), "contact": is_contact,
                          "address": format_addr(link.address)})

    def _claim_link(self, key: bytes, link: Link) -> bool:
        """Keep exactly one link per peer when both dial at once.

        Rule both sides compute alike: the link whose initiator has the smaller public key
        wins. Two links in the same direction mean the initiator redialled, so the newer wins.
        A stale link (the peer moved, or our address went away) always gives way.
        """
        existing = self.links.get(key)
        if existing is not None and not existing.closed and existing is not link:
            preferred_outbound = self.key < key
            if (existing.outbound == link.outbound or link.outbound == preferred_outbound
                    or self._is_stale(existing)):
                existing.close("replaced by a newer link")
            else:
                link.close("duplicate link")
                return False
        self.links[key] = link
        return True

    def _persist_replay_guard(self, key: bytes) -> None:
        latest = self._replay_guard.latest.get(key)
        if latest is not None:
            self.db.set_ik_timestamp(key, latest)

    def _start_sync(self, link: Link, peer: bytes) -> None:
        conv = self._dm(peer)
        self._queue(link, SyncVector(conv=conv, vector=self._log(conv).vector()))

    def _on_record(self, link: Link, record: Record) -> None:
        key = link.remote_key
        assert key is not None
        contact = self.db.get_contact(key)
        is_contact = contact is not None and contact.state == "contact"
        if isinstance(record, Hello):
            self._on_hello(link, key, record, is_contact)
        elif isinstance(record, ContactRequest):
            if not is_contact:
                self._on_contact_request(link, key, record, contact)
        elif isinstance(record, ContactAccept):
            if is_contact and link.peer.stranger:
                self._promote(link, key)
        elif not is_contact or link.peer.stranger:
            return  # strangers get to ask, nothing more
        elif isinstance(record, Envelope):
            self._on_envelope(link, key, record)
        elif isinstance(record, SyncVector):
            self._on_sync_vector(link, key, record)
        elif isinstance(record, SyncRequest):
            self._on_sync_request(link, key, record)

    def _on_hello(self, link: Link, key: bytes, hello: Hello, is_contact: bool) -> None:
        link.peer.their_name = hello.name
        if not link.outbound:
            learned = [(link.address[0], port) for port in hello.ports if 0 < port < 65536]
            if key not in self._learned_addrs and len(self._learned_addrs) >= MAX_LEARNED:
                # Strangers come and go: forget the oldest rather than grow without end.
                del self._learned_addrs[next(iter(self._learned_addrs))]
            self._learned_addrs[key] = learned[:MAX_ADDRS]
        if is_contact:
            # We added them; if they don't know us yet, ask (once per link) and then wait for
            # them to accept and dial us rather than knocking again and again.
            self._dialer.set_patient(key, not hello.knows_you)
            if not hello.knows_you:
                self._queue(link, ContactRequest(name=self.name, note=""))

    def _on_contact_request(self, link: Link, key: bytes, request: ContactRequest,
                            contact: Contact | None) -> None:
        # A stranger's link has done all it may do once its request is in: free the slot.
        # If we accept, we dial them back at the address their Hello gave.
        self._close_soon(link, "contact request received")
        if contact is not None:
            return  # one request per stranger: it is already listed
        if self.db.count_contacts("request") >= self.config.max_requests:
            log.warning("ignored a contact request: %d are already waiting",
                        self.config.max_requests)
            return
        addrs = [format_addr(a) for a in self._learned_addrs.get(key, [])]
        name = request.name.strip() or short_fingerprint(key)
        if self.db.contact_by_name(name) is not None:
            name = f"{name} ({short_fingerprint(key)})"  # a stranger can't take a known name
        try:
            self.db.add_contact(key, name, "request", addrs=addrs, note=request.note)
        except (StoreError, ValueError) as exc:
            log.warning("ignored a contact request: %s", exc)
            return
        self._schedule_flush()
        self.events.emit({"type": "contact_request", "fingerprint": fingerprint(key),
                          "name": name, "note": request.note})

    def _close_soon(self, link: Link, reason: str) -> None:
        """Close once the records of this read are handled (not from inside their dispatch)."""
        asyncio.get_running_loop().call_soon(link.close, reason)

    def _promote(self, link: Link, key: bytes) -> None:
        """A stranger's link becomes a contact's link (we accepted them, or they us)."""
        link.peer.stranger_until = None
        self._start_sync(link, key)

    # ------------------------------------------------------------ sync

    def _dm(self, peer: bytes) -> bytes:
        """The 1:1 conversation with `peer`, created in the store on first use."""
        conv = self._dm_ids.get(peer)
        if conv is None:
            conv = dm_conversation_id(self.key, peer)
            self.db.ensure_dm(conv, peer)
            self._dm_ids[peer] = conv
            self._dm_peers[conv] = peer
        return conv

    def _log(self, conv: bytes) -> ConversationLog:
        conv_log = self._conv_logs.get(conv)
        if conv_log is None:
            conv_log = ConversationLog(conv, self.db.heads(conv), self.db.max_lamport(conv))
            self._conv_logs[conv] = conv_log
        return conv_log

    def _on_envelope(self, link: Link, peer: bytes, env: Envelope) -> None:
        # In a 1:1 chat only the peer on this authenticated link may author: envelopes are not
        # signed (deniability), so the Noise session is the only proof of authorship.
        if env.author == self.key:
            # Our own words coming back (we lost our store?): unsigned, so the peer's copy can't
            # be told from a forgery. Ignore it; never let it break the link.
            log.debug("ignored an envelope of ours pushed back by %s", short_fingerprint(peer))
            return
        if env.conv != self._dm(peer) or env.author != peer or env.sig:
            link.close("envelope for a conversation this peer may not write to")
            return
        conv_log = self._log(env.conv)
        received = conv_log.receive(env)
        if received.error:
            log.warning("dropped an envelope from %s: %s", short_fingerprint(peer),
                        received.error)
        now = _now_ms()
        for accepted in received.accepted:
            if self.db.insert_envelope(accepted, now, own=False):
                self.events.emit(self._message_event(accepted, own=False, status=None))
        for request in received.requests:
            self._queue(link, request)
        if received.accepted:
            self._schedule_ack(link, env.conv)

    def _schedule_ack(self, link: Link, conv: bytes) -> None:
        """One vector per conversation per flush: it acknowledges everything accepted so far."""
        pending = link.peer.ack_pending
        if conv in pending:
            return
        pending.add(conv)

        def send_ack() -> None:
            pending.discard(conv)
            self._queue(link, SyncVector(conv=conv, vector=self._log(conv).vector()))

        asyncio.get_running_loop().call_soon(send_ack)

    def _on_sync_vector(self, link: Link, peer: bytes, sync: SyncVector) -> None:
        if sync.conv != self._dm(peer):
            return
        conv_log = self._log(sync.conv)
        acked = sync.vector.get(self.key, 0)
        before = self.db.peer_vector(sync.conv, peer).get(self.key, 0)
        mine = conv_log.head(self.key)[0]
        if acked > before and acked <= mine:
            self.db.set_peer_seq(sync.conv, peer, self.key, acked)
            for env in self.db.envelopes(sync.conv, self.key, before + 1, acked):
                self.events.emit({"type": "delivery", "id": envelope_hash(env).hex()[:32],
                                  "status": "delivered", "fingerprint": fingerprint(peer)})
            self._schedule_flush()
        for author, first, last in conv_log.missing_for(sync.vector):
            self._send_range(link, sync.conv, author, first, last)

    def _on_sync_request(self, link: Link, peer: bytes, request: SyncRequest) -> None:
        if request.conv != self._dm(peer):
            return
        self._send_range(link, request.conv, request.author, request.first, request.last)

    def _send_range(self, link: Link, conv: bytes, author: bytes, first: int, last: int) -> None:
        envelopes = self.db.envelopes(conv, author, first, last)
        for env in envelopes:
            self._queue(link, env)
        if author == self.key and envelopes:
            self.db.mark_sent(conv, author, envelopes[-1].seq)

    # ------------------------------------------------------------ commands

    def _contact_for(self, who: str, states: Iterable[str] = ("contact",)) -> Contact:
        """A contact by name (case-insensitive) or fingerprint."""
        contact = self.db.contact_by_name(who)
        if contact is None:
            try:
                contact = self.db.get_contact(parse_fingerprint(who))
            except FingerprintError:
                contact = None
        if contact is None or contact.state not in states:
            raise CommandError("unknown_contact",
                               f"no contact named {who!r}: see 'p2pchat contacts list'")
        return contact

    async def add_contact(self, fingerprint_text: str, name: str,
                          addrs: list[str] | None = None) -> dict[str, Any]:
        try:
            key = parse_fingerprint(fingerprint_text)
        except FingerprintError as exc:
            raise CommandError("bad_fingerprint", f"that fingerprint is not valid: {exc}") from None
        if key == self.key:
            raise CommandError("bad_fingerprint", "that is your own fingerprint")
        name = name.strip()
        if not name or len(name) > 64:
            raise CommandError("bad_name", "a contact name is 1 to 64 characters")
        parsed: list[str] = []
        for text in addrs or []:
            try:
                parsed.append(format_addr(parse_addr(text)))
            except ValueError as exc:
                raise CommandError("bad_address", str(exc)) from None
        same_name = self.db.contact_by_name(name)
        if same_name is not None and same_name.key != key:
            raise CommandError("name_taken", f"you already have a contact named {name!r}")
        existing = self.db.get_contact(key)
        if existing is not None and existing.state == "contact":
            raise CommandError("exists", f"already a contact, named {existing.name!r}")
        if existing is None:
            self.db.add_contact(key, name, "contact", addrs=parsed[:MAX_ADDRS])
        else:
            self.db.set_contact_name(key, name)
            self.db.set_contact_state(key, "contact")
            if parsed:
                self.db.set_contact_addrs(key, parsed[:MAX_ADDRS])
        self._dm(key)
        await self._durable()
        self._on_became_contact(key)
        return self._contact_view(self._contact_for(fingerprint(key)))

    async def accept_contact(self, who: str, name: str | None = None) -> dict[str, Any]:
        contact = self._contact_for(who, states=("request",))
        if name:
            self.db.set_contact_name(contact.key, name)
        self.db.set_contact_state(contact.key, "contact")
        self._dm(contact.key)
        await self._durable()
        self._on_became_contact(contact.key)
        return self._contact_view(self._contact_for(fingerprint(contact.key)))

    def _on_became_contact(self, key: bytes) -> None:
        link = self.links.get(key)
        if link is not None and not link.closed and link.peer.stranger:
            self._queue(link, ContactAccept(name=self.name))
            self._promote(link, key)
        self._dialer.want(key)

    async def block_contact(self, who: str) -> dict[str, Any]:
        contact = self._contact_for(who, states=("contact", "request", "blocked"))
        self.db.set_contact_state(contact.key, "blocked")
        await self._durable()
        self._dialer.forget(contact.key)
        self._close_links(contact.key, "blocked")
        return self._contact_view(self._contact_for(fingerprint(contact.key), ("blocked",)))

    async def remove_contact(self, who: str) -> dict[str, Any]:
        contact = self._contact_for(who, states=("contact", "request", "blocked"))
        self.db.remove_contact(contact.key)
        await self._durable()
        self._dialer.forget(contact.key)
        self._close_links(contact.key, "contact removed")
        return {"removed": fingerprint(contact.key), "name": contact.name}

    def _close_links(self, key: bytes, reason: str) -> None:
        for link in list(self._connections):
            if link.remote_key == key:
                link.close(reason)

    def list_contacts(self) -> list[dict[str, Any]]:
        return [self._contact_view(c) for c in self.db.list_contacts()]

    async def send(self, who: str, text: str) -> dict[str, Any]:
        contact = self._contact_for(who)
        try:
            body = encode_text(text)
        except ProtocolError as exc:
            raise CommandError("bad_text", str(exc)) from None
        if not text.strip():
            raise CommandError("bad_text", "nothing to send")
        conv = self._dm(contact.key)
        env = self._log(conv).append_local(self.key, body, _now_ms())
        self.db.insert_envelope(env, env.sent_at, own=True)
        link = self.links.get(contact.key)
        online = link is not None and not link.closed and not link.peer.stranger
        if online:
            assert link is not None
            self._queue(link, env)  # leaves only after the commit below
            self.db.mark_sent(conv, self.key, env.seq)
        await self._durable()
        event = self._message_event(env, own=True, status="sent" if online else "queued")
        self.events.emit(event)
        return event

    def history(self, who: str, limit: int | None = None) -> list[dict[str, Any]]:
        contact = self._contact_for(who, states=("contact", "request", "blocked"))
        conv = dm_conversation_id(self.key, contact.key)
        views = []
        for stored in self.db.history(conv, limit):
            views.append(self._message_event(stored.envelope, own=stored.own,
                                             status=stored.status if stored.own else None))
        return views

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": fingerprint(self.key),
            "public_key": self.key.hex(),
            "home": str(self.home),
            "listen": [format_addr(a) for a in self.listen_addresses],
            "links": sum(1 for link in self.links.values() if not link.closed),
            "mdns": self.discovery is not None,
            "presence": self.config.presence,
            "version": __version__,
        }

    def peers(self) -> dict[str, Any]:
        links = []
        for link in list(self._connections):
            key = link.remote_key
            if key is None or not link.peer.up or link.closed:
                continue
            contact = self.db.get_contact(key)
            links.append({
                "fingerprint": fingerprint(key),
                "name": self._display_name(key),
                "their_name": link.peer.their_name,
                "state": "stranger" if link.peer.stranger else "contact",
                "contact": contact.state if contact else None,
                "address": format_addr(link.address),
                "direction": "outbound" if link.outbound else "inbound",
                "handshake": link.session.pattern,
                "since": _iso(link.peer.since_ms),
            })
        nearby = self._nearby()
        requests = [self._contact_view(c) for c in self.db.list_contacts(states=("request",))]
        return {"links": links, "nearby": nearby, "requests": requests}

    # ------------------------------------------------------------ views

    def _who(self, key: bytes) -> str:
        """For logs: a contact's name with the short fingerprint, or the fingerprint alone."""
        contact = self.db.get_contact(key)
        short = short_fingerprint(key)
        return f"{contact.name} ({short})" if contact is not None else short

    def _display_name(self, key: bytes) -> str:
        contact = self.db.get_contact(key)
        if contact is not None:
            return contact.name
        return short_fingerprint(key)

    def _contact_view(self, contact: Contact) -> dict[str, Any]:
        return {
            "fingerprint": fingerprint(contact.key),
            "name": contact.name,
            "state": contact.state,
            "note": contact.note,
            "addrs": list(contact.addrs),
            "online": self._is_linked(contact.key),
        }

    def _message_event(self, env: Envelope, *, own: bool, status: str | None) -> dict[str, Any]:
        try:
            text = decode_text(env.body)
        except ProtocolError:
            text = "(unreadable message)"
        peer = self._dm_peers.get(env.conv)
        if peer is None:
            stored = self.db.get_conversation(env.conv)
            peer = stored.peer if stored else None
        event: dict[str, Any] = {
            "type": "message",
            "id": envelope_hash(env).hex()[:32],
            "conversation": fingerprint(peer) if peer else env.conv.hex(),
            "author": fingerprint(env.author),
            "author_name": self.name if env.author == self.key else self._display_name(env.author),
            "seq": env.seq,
            "text": text,
            "sent_at": _iso(env.sent_at),
            "own": own,
        }
        if own:
            event["status"] = status
        return event

    # ------------------------------------------------------------ discovery

    async def _start_discovery(self) -> None:
        from p2pchat.net.discovery import Discovery  # zeroconf only when mDNS is on

        self.discovery = Discovery(interfaces=self.config.mdns_interfaces,
                                   on_change=self._on_discovery_change)
        self._advert = self._make_advert()
        port, properties, instance, _ = self._advert
        await self.discovery.async_start(port, properties, instance)
        if self.config.mdns_interfaces is None:
            from p2pchat.net.discovery import local_addresses

            self._local_addrs = set(local_addresses())
        self._spawn(self._watch_network(), "watch-network")

    def _make_advert(self) -> tuple[int, dict[str, str], str, int]:
        day = day_number(time.time())
        port = self.listen_addresses[0][1]
        if self.config.presence == "private":
            # A fresh random instance name with each tag, so old and new can't be linked.
            return port, private_properties(self.key, day), private_instance_name(), day
        return port, public_properties(self.key, self.name), public_instance_name(self.key), day

    async def _watch_network(self) -> None:
        """Follow renumbering (a new DHCP lease, another hotspot) and the daily private tag."""
        from p2pchat.net.discovery import local_addresses

        while not self._stopping:
            await asyncio.sleep(1.0)
            assert self._advert is not None
            moved = False
            if self.config.mdns_interfaces is None:
                current = set(local_addresses())
                moved = current != self._local_addrs
                self._local_addrs = current
            new_day = day_number(time.time()) != self._advert[3]
            if not (moved or (new_day and self.config.presence == "private")):
                continue
            if moved:
                log.info("local addresses changed to %s", ", ".join(sorted(current)) or "none")
                for link in list(self._connections):
                    if self._is_stale(link):
                        link.close("local address went away")
            self._advert = self._make_advert() if new_day else self._advert
            port, properties, instance, _ = self._advert
            try:
                await self.discovery.async_update(port, properties, instance)
            except Exception as exc:
                log.warning("could not update the mDNS advert: %s", exc)
            self._dialer.wake_all()

    def _on_discovery_change(self) -> None:
        # An advert only suggests where to dial; the handshake decides who answers.
        self._dialer.wake_all()
        self.events.emit({"type": "nearby_changed"})

    def _nearby(self) -> list[dict[str, Any]]:
        if self.discovery is None:
            return []
        day = day_number(time.time())
        contacts = self.db.list_contacts(states=("contact",))
        nearby = []
        for advert in self.discovery.adverts():
            key = advert.public_key
            if key is None:  # a private advert: recognisable only by those who know the key
                key = next((c.key for c in contacts if advert.may_be(c.key, day)), None)
            contact = self.db.get_contact(key) if key is not None else None
            nearby.append({
                "fingerprint": fingerprint(key) if key is not None else None,
                "name": contact.name if contact else (advert.name if key is not None else None),
                "addresses": [format_addr(a) for a in advert.addresses],
                "contact": contact is not None and contact.state == "contact",
                "private": advert.public_key is None,
            })
        return nearby
