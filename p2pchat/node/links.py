"""The link table: listening, accepting, dialling, and the rule of one live link per peer.

Every connection, over TCP or a relay, is a `Link` (net/link.py) running one core `Session`. This
part owns all of them: it caps how many there are (in total and per source address), keeps
exactly one authorised link per peer when both sides dial at once, drives the dialer that keeps
reaching wanted peers, and ticks the sessions (keepalives, timeouts) and the strangers' time
limit. What a link *means* (contact or stranger, which records it may carry) is decided by the
node's other parts, through the `on_event` and `on_gone` callbacks it is built with.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from p2pchat.core.identity import Identity
from p2pchat.core.session import ReplayGuard, Session
from p2pchat.net.addresses import Address, format_addr, plain_host
from p2pchat.net.dialer import Dialer
from p2pchat.net.link import OnEvent, TcpLink
from p2pchat.net.listen import bound_addresses, listen
from p2pchat.net.relay_connection import NOT_ON_RELAY, RelayConnection, RelayedLink
from p2pchat.node.config import NodeConfig
from p2pchat.node.ik_stamps import IkStamps
from p2pchat.node.peer_state import PeerLink, PeerState

log = logging.getLogger("p2pchat.node")

LinkEvents = OnEvent[PeerState]
Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
# (reader, writer, the bytes read so far, source address): node/admission.py answers.
Admission = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes, str],
                     Coroutine[Any, Any, None]]
ADMISSION_KINDS = frozenset({0x60})  # ADMIT1 (core/admission.py)


class LinkTable:
    def __init__(
        self,
        identity: Identity,
        config: NodeConfig,
        *,
        replay_guard: ReplayGuard,
        spawn: Spawn,
        on_event: LinkEvents,
        on_gone: Callable[[PeerLink], None],
        addresses_for: Callable[[bytes], list[Address]],
        is_stale: Callable[[PeerLink], bool],
        network_psks: Callable[[], tuple[bytes, ...]] = tuple,
        psk_for: Callable[[bytes], tuple[bytes, ...]] = lambda key: (),
        is_contact: Callable[[bytes], bool] = lambda key: True,
        relays: Callable[[], list[RelayConnection]] = list,
        on_admission: Admission | None = None,
        hidden: Callable[[], bool] = lambda: False,
    ) -> None:
        self._identity = identity
        self._key = identity.public_key
        self._config = config
        self._spawn = spawn
        self._on_event = on_event
        self._on_gone = on_gone
        self._network_psks = network_psks  # every network we answer for (node/networks.py)
        self._psk_for = psk_for  # the network to dial a peer in, if any
        self._is_contact = is_contact
        # A relayed link's path is the relay's: adverts of the peer's own addresses say
        # nothing about it.
        self._path_stale = is_stale
        self._relays = relays
        self._on_admission = on_admission  # a connection that opens with ADMIT1 (10.7)
        self._hidden = hidden  # waiting for a network: strangers get no plain handshake
        self.by_peer: dict[bytes, PeerLink] = {}  # the one live, authorised link per peer
        self.connections: set[PeerLink] = set()  # every connection, handshaking ones included
        self.listen_addresses: list[Address] = []
        self._replay_guard = replay_guard
        self.dialer = Dialer(self.dial, addresses_for, self.has_working_link,
                             cap=config.dial_cap, patient_interval=config.knock_interval,
                             fallback=self.dial_via_relay,
                             fallback_after=config.relay_after)
        self._per_ip: Counter[str] = Counter()
        self._servers: list[asyncio.Server] = []
        self.ik_stamps = IkStamps()  # the node gives it the stored floor at start
        self._stopping = False
        self.port_changed: int | None = None  # the kept port this start could not have
        # Inbound handshakes refused because we answer only contacts and networks' members
        # (in a network, or waiting to be admitted to one): `status` says how many (trial 4, B4).
        self.strangers_refused = 0
        self.unanswered: set[bytes] = set()  # keys whose nodes closed our handshake unanswered
        # Of those, the address where their node closed a direct dial unanswered: a relay
        # that does not have them says nothing of it (trial 13b, B3: its NotHere cleared the
        # note each round, and "not linked" became "offline"); that address refusing the
        # connection itself does (their node went from it).
        self._refused_at: dict[bytes, Address] = {}

    # ------------------------------------------------------------ listening

    async def listen(self, host: str, port: int) -> None:
        """Accept connections on `host`:`port` (0: any free port)."""
        server = await listen(self._on_inbound, host, port)
        self._servers.append(server)
        self.listen_addresses += bound_addresses(server)

    async def new_ports(self) -> int | None:
        """Listen on fresh OS-chosen ports (where the user fixed none) and close the old
        listeners; links already up stay up. Returns the first new port, or None if the
        ports are fixed. Private presence uses it so adverts of different days or networks
        can't be linked by port (docs/privacy.md)."""
        if any(port != 0 for _, port in self._config.listen):
            return None
        old = self._servers
        self._servers, self.listen_addresses = [], []
        for host, _ in self._config.listen:
            await self.listen(host, 0)
        for server in old:
            server.close()
        return self.listen_addresses[0][1]

    async def listen_configured(self, home: Path, *, keep: bool, record: bool = True) -> None:
        """Listen on every configured address; with `keep`, the first one on the port it had
        last time when it asks for any port (friends who typed the address still reach us).
        Where it listens and whether it looks for people is kept for the next start that is
        told neither (cli/serve.py): never wider than this one (trial 9, B1). With `record`,
        the port too, even when this run was told "any port" (trial 4, 16). `port_changed` is
        the kept port that could not be had again, for `status` to say."""
        from p2pchat import settings

        last = settings.last_run(home)
        kept = last.port if keep else 0
        for index, (host, port) in enumerate(self._config.listen):
            if index == 0 and port == 0 and kept:
                try:
                    await self.listen(host, kept)
                    continue
                except OSError as exc:
                    self.port_changed = kept
                    log.warning("cannot listen on port %d as last time (%s): a new port;"
                                " contacts who typed the old address need the new one",
                                kept, exc.strerror or exc)
            await self.listen(host, port)
        if self.listen_addresses and self._config.listen:
            config = self._config
            looks = config.mdns or config.mdns_deferred
            settings.keep_last_run(home, settings.LastRun(
                self.listen_addresses[0][1] if record else last.port, config.listen[0][0],
                (config.mdns_interfaces or True) if looks else False))

    async def stop(self) -> None:
        """Stop listening and dialling, and close every link."""
        self._stopping = True
        await self.dialer.stop()
        for server in self._servers:
            server.close()
        for link in list(self.connections):
            link.close("node shutting down")

    async def wait_closed(self) -> None:
        """Wait until every link has ended (after `stop`)."""
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except Exception as exc:  # shutting down: nothing left to do about it
                log.debug("listener did not close cleanly: %s", exc)

    # ------------------------------------------------------------ connections

    async def _on_inbound(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        if self._stopping:  # accepted just before the listener closed: the store may be gone
            writer.close()
            return
        peer = writer.get_extra_info("peername") or ("?", 0)
        ip = plain_host(str(peer[0]))
        refusal = self._admit_inbound(ip)
        if refusal is not None:
            log.warning("refused a connection from %s: %s", ip, refusal)
            writer.close()
            return
        link = TcpLink(reader, writer, self._responder_session(), outbound=False,
                       on_event=self._on_event, peer=PeerState(),
                       divert=self._divert if self._on_admission is not None else None)
        await self._serve(link)

    def _divert(self, link: TcpLink[PeerState],
                head: bytes) -> Coroutine[Any, Any, None] | None:
        """An inbound connection opening with ADMIT1 goes to the admissions (node/admission.py),
        still counted as a handshaking link: the same slots, caps and timeout."""
        if head[2] not in ADMISSION_KINDS or self._on_admission is None:
            return None
        return self._on_admission(link.reader, link.writer, head, link.source)

    def _responder_session(self) -> Session:
        psks = self._network_psks()
        hidden = bool(psks) or self._hidden()
        return Session(
            identity=self._identity, initiator=False, now=asyncio.get_running_loop().time(),
            replay_guard=self._replay_guard,
            # Inside networks a plain XX would greet any stranger; contacts still use IK.
            allow_xx=self._config.presence != "private" and not hidden,
            config=self._config.session, psks=psks,
            plain_from=self._is_contact if hidden else None,
        )

    def _initiator_session(self, key: bytes) -> Session:
        return Session(
            identity=self._identity, initiator=True, now=asyncio.get_running_loop().time(),
            remote_key=key, ik_timestamp=self._next_ik_timestamp(key),
            replay_guard=self._replay_guard,
            config=self._config.session, psks=self._psk_for(key),
        )

    def accept_relayed(self, conn: RelayConnection, sender: bytes,
                       stream: int) -> RelayedLink[PeerState] | None:
        """A stream a peer opened through a relay: admitted like an inbound connection (the
        same handshake slots and caps, counted per claimed sender key), or None."""
        if self._stopping:
            return None
        link = conn.carry(sender, stream, self._responder_session(), outbound=False,
                          on_event=self._on_event, peer_state=PeerState())
        refusal = self._admit_inbound(link.source)
        if refusal is not None:
            log.warning("refused a stream through %s: %s", link.relay, refusal)
            link.close(refusal)
            return None
        self._track(link)  # counted before its first bytes are fed
        self._spawn(self._serve(link), "relayed-link")
        return link

    def _admit_inbound(self, ip: str) -> str | None:
        """Why a new connection from `ip` is refused, or None to take it.

        Handshakes have slots of their own. When they are all taken the oldest handshake gives
        way, so a contact's handshake (milliseconds on a LAN) gets through however many idle
        connections a stranger opens; one address can hold only a few of them.
        """
        cfg = self._config
        if self._per_ip[ip] >= cfg.max_links_per_ip:
            return "too many links from that address"
        handshaking = [link for link in self.connections if _handshaking(link)]
        if sum(1 for link in handshaking if link.source == ip) >= cfg.max_handshakes_per_ip:
            return "too many handshakes from that address"
        if self._links_in_use() >= cfg.max_links:
            return "too many links"
        if len(handshaking) >= cfg.max_handshakes:
            oldest = min(handshaking, key=lambda link: link.opened)
            oldest.close("too many handshakes at once")
        return None

    def _links_in_use(self) -> int:
        """Connections that count against `max_links`: ours, and contacts' accepted links."""
        return sum(1 for link in self.connections
                   if not _handshaking(link) and not link.peer.stranger)

    async def dial(self, key: bytes, address: Address) -> bool:
        """Connect to `key` at `address`; True once that link is the peer's one link."""
        if self._stopping or self._links_in_use() >= self._config.max_links:
            return False
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*address), self._config.connect_timeout)
        except (TimeoutError, OSError) as exc:
            log.debug("cannot reach %s: %s", format_addr(address), exc)
            if self._refused_at.get(key) == address:  # their node is not there any more
                self.answered(key)
            return False
        link = TcpLink(reader, writer, self._initiator_session(key), outbound=True,
                       on_event=self._on_event, peer=PeerState())
        link.dialed = address
        return await self._run_dialed(key, link)

    async def dial_via_relay(self, key: bytes) -> bool | None:
        """Reach `key` through an attached relay (the dialer's fallback when direct addresses
        failed for a while); True once linked, None when no relay is attached. An existing
        relayed link is kept: only a direct one is still worth dialling for, and the dialer
        keeps trying those."""
        if self.live(key) is not None:
            return True
        relays = self._relays()
        if not relays:
            return None
        # A relay whose streams keep dying before they carry anything goes last (stable sort:
        # otherwise in the order the relays were added).
        for conn in sorted(relays, key=lambda c: c.failed_streams):
            if self._stopping or self._links_in_use() >= self._config.max_links:
                return False
            link = conn.open(key, self._initiator_session(key), self._on_event,
                             peer_state=PeerState())
            if link is not None and await self._run_dialed(key, link):
                return True
        return False

    async def _run_dialed(self, key: bytes, link: PeerLink) -> bool:
        self._spawn(self._serve(link), "link")
        try:
            ok = await asyncio.wait_for(asyncio.shield(link.established),
                                        self._config.session.handshake_timeout + 1)
        except TimeoutError:
            link.close("handshake timed out")
            self._note_answer(key, link, False)
            return False
        self._note_answer(key, link, bool(ok))
        return bool(ok) and self.by_peer.get(key) is link

    def _note_answer(self, key: bytes, link: PeerLink, ok: bool) -> None:
        """A node that answers only contacts and its networks' members closes a stranger's
        handshake unanswered: kept per key, for `contacts` to say why they seem offline
        (trial 4, B4: nothing said it). Bounded; forgotten once they answer."""
        reason = link.close_reason or ""
        # Direct: the socket closed before any answer. Through a relay (which has the peer,
        # or it would say "not on the relay"), a refused stream is dropped without a word: the
        # handshake times out.
        refused = "closed by peer" in reason if link.relay is None \
            else reason.startswith("handshake timed out")
        if ok or (reason == NOT_ON_RELAY and key not in self._refused_at):
            self.answered(key)  # or the relay says they are not there: offline
        elif link.remote_key is None and refused and len(self.unanswered) < MAX_UNANSWERED:
            self.unanswered.add(key)
            if link.relay is None and link.dialed is not None:
                self._refused_at[key] = link.dialed

    def answered(self, key: bytes) -> None:
        """Their node answered us, or is gone: no longer refusing."""
        self.unanswered.discard(key)
        self._refused_at.pop(key, None)

    def _next_ik_timestamp(self, key: bytes) -> int:
        """Never at or below what we sent before, even across a clock step and a restart: a
        peer that takes only IK (private presence) must still accept us (node/ik_stamps.py)."""
        return self.ik_stamps.next(key)

    def _track(self, link: PeerLink) -> None:
        self.connections.add(link)
        self._per_ip[link.source] += 1

    async def _serve(self, link: PeerLink) -> None:
        ip = link.source
        if link not in self.connections:
            self._track(link)
        try:
            await link.run()
        finally:
            self.connections.discard(link)
            self._per_ip[ip] -= 1
            if self._per_ip[ip] <= 0:
                del self._per_ip[ip]
            key = link.remote_key
            if key is None and not link.outbound and _refused_stranger(link.close_reason):
                self.strangers_refused += 1
            if key is not None and self.by_peer.get(key) is link:
                del self.by_peer[key]
                self.dialer.ended(key, carried=link.carried)
            self._on_gone(link)

    # ------------------------------------------------------------ one link per peer

    def claim(self, key: bytes, link: PeerLink) -> bool:
        """Make `link` the peer's one link, or close it; True if it is now the one.

        When both sides dial at once, the rule both compute alike: the link whose initiator has
        the smaller public key wins. Two links in the same direction mean the initiator
        redialled, so the newer wins. A stale link (the peer moved, or our address went away)
        always gives way.
        """
        existing = self.by_peer.get(key)
        if existing is not None and not existing.closed and existing is not link:
            preferred_outbound = self._key < key
            if (existing.relay is None) != (link.relay is None):
                replace = link.relay is None  # direct beats relayed, whoever dialled
            else:
                replace = (existing.outbound == link.outbound
                           or link.outbound == preferred_outbound or self._is_stale(existing))
            if replace:
                existing.close("replaced by a newer link")
            else:
                link.close("duplicate link")
                return False
        self.by_peer[key] = link
        return True

    def _is_stale(self, link: PeerLink) -> bool:
        return link.relay is None and self._path_stale(link)

    def is_linked(self, key: bytes) -> bool:
        """Whether `key` holds a live, authorised link now."""
        link = self.by_peer.get(key)
        return link is not None and not link.closed

    def has_working_link(self, key: bytes) -> bool:
        """Linked directly, and not over a path the network has since moved away from (the
        dialer keeps looking for a direct path while a relay carries the link)."""
        link = self.by_peer.get(key)
        return (link is not None and not link.closed and link.relay is None
                and not self._is_stale(link))

    def live(self, key: bytes) -> PeerLink | None:
        """The peer's link if it is open, else None."""
        link = self.by_peer.get(key)
        return link if link is not None and not link.closed else None

    def dialed_at(self, key: bytes) -> list[Address]:
        """Where we dialed `key`'s live link ([] for one they made, or one through a relay):
        where they listen, even once the advert we found that address in is gone (issue 23)."""
        link = self.by_peer.get(key)
        return [link.dialed] if link is not None and link.dialed is not None else []

    def count_strangers(self) -> int:
        """How many connections are with strangers (not contacts)."""
        return sum(1 for link in self.connections if link.peer.stranger)

    def close_peer(self, key: bytes, reason: str) -> None:
        """Close every connection with `key`, handshaking or not."""
        for link in list(self.connections):
            if link.remote_key == key:
                link.close(reason)

    def restart_contact_links(self) -> int:
        """Close every live contact link; the dialer links again at once, with fresh keys.
        Returns how many were closed."""
        closed = 0
        for link in list(self.by_peer.values()):
            if not link.closed and not link.peer.stranger:
                link.close("rekey")
                closed += 1
        return closed

    def close_stale(self, reason: str) -> None:
        """Close the links whose path went away (a local address left)."""
        for link in list(self.connections):
            if self._is_stale(link):
                link.close(reason)

    def tick(self, now: float) -> None:
        """Once a second: session timers, and strangers whose time is up."""
        for link in list(self.connections):
            link.tick()
            expires = link.peer.stranger_until
            if expires is not None and now > expires:
                link.close("stranger link expired")


def _handshaking(link: PeerLink) -> bool:
    """An inbound connection that has not (yet) become an accepted link."""
    return not link.outbound and not link.peer.up and not link.closed


MAX_UNANSWERED = 1024  # keys remembered as closing our handshakes unanswered

# What core/handshake.py says when it refuses a handshake only a contact or a member may make.
_STRANGER_REFUSALS = ("XX not allowed", "XX handshake refused", "without a network key refused",
                      "under no network key of ours", "plain IK from a key")


def _refused_stranger(reason: str | None) -> bool:
    return reason is not None and any(words in reason for words in _STRANGER_REFUSALS)
