"""Where each link event goes: the one routing table between links and the parts.

A handshake that completes is admitted (`Networks`, then `Trust`), claimed as the peer's one link
(`LinkTable.claim`) and greeted; each record a link delivers goes to the part that owns its rules
(`Trust`: hello, request, accept; `Groups`: group records and the envelopes, vectors and requests
of a group conversation; `Conversations`: a contact's envelopes, vectors and requests; `Files`:
file records, from contacts and fellow members). The rules
live in those parts; this part only decides who gets what.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from p2pchat.core.errors import ProtocolError
from p2pchat.core.file_records import file_record_code
from p2pchat.core.identity import fingerprint
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
from p2pchat.core.session import Closed, Established, Event, KeyMismatch, RecordReceived
from p2pchat.event_types import LinkDownEvent, LinkUpEvent
from p2pchat.events import EventBus
from p2pchat.net.addresses import Address, format_addr
from p2pchat.node.backlog import Backlog
from p2pchat.node.config import MAX_ADDRS, SOFTWARE
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.files import Files
from p2pchat.node.groups import Groups
from p2pchat.node.links import LinkTable
from p2pchat.node.networks import Networks
from p2pchat.node.outbox import Outbox
from p2pchat.node.peer_state import PeerLink
from p2pchat.node.reach import Reach
from p2pchat.node.trust import Trust
from p2pchat.node.views import Views
from p2pchat.storage.store import StoreError

log = logging.getLogger("p2pchat.node")


class Router:
    """Hands each link event to the part that owns it (module docstring)."""

    def __init__(
        self,
        *,
        name: Callable[[], str],
        listen_addresses: Callable[[], list[Address]],
        knows: Callable[[bytes], bool],
        outbox: Outbox,
        backlog: Backlog,
        events: EventBus,
        views: Views,
        links: LinkTable,
        networks: Networks,
        trust: Trust,
        conversations: Conversations,
        groups: Groups,
        files: Files,
        is_group_peer: Callable[[bytes], bool],
        reach: Reach,
    ) -> None:
        self._name = name
        self._listen_addresses = listen_addresses
        self._knows = knows
        self._outbox = outbox
        self._backlog = backlog
        self._events = events
        self._views = views
        self._links = links
        self._networks = networks
        self._trust = trust
        self._conversations = conversations
        self._groups = groups
        self._files = files
        self._is_group_peer = is_group_peer
        self._reach = reach

    def on_event(self, link: PeerLink, event: Event) -> None:
        """Every session event of every link, in order (`Link`'s callback)."""
        try:
            self._route_link_event(link, event)
        except StoreError as exc:
            # A write failed (disk full, I/O error): undo the turn and keep the link; what it
            # carried is asked for again once storage works (StorageHealth).
            self._outbox.fail(exc)
            if isinstance(event, Established):
                link.close("storage failing")  # half-admitted: let the dialer start over

    def _route_link_event(self, link: PeerLink, event: Event) -> None:
        if isinstance(event, Established):
            self._on_established(link, event)
        elif isinstance(event, RecordReceived):
            if file_record_code(event.record) is not None:
                self._on_file_record(link, event.record)
                return
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
            self._trust.key_mismatches.on_key_mismatch(link, event)
        elif isinstance(event, Closed):
            log.debug("session %s closed: %s", format_addr(link.address), event.reason)

    def _on_established(self, link: PeerLink, event: Established) -> None:
        key = event.remote_key
        if not self._networks.admit(link, event, self._knows(key)):
            return
        is_contact = self._trust.admit(link, key)
        if is_contact is None or not self._links.claim(key, link):
            return
        link.peer.up = True
        link.peer.since_ms = now_ms()
        # They answer, whoever dialled: a refusal noted before (a network PSK they lack) is
        # no longer true; kept, it showed as "closes unanswered" once they stopped (trial 13 B1b)
        self._links.answered(key)
        self._outbox.queue(link, self._hello(is_contact))
        if is_contact:
            self._conversations.start_sync(link, key)
        self._files.on_link_up(link, key)
        self._groups.start_sync(link, key)
        # A stranger's link is a knock (it asks, and goes): its request is the news, logged
        # once by Trust; a requester knocking again must not fill the log (trial1 B5).
        log.log(logging.DEBUG if link.peer.stranger else logging.INFO, "link to %s up (%s, %s)",
                self._views.who(key), "outbound" if link.outbound else "inbound", event.pattern)
        self._events.emit(LinkUpEvent(type="link_up", fingerprint=fingerprint(key),
                                      name=self._views.display_name(key), contact=is_contact,
                                      address=format_addr(link.address),
                                      path="direct" if link.relay is None else "relay",
                                      relay=link.relay))

    def _hello(self, is_contact: bool) -> Hello:
        ports = list(dict.fromkeys(port for _, port in self._listen_addresses()))
        return Hello(name=self._name(), software=SOFTWARE, knows_you=is_contact,
                     ports=tuple(ports[:MAX_ADDRS]))

    def announce_name(self) -> int:
        """Our name changed: a fresh Hello on every live link (docs/protocol.md 7.1), so each
        linked peer sees it now; the others get it with the next link's Hello."""
        sent = 0
        for key, link in list(self._links.by_peer.items()):
            if link.peer.up and not link.closed:
                self._outbox.queue(link, self._hello(self._trust.is_contact(key)))
                sent += 1
        return sent

    def _on_record(self, link: PeerLink, record: Record) -> None:
        key = link.remote_key
        assert key is not None
        if isinstance(record, Hello):
            self._trust.on_hello(link, key, record)
        elif isinstance(record, ContactRequest):
            self._trust.on_contact_request(link, key, record)
        elif isinstance(record, ContactAccept):
            self._trust.on_contact_accept(link, key)
        elif link.peer.stranger:
            return  # strangers get to ask, nothing more
        elif self._groups.claims(record, key):
            self._groups.on_record(link, key, record)
        elif not self._trust.is_contact(key):
            return  # a fellow group member who is not a contact: group records only
        elif isinstance(record, Envelope):
            self._conversations.on_envelope(link, key, record)
        elif isinstance(record, SyncVector):
            self._conversations.on_sync_vector(link, key, record)
        elif isinstance(record, SyncRequest):
            self._conversations.on_sync_request(link, key, record)

    def _on_file_record(self, link: PeerLink, data: bytes) -> None:
        """Files (docs/protocol.md section 13): contacts, and fellow members for a group's files."""
        key = link.remote_key
        if key is not None and link.peer.up and not link.peer.stranger \
                and (self._trust.is_contact(key) or self._is_group_peer(key)):
            self._files.on_record(link, key, data)

    def on_gone(self, link: PeerLink) -> None:
        """A link ended: every part lets go of what it held for it."""
        self._files.forget(link)
        self._backlog.forget(link)
        self._groups.forget(link)
        self._conversations.release(link)
        self._reach.link_gone(link)  # a contact's: when we last saw them
        key = link.remote_key
        reason = link.close_reason or "closed"
        if key is None:
            log.info("connection %s ended before the handshake: %s",
                     format_addr(link.address), reason)
        elif link.peer.up:
            log.log(logging.DEBUG if link.peer.stranger else logging.INFO, "link to %s down: %s",
                    self._views.who(key), reason)
            # A link replaced by a newer one (both sides dialled at once, say) goes down after
            # its successor came up: `online` says the peer is still linked.
            self._events.emit(LinkDownEvent(type="link_down", fingerprint=fingerprint(key),
                                            name=self._views.display_name(key), reason=reason,
                                            online=self._links.is_linked(key)))
        elif reason.startswith("protocol revision"):  # we told a too-old peer (protocol.md 12)
            log.warning("link to %s refused: %s", self._views.who(key), reason)

    def resync_all(self) -> None:
        """Storage works again: every contact's live link gets our fresh vector (they send what
        we dropped) and what of ours they have not acknowledged; every member's link our
        groups' vectors and head ops (we pull what we dropped)."""
        for key, link in list(self._links.by_peer.items()):
            if not link.closed and not link.peer.stranger and self._trust.is_contact(key):
                self._conversations.resync(link, key)
            if not link.closed and not link.peer.stranger:
                self._groups.start_sync(link, key)
