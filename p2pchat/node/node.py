"""Node: one user's running chat, the one façade every UI and script talks to.

It wires the parts together and holds no rules of its own: the link table (connections, one link
per peer), trust (contacts and strangers), conversations (the sync driver), the outbox (commit
before anything leaves), nearby (mDNS) and views (what the outside sees). Commands go in, and one
stream of events (message, delivery, contact request, link up/down, key mismatch) comes out;
`control.py` and the terminal UI are thin clients of this class. The commands themselves, each
handed to the part that owns it, are in `node/commands.py`.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import Identity, fingerprint, short_fingerprint
from p2pchat.core.messages import (
    ContactAccept,
    ContactRequest,
    Envelope,
    Hello,
    Record,
    SyncRequest,
    SyncVector,
    UnknownRecord,
    decode_record,
)
from p2pchat.core.session import Closed, Established, KeyMismatch, RecordReceived, ReplayGuard
from p2pchat.events import EventBus
from p2pchat.net.addresses import format_addr
from p2pchat.net.link import Link
from p2pchat.node.admission import Admissions
from p2pchat.node.backlog import Backlog
from p2pchat.node.commands import NodeCommands
from p2pchat.node.config import MAX_ADDRS, SOFTWARE, CommandError, NodeConfig
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.groups import Groups
from p2pchat.node.health import StorageHealth
from p2pchat.node.ik_stamps import IkStamps
from p2pchat.node.links import LinkTable
from p2pchat.node.nearby import Nearby
from p2pchat.node.networks import Networks
from p2pchat.node.outbox import Outbox
from p2pchat.node.reading import ReadPositions
from p2pchat.node.relays import Relays
from p2pchat.node.trust import Trust
from p2pchat.node.verified import VerifiedKeys
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

DB_FILE = "p2pchat.db"
LOCK_FILE = "node.lock"


class Node(NodeCommands):
    def __init__(self, home: Path, identity: Identity, name: str,
                 config: NodeConfig | None = None) -> None:
        self.home = home
        self.identity = identity
        self.key = identity.public_key
        self.name = name
        self.config = config or NodeConfig()
        self.events = EventBus()
        self.store: Store | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock_fd: int | None = None
        self._stopping = False

        self.outbox = Outbox(lambda: self.db, on_failed=lambda exc: self.health.failed(exc),
                             on_committed=lambda: self.health.committed())
        self.health = StorageHealth(store=lambda: self.db, events=self.events, spawn=self._spawn,
                                    on_failed=self._reload_memory,
                                    on_recovered=self._resync_all)
        self.networks = Networks(home, identity, name, on_change=self._on_networks_changed,
                                 on_waiting=lambda: self.admissions.wake())
        self.admissions = Admissions(self.networks, spawn=self._spawn,
                                     adverts=lambda: self.nearby.adverts(),
                                     connect_timeout=self.config.connect_timeout)
        self.nearby = Nearby(
            self.key, name, self.config, spawn=self._spawn,
            contacts=lambda: self.db.contacts.list_all(states=("contact",)),
            on_moved=lambda: self.links.close_stale("local address went away"),
            on_change=self._on_nearby_change,
            wake_dialer=lambda: self.links.dialer.wake_all(),
            new_port=lambda: self.links.new_ports(),
            networks=self.networks,
        )
        replay_guard = ReplayGuard()
        self.links = LinkTable(
            identity, self.config, replay_guard=replay_guard, spawn=self._spawn,
            on_event=self._on_link_event, on_gone=self._on_link_gone,
            addresses_for=lambda key: self.trust.addresses_for(key),
            is_stale=self.nearby.is_stale, relays=lambda: self.relays.attached(),
            network_psks=self.networks.psks, psk_for=self.networks.psk_for,
            is_contact=self._knows, on_admission=self.admissions.answer,
            hidden=self.networks.hidden,
        )
        self.relays = Relays(
            identity, self.config, spawn=self._spawn,
            ik_timestamp=lambda key: self.links.ik_stamps.next(key),
            accept=self.links.accept_relayed, on_attached=self.links.dialer.wake_all,
            psk_for=self.networks.relay_psk,
        )
        self.verified = VerifiedKeys(home)
        self.views = Views(self.key, name, store=lambda: self.db,
                           is_linked=self.links.is_linked,
                           peer_of=lambda conv: self.conversations.peer_of(conv),
                           is_verified=self.verified.is_verified)
        self.backlog = Backlog(self.key, store=lambda: self.db, outbox=self.outbox,
                               spawn=self._spawn)
        self.conversations = Conversations(
            self.key, store=lambda: self.db, outbox=self.outbox, backlog=self.backlog,
            events=self.events,
            views=self.views, live_link=self.links.live,
        )
        self.trust = Trust(
            self.key, name, self.config, store=lambda: self.db, outbox=self.outbox,
            events=self.events, views=self.views, links=self.links, replay_guard=replay_guard,
            ensure_dm=self.conversations.dm, on_promoted=self.conversations.start_sync,
            advertised=self.nearby.addresses_of, is_group_peer=self._is_group_peer,
        )
        self.groups = Groups(
            identity, name, self.config, store=lambda: self.db, outbox=self.outbox,
            sender=self.backlog, conversations=self.conversations, events=self.events,
            views=self.views, links=self.links, contact_state=self._contact_state,
            contact_key=lambda who: self.trust.contact_for(who).key,
        )
        self.reading = ReadPositions(home, store=lambda: self.db)

    def _knows(self, key: bytes) -> bool:
        """A contact or a fellow group member: who may still link to a node in a network
        without that network's key (docs/protocol.md section 10)."""
        return self.trust.is_contact(key) or self._is_group_peer(key)

    def _is_group_peer(self, key: bytes) -> bool:
        return self.db.contacts.state_of(key) != "blocked" and self.groups.is_group_peer(key)

    def _contact_state(self, key: bytes) -> str | None:
        return self.db.contacts.state_of(key)

    @property
    def db(self) -> Store:
        assert self.store is not None, "node not started"
        return self.store

    @property
    def listen_addresses(self) -> list[tuple[str, int]]:
        return self.links.listen_addresses

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
        self.networks.load()
        self.trust.restore_replay_guard()
        self.groups.load()
        # Our own key's row holds the floor of the IK timestamps we send (never a peer's row:
        # a link to ourselves is refused before anything is recorded).
        own_floor = self.store.ik_stamps.latest().get(self.key, 0)
        self.links.ik_stamps = IkStamps(own_floor, self._persist_ik_floor)
        await self._listen()
        self._spawn(self._ticker(), "ticker")
        self._spawn(self.admissions.run(), "admissions")
        await self.relays.start()
        for contact in self.store.contacts.list_all(states=("contact",)):
            self.links.dialer.want(contact.key)
        if self.config.mdns:
            await self.nearby.start(self.listen_addresses[0][1])
        log.info("node %s listening on %s", short_fingerprint(self.key),
                 ", ".join(format_addr(a) for a in self.listen_addresses))

    async def _listen(self) -> None:
        from p2pchat import settings

        keep = self.config.keep_port and self.config.presence != "private" \
            and not self.networks.joined
        kept = settings.kept_port(self.home) if keep else 0
        for index, (host, port) in enumerate(self.config.listen):
            if index == 0 and port == 0 and kept:
                try:
                    await self.links.listen(host, kept)
                    continue
                except OSError as exc:
                    log.warning("cannot listen on port %d as last time (%s): a new port;"
                                " contacts who typed the old address need the new one",
                                kept, exc.strerror or exc)
            await self.links.listen(host, port)
        if keep and self.listen_addresses and self.config.listen[0][1] == 0:
            settings.keep_port(self.home, self.listen_addresses[0][1])

    def _persist_ik_floor(self, floor: int) -> None:
        try:
            self.db.ik_stamps.record(self.key, floor)
        except StoreError as exc:
            self.outbox.fail(exc)
            return
        self.outbox.schedule_flush()

    async def start_discovery(self) -> None:
        """Start mDNS on a node started without it (the chat screen draws first and starts
        discovery, the slow part, behind it)."""
        if not self.nearby.on and self.listen_addresses:
            await self.nearby.start(self.listen_addresses[0][1])

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        await self.nearby.stop()
        await self.relays.stop()
        await self.links.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.links.wait_closed()
        if self.store is not None:
            try:
                self.outbox.close()
            except StoreError as exc:
                log.error("could not commit on shutdown: %s", exc)
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
            self.links.tick(now)
            self.conversations.expire(now)
            self.groups.tick(now)

    # ------------------------------------------------------------ link events

    def _on_link_event(self, link: Link, event: Any) -> None:
        try:
            self._route_link_event(link, event)
        except StoreError as exc:
            # A write failed (disk full, I/O error): undo the turn and keep the link; what it
            # carried is asked for again once storage works (StorageHealth).
            self.outbox.fail(exc)
            if isinstance(event, Established):
                link.close("storage failing")  # half-admitted: let the dialer start over

    def _route_link_event(self, link: Link, event: Any) -> None:
        if isinstance(event, Established):
            self._on_established(link, event)
        elif isinstance(event, RecordReceived):
            try:
                record = decode_record(event.record)
            except UnknownRecord as exc:  # a later version's record: ignored (protocol 7)
                log.debug("ignored a record from %s: %s", format_addr(link.address), exc)
                return
            except ProtocolError as exc:
                log.warning("closing link to %s: %s", format_addr(link.address), exc)
                link.close(f"bad record: {exc}")
                return
            self._on_record(link, record)
        elif isinstance(event, KeyMismatch):
            self.trust.on_key_mismatch(link, event)
        elif isinstance(event, Closed):
            log.debug("session %s closed: %s", format_addr(link.address), event.reason)

    def _on_established(self, link: Link, event: Established) -> None:
        key = event.remote_key
        if not self.networks.admit(link, event, self._knows(key)):
            return
        is_contact = self.trust.admit(link, key)
        if is_contact is None or not self.links.claim(key, link):
            return
        link.peer.up = True
        link.peer.since_ms = now_ms()
        self.outbox.queue(link, self._hello(is_contact))
        if is_contact:
            self.conversations.start_sync(link, key)
        self.groups.start_sync(link, key)
        log.info("link to %s up (%s, %s)", self.views.who(key),
                 "outbound" if link.outbound else "inbound", event.pattern)
        self.events.emit({"type": "link_up", "fingerprint": fingerprint(key),
                          "name": self.views.display_name(key), "contact": is_contact,
                          "address": format_addr(link.address),
                          "path": "direct" if link.relay is None else "relay",
                          "relay": link.relay})

    def _hello(self, is_contact: bool) -> Hello:
        ports = list(dict.fromkeys(port for _, port in self.listen_addresses))
        return Hello(name=self.name, software=SOFTWARE, knows_you=is_contact,
                     ports=tuple(ports[:MAX_ADDRS]))

    def _announce_name(self) -> int:
        """Our name changed: a fresh Hello on every live link (docs/protocol.md 7.1), so each
        linked peer sees it now; the others get it with the next link's Hello."""
        sent = 0
        for key, link in list(self.links.by_peer.items()):
            if link.peer.up and not link.closed:
                self.outbox.queue(link, self._hello(self.trust.is_contact(key)))
                sent += 1
        return sent

    def _on_record(self, link: Link, record: Record) -> None:
        key = link.remote_key
        assert key is not None
        if isinstance(record, Hello):
            self.trust.on_hello(link, key, record)
        elif isinstance(record, ContactRequest):
            self.trust.on_contact_request(link, key, record)
        elif isinstance(record, ContactAccept):
            self.trust.on_contact_accept(link, key)
        elif link.peer.stranger:
            return  # strangers get to ask, nothing more
        elif self.groups.claims(record, key):
            self.groups.on_record(link, key, record)
        elif not self.trust.is_contact(key):
            return  # a fellow group member who is not a contact: group records only
        elif isinstance(record, Envelope):
            self.conversations.on_envelope(link, key, record)
        elif isinstance(record, SyncVector):
            self.conversations.on_sync_vector(link, key, record)
        elif isinstance(record, SyncRequest):
            self.conversations.on_sync_request(link, key, record)

    def _on_link_gone(self, link: Link) -> None:
        self.backlog.forget(link)
        self.groups.forget(link)
        self.conversations.release(link)
        key = link.remote_key
        reason = link.close_reason or "closed"
        if key is None:
            log.info("connection %s ended before the handshake: %s",
                     format_addr(link.address), reason)
        elif link.peer.up:
            log.info("link to %s down: %s", self.views.who(key), reason)
            # A link replaced by a newer one (both sides dialled at once, say) goes down after
            # its successor came up: `online` says the peer is still linked.
            self.events.emit({"type": "link_down", "fingerprint": fingerprint(key),
                              "name": self.views.display_name(key), "reason": reason,
                              "online": self.links.is_linked(key)})
        elif reason.startswith("protocol revision"):  # we told a too-old peer (protocol.md 12)
            log.warning("link to %s refused: %s", self.views.who(key), reason)

    def _reload_memory(self) -> None:
        """A commit failed: what memory holds may be ahead of the store; rebuild it."""
        self.conversations.reload()
        self.groups.reload()

    def _resync_all(self) -> None:
        """Storage works again: every contact's live link gets our fresh vector (they send what
        we dropped) and what of ours they have not acknowledged; every member's link our
        groups' vectors and head ops (we pull what we dropped)."""
        for key, link in list(self.links.by_peer.items()):
            if not link.closed and not link.peer.stranger and self.trust.is_contact(key):
                self.conversations.resync(link, key)
            if not link.closed and not link.peer.stranger:
                self.groups.start_sync(link, key)

    def _on_networks_changed(self) -> None:
        if self.store is not None:  # running: tell the LAN, and look for the new members
            self._spawn(self.nearby.readvertise(), "readvertise")
            # A stranger we met only through a network we left has no business here any more.
            for key, link in list(self.links.by_peer.items()):
                met = self.networks.network_of(key)
                if link.peer.stranger and met is not None and met not in self.networks.names():
                    link.close("left the network")
        self.events.emit({"type": "networks_changed", "networks": self.networks.names()})

    def _on_nearby_change(self) -> None:
        self.links.dialer.wake_all()
        self.events.emit({"type": "nearby_changed"})
