"""Node: one user's running chat, the one façade every UI and script talks to.

It wires the parts together and holds no rules of its own: the link table (connections, one link
per peer), trust (contacts and strangers), conversations (the sync driver), the outbox (commit
before anything leaves), nearby (mDNS) and views (what the outside sees). Commands go in, and one
stream of events (message, delivery, contact request, link up/down, key mismatch) comes out;
`control.py` and the terminal UI are thin clients of this class. Each command is handed to the
part that owns its rules; each link event goes through the `Router` (node/router.py).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from p2pchat.core.addressing import Ambiguous, resolve
from p2pchat.core.identity import Identity, fingerprint, short_fingerprint
from p2pchat.core.messages import dm_conversation_id
from p2pchat.core.session import ReplayGuard
from p2pchat.event_types import (
    NearbyChangedEvent,
    NetworksChangedEvent,
    ReadChangedEvent,
    RelaysChangedEvent,
    SelfRenamedEvent,
)
from p2pchat.events import EventBus
from p2pchat.net.addresses import format_addr
from p2pchat.node.admission import Admissions
from p2pchat.node.backlog import Backlog
from p2pchat.node.config import CommandError, NodeConfig
from p2pchat.node.conversations import Conversations, dm_history, now_ms
from p2pchat.node.files import Files
from p2pchat.node.groups import Groups
from p2pchat.node.health import StorageHealth
from p2pchat.node.ik_stamps import IkStamps
from p2pchat.node.links import LinkTable
from p2pchat.node.nearby import Nearby
from p2pchat.node.networks import Networks, listens_at
from p2pchat.node.outbox import Outbox
from p2pchat.node.reach import Reach
from p2pchat.node.reading import ReadPositions
from p2pchat.node.relays import Relays
from p2pchat.node.router import Router
from p2pchat.node.status import status_of
from p2pchat.node.trust import Trust
from p2pchat.node.verified import VerifiedKeys
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

T = TypeVar("T")

log = logging.getLogger("p2pchat.node")

DB_FILE = "p2pchat.db"
LOCK_FILE = "node.lock"
MAX_TEXTS_PER_SEND = 100  # one control call, one commit; each text is still its own message


class Node:
    """The running chat: wiring, the lifecycle, and every command the API offers (docs/api.md),
    each handed to the part that owns its rules; a failed write becomes a clean "storage"
    error."""

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
                                    on_recovered=lambda: self.router.resync_all())
        # Our own listening socket is never a node to ask for admission (trial 11).
        self._listens_at = lambda address: listens_at(address, self.listen_addresses)
        self.networks = Networks(home, identity, name, on_change=self._on_networks_changed,
                                 on_waiting=lambda: self.admissions.wake(),
                                 discovering=lambda: self.nearby.on,
                                 is_own=self._listens_at)
        self.admissions = Admissions(self.networks, spawn=self._spawn,
                                     adverts=lambda: self.nearby.adverts(),
                                     is_own=self._listens_at,
                                     connect_timeout=self.config.connect_timeout,
                                     emit=lambda event: self.events.emit(event))
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
            on_event=lambda link, event: self.router.on_event(link, event),
            on_gone=lambda link: self.router.on_gone(link),
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
            on_change=lambda: self.events.emit(RelaysChangedEvent(type="relays_changed")),
            psk_for=self.networks.relay_psk,
        )
        self.verified = VerifiedKeys(home)
        self.reach = Reach(store=lambda: self.store, dialer=lambda: self.links.dialer,
                           addresses_for=lambda key: self.trust.addresses_for(key),
                           is_linked=self.links.is_linked, who=lambda key: self.views.who(key),
                           stale_after=self.config.stale_address_after)
        self.views = Views(self.key, name, store=lambda: self.db,
                           is_linked=self.links.is_linked,
                           peer_of=lambda conv: self.conversations.peer_of(conv),
                           is_verified=self.verified.is_verified,
                           awaits=self.links.dialer.waits_for_answer,
                           announced_as=lambda name, key: self.trust.announced_as(name, key),
                           their_name=lambda key: (link.peer.their_name if (
                               link := self.links.by_peer.get(key)) and not link.closed else None))
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
            views=self.views, links=self.links,
            contact_state=lambda key: self.db.contacts.state_of(key),
            contact_key=lambda who: self.trust.contact_for(who).key,
        )
        self.reading = ReadPositions(home, store=lambda: self.db)
        self.files = Files(
            self.key, self.config.downloads or home / "downloads", store=lambda: self.db,
            outbox=self.outbox, events=self.events, live_link=self.links.live,
            contact_key=lambda who: self.trust.contact_for(who).key,
            is_contact=lambda key: self.trust.is_contact(key),
            display_name=lambda key: self.views.display_name(key),
            group_conv=lambda which: group_conv(self.groups, which),
            group_members=lambda conv: group_members(self.groups, conv),
            post_group=lambda which, bodies: self.groups.send(which, [], bodies=bodies),
            spawn=self._spawn, auto_accept_size=self.config.auto_accept_size,
        )
        self.groups.on_body = self.files.on_group_body
        self.router = Router(
            name=lambda: self.name, listen_addresses=lambda: self.listen_addresses,
            knows=self._knows, outbox=self.outbox, backlog=self.backlog, events=self.events,
            views=self.views, links=self.links, networks=self.networks, trust=self.trust,
            conversations=self.conversations, groups=self.groups, files=self.files,
            is_group_peer=self._is_group_peer, reach=self.reach,
        )

    def _knows(self, key: bytes) -> bool:
        """A contact or fellow member: linking without a network's key (protocol.md 10)."""
        return self.trust.is_contact(key) or self._is_group_peer(key)

    def _is_group_peer(self, key: bytes) -> bool:
        return self.db.contacts.state_of(key) != "blocked" and self.groups.is_group_peer(key)

    @property
    def db(self) -> Store:
        """The open store; only while the node runs."""
        assert self.store is not None, "node not started"
        return self.store

    @property
    def listen_addresses(self) -> list[tuple[str, int]]:
        """The addresses the node listens on (ports resolved)."""
        return self.links.listen_addresses

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Take the home's lock, open the store, listen, and start dialling and discovery."""
        self._lock_fd = lock_home(self.home)
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self.reach.started()
        try:
            self.store = Store(self.home / DB_FILE, self.identity.derive_key("store"))
        except StoreError as exc:
            raise CommandError("storage", f"cannot open the message store: {exc}") from None
        self.networks.load()
        self.trust.restore_replay_guard()
        self.groups.load()
        self.files.load()
        # Our own key's row holds the floor of the IK timestamps we send (never a peer's row:
        # a link to ourselves is refused before anything is recorded).
        own_floor = self.store.ik_stamps.latest().get(self.key, 0)
        self.links.ik_stamps = IkStamps(own_floor, self._persist_ik_floor)
        # Only private presence changes the port at each start (docs/privacy.md says why).
        public = self.config.presence != "private"
        await self.links.listen_configured(self.home, keep=self.config.keep_port and public,
                                           record=public)
        self._spawn(self._ticker(), "ticker")
        self._spawn(self.admissions.run(), "admissions")
        await self.relays.start()
        for contact in self.store.contacts.list_all(states=("contact",)):  # held: 14c, B6
            self.links.dialer.want(contact.key, self.store.contacts.request_held(contact.key))
        if self.config.mdns:
            await self.nearby.start(self.listen_addresses[0][1])
        log.info("node %s listening on %s", short_fingerprint(self.key),
                 ", ".join(format_addr(a) for a in self.listen_addresses))

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
        """Stop everything, commit what is pending, close the store and release the lock."""
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
            self.files.close()
            try:
                self.outbox.close()
            except StoreError as exc:
                log.error("could not commit on shutdown: %s", exc)
            self.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)

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
            self.files.tick(now)

    # ------------------------------------------------------------ commands

    async def _storing(self, command: Coroutine[Any, Any, T]) -> T:
        """Run a command that writes; a write that fails undoes the turn as a failed commit
        does (memory is rebuilt from the store), and the user gets a clean "storage" error."""
        try:
            return await command
        except StoreError as exc:
            self.outbox.fail(exc)
            raise CommandError("storage", f"could not save: {exc}") from None

    async def add_contact(self, fingerprint_text: str, name: str,
                          addrs: list[str] | None = None) -> dict[str, Any]:
        """Add a contact by fingerprint, with a name and optional addresses."""
        return await self._storing(self.trust.add_contact(fingerprint_text, name, addrs))

    async def set_contact_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]:
        """Replace the addresses a contact is dialled at."""
        return await self._storing(self.trust.set_contact_addrs(who, addrs))

    async def accept_contact(self, who: str, name: str | None = None,
                             anyway: bool = False) -> dict[str, Any]:
        """Accept a contact request, optionally under another name (see Trust's)."""
        return await self._storing(self.trust.accept_contact(who, name, anyway))

    async def block_contact(self, who: str) -> dict[str, Any]:
        """Block a contact or a stranger: no links, messages or requests from them."""
        return await self._storing(self.trust.block_contact(who))

    async def remove_contact(self, who: str) -> dict[str, Any]:
        """Remove a contact; its history is kept."""
        return await self._storing(self.trust.remove_contact(who))

    async def unblock_contact(self, who: str) -> dict[str, Any]:
        """Undo a block."""
        return await self.trust.unblock_contact(who)

    async def rename_contact(self, who: str, name: str) -> dict[str, Any]:
        """Give a contact another name."""
        return await self.trust.rename_contact(who, name)

    def verify_contact(self, who: str, verified: bool) -> dict[str, Any]:
        """Mark a contact verified (the safety numbers matched in person), or not any more."""
        contact = self.trust.contact_for(who, states=("contact", "request", "blocked"))
        try:
            self.verified.set(contact.key, verified, now_ms())
        except OSError as exc:
            raise CommandError("storage", f"could not save: {exc}") from None
        self.events.emit({"type": "contacts_changed", "fingerprint": fingerprint(contact.key)})
        return self.views.contact(contact)

    def rekey(self) -> dict[str, Any]:
        """New session keys now: every contact link is closed and dialled again at once (a new
        Noise handshake), so nothing of the old keys protects later messages."""
        return {"links": self.links.restart_contact_links()}

    def list_contacts(self) -> list[dict[str, Any]]:
        """Every contact, request and blocked key, as `Views.contact` shows them."""
        return self.reach.contacts(self.trust.list_contacts())

    def rename_self(self, name: str) -> dict[str, Any]:
        """A new name for us: kept with the identity, sent at once in a fresh Hello on every
        live link, and carried by every later hello, request and public advert."""
        from p2pchat.storage import keystore

        try:
            name = keystore.rename(self.home, name)
        except keystore.KeystoreError as exc:
            raise CommandError("bad_name", str(exc)) from None
        self.name = name
        for part in (self.views, self.trust, self.nearby):
            part.rename_self(name)
        told = self.router.announce_name()
        self.events.emit(SelfRenamedEvent(type="self_renamed", name=name))  # screens follow
        return self.status() | {"told": told}

    def mark_read(self, who: str, message_id: str) -> dict[str, Any]:
        """`who`: a contact, or a group (by title or id) when no contact has that name."""
        name = reading_name(who, self.trust, self.groups)
        try:
            moved = self.reading.mark_read(name, message_id)
        except ValueError as exc:
            raise CommandError("bad_request", str(exc)) from None
        if moved:  # every screen's unread counts follow a read in one (trial 4, B11)
            self.events.emit(ReadChangedEvent(type="read_changed", conversation=name))
        return {}

    def unread(self) -> dict[str, int]:
        """Unread messages per contact (fingerprint -> count, at most 99) and per group (its id
        -> count), for every screen."""
        convs = {fingerprint(c.key): dm_conversation_id(self.key, c.key)
                 for c in self.db.contacts.list_all(states=("contact",))}
        convs.update((conv.hex(), conv) for conv in self.groups.ids())
        return {name: n for name, conv in convs.items() if (n := self.reading.unread(name, conv))}

    async def send(self, who: str, text: str) -> dict[str, Any]:
        """To a contact, or to a group (by title or id) when no contact has that name."""
        [event] = await self.send_many(who, [text])
        return event

    async def send_many(self, who: str, texts: list[str]) -> list[dict[str, Any]]:
        """Several messages to one contact or group, in order, in one commit: all or none."""
        if not 1 <= len(texts) <= MAX_TEXTS_PER_SEND:
            raise CommandError("bad_request",
                               f"send 1 to {MAX_TEXTS_PER_SEND} texts at a time, not {len(texts)}")
        kind, name = which_of(who, ("contact",), self.trust, self.groups)
        if kind == "group":
            return await self._storing(self.groups.send(name, texts))
        contact = self.trust.contact_for(name)
        return await self._storing(self.conversations.send(contact.key, texts))

    # ------------------------------------------------------------ files (node/files.py)

    async def file_send(self, who: str, paths: list[str]) -> list[dict[str, Any]]:
        """Offer files to a contact or a group; each offer is stored before the answer."""
        return await self._storing(self.files.send(who, paths))

    async def file_accept(self, id_text: str) -> dict[str, Any]:
        """Accept an offered file."""
        return await self._storing(self.files.accept(id_text))

    async def file_decline(self, id_text: str) -> dict[str, Any]:
        """Decline an offered file."""
        return await self._storing(self.files.decline(id_text))

    async def file_cancel(self, id_text: str) -> dict[str, Any]:
        """Cancel a transfer either way."""
        return await self._storing(self.files.cancel(id_text))

    def history(self, who: str, limit: int | None = None, *,
                changes: bool = False) -> list[dict[str, Any]]:
        """The messages with a contact, a group, or a removed contact (by fingerprint);
        `changes`: a group's membership changes as lines too."""
        return history_of(self, who, limit, changes)

    async def create_group(self, title: str, invite: list[str] | None = None) -> dict[str, Any]:
        """Create a group owned by us, inviting the contacts `invite` names (all or none)."""
        return await self._storing(self.groups.create(title, invite))

    async def invite_to_group(self, group: str, who: str) -> dict[str, Any]:
        """Invite a contact into a group we own."""
        return await self._storing(self.groups.invite(group, who))

    async def remove_from_group(self, group: str, member: str) -> dict[str, Any]:
        """Remove a member from a group we own (a new epoch key)."""
        return await self._storing(self.groups.remove(group, member))

    async def admin_group(self, group: str, member: str) -> dict[str, Any]:
        """Make a member an admin (owner only)."""
        return await self._storing(self.groups.admin(group, member))

    async def unadmin_group(self, group: str, member: str) -> dict[str, Any]:
        """Make an admin an ordinary member again (owner only)."""
        return await self._storing(self.groups.unadmin(group, member))

    async def transfer_group(self, group: str, member: str) -> dict[str, Any]:
        """Hand the group's ownership to a member (owner only)."""
        return await self._storing(self.groups.transfer(group, member))

    async def leave_group(self, group: str) -> dict[str, Any]:
        """Leave a group; its history is kept."""
        return await self._storing(self.groups.leave(group))

    async def accept_group(self, group: str, wait: bool = False) -> dict[str, Any]:
        """Accept an invitation to a group (`wait`: Groups.accept)."""
        return await self._storing(self.groups.accept(group, wait))

    async def decline_group(self, group: str) -> dict[str, Any]:
        """Decline an invitation to a group."""
        return await self._storing(self.groups.decline(group))

    async def forget_group(self, group: str) -> dict[str, Any]:
        """Forget a group left or removed from, with its messages."""
        return await self._storing(self.groups.forget_group(group))

    def list_groups(self) -> list[dict[str, Any]]:
        """Every group we are in or left."""
        return self.groups.listing()

    def group_members(self, group: str) -> list[dict[str, Any]]:
        """A group's members, online or not; ours under the name we have now (after a
        rename the group's record may still hold the old one)."""
        members = self.groups.members(group)
        for member in members:
            if member["you"]:
                member["name"] = self.name
        return members

    def status(self) -> dict[str, Any]:
        """Who we are, where we listen, and how the node is doing (docs/api.md)."""
        return status_of(self)

    def peers(self) -> dict[str, Any]:
        """The live links, who is nearby and the pending requests (docs/api.md)."""
        links = [{**view, **self.networks.peer_view(link.remote_key or b"")}
                 for link in list(self.links.connections)
                 if (view := self.views.link(link)) is not None]
        linked_at = {format_addr(a) for key in self.links.by_peer
                     for a in [*self.trust.addresses_for(key), *self.links.dialed_at(key)]}
        return {"links": links, "nearby": self.nearby.view(self.db.contacts.get, linked_at),
                "requests": self.trust.requests(), "nearby_hidden": self.nearby.hidden()}

    # ------------------------------------------------------------ storage health

    def _reload_memory(self) -> None:
        """A commit failed: what memory holds may be ahead of the store; rebuild it."""
        self.conversations.reload()
        self.groups.reload()

    def _on_networks_changed(self) -> None:
        if self.store is not None:  # running: tell the LAN, and look for the new members
            self._spawn(self.nearby.readvertise(), "readvertise")
            # A stranger we met only through a network we left has no business here any more.
            for key, link in list(self.links.by_peer.items()):
                met = self.networks.network_of(key)
                if link.peer.stranger and met is not None and met not in self.networks.names():
                    link.close("left the network")
        self.events.emit(NetworksChangedEvent(
            type="networks_changed", networks=self.networks.names(),
            waiting=[n for n, _ in self.networks.waiting()],
            refused=self.networks.refused_names()))

    def _on_nearby_change(self) -> None:
        self.links.dialer.wake_all()
        self.events.emit(NearbyChangedEvent(type="nearby_changed"))


def reading_name(who: str, trust: Trust, groups: Groups) -> str:
    """What read positions are kept under for `who`: a contact's fingerprint, or a group's id
    when no contact has that name (node/reading.py)."""
    states = ("contact", "request", "blocked")
    kind, which = which_of(who, states, trust, groups)
    if kind == "group":
        return groups.find(which).conv.hex()
    return fingerprint(trust.contact_for(which, states=states).key)


def which_of(who: str, states: tuple[str, ...], trust: Trust, groups: Groups) -> tuple[str, str]:
    """A contact or a group: `#NAME` the group, `@NAME` the contact, a bare name that fits
    both refused (core.addressing)."""
    def is_contact(name: str) -> bool:
        try:
            trust.contact_for(name, states=states)
        except CommandError:
            return False
        return True

    try:
        return resolve(who, is_contact, groups.names)
    except Ambiguous as exc:
        raise CommandError("ambiguous", str(exc)) from None


def lock_home(home: Path) -> int:
    """Take the home's lock (one node per home) and return its descriptor; "busy" if taken."""
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise CommandError("busy", f"a node is already running for {home}") from None
        raise
    return fd


def group_conv(groups: Groups, which: str) -> bytes | None:
    """The id of the group `which` names (title or id), or None (for `Files`)."""
    try:
        return groups.find(which).conv
    except CommandError:
        return None


def group_members(groups: Groups, conv: bytes) -> frozenset[bytes]:
    """A group's current members, none once we left it (for `Files`)."""
    try:
        g = groups.find(conv.hex())
    except CommandError:
        return frozenset()
    return frozenset() if g.left else frozenset(g.state.members)


def history_of(node: Node, who: str, limit: int | None, changes: bool) -> list[dict[str, Any]]:
    """`Node.history`: a removed contact's kept conversation first (by the name we gave them
    or the fingerprint), then a group or a contact."""
    from p2pchat.offline import removed_contact_conv

    states = ("contact", "request", "blocked")
    former = removed_contact_conv(node.db, node.key, who, node.groups.names)
    if former is not None:
        return dm_history(node.views, node.db, former, limit)
    kind, name = which_of(who, states, node.trust, node.groups)
    if kind == "group":
        return node.groups.history(name, limit, changes=changes)
    contact = node.trust.contact_for(name, states=states)
    return node.conversations.history(contact.key, limit)
