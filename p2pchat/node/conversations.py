"""Conversations: the one sync driver, between the store, the pure logs and the links.

Every conversation is a set of per-author append-only logs (`core.sync.ConversationLog`). This
part keeps one log object per conversation, appends what we write, accepts what a peer sends,
answers vectors and requests with what the peer lacks, and acknowledges with a vector once what
was accepted is committed (the outbox sends nothing before that). Groups (node/groups.py) drive
the same logs through `log_of`, with their own authorisation, signatures and forwarding.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from p2pchat.clock import wall_ns
from p2pchat.core.errors import ProtocolError
from p2pchat.core.gap_buffer import GapBudget
from p2pchat.core.identity import fingerprint, short_fingerprint
from p2pchat.core.messages import (
    MAX_REQUEST_SPAN,
    Envelope,
    SyncRequest,
    SyncVector,
    dm_conversation_id,
    encode_text,
)
from p2pchat.core.sync import ACK_DELAY, ACK_DELAY_MAX, AckWait, ConversationLog
from p2pchat.event_types import DeliveryEvent
from p2pchat.events import EventBus
from p2pchat.node.backlog import Backlog
from p2pchat.node.config import CommandError
from p2pchat.node.outbox import Outbox
from p2pchat.node.peer_state import PeerLink
from p2pchat.node.views import Views
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")


def text_body(text: str) -> bytes:
    """What the user typed as a message body; CommandError("bad_text") if it can't be sent."""
    if not text.strip():
        raise CommandError("bad_text", "nothing to send")
    try:
        return encode_text(text)
    except ProtocolError as exc:
        raise CommandError("bad_text", str(exc)) from None


def now_ms() -> int:
    return wall_ns() // 1_000_000


class Conversations:
    def __init__(
        self,
        key: bytes,
        *,
        store: Callable[[], Store],
        outbox: Outbox,
        backlog: Backlog,
        events: EventBus,
        views: Views,
        live_link: Callable[[bytes], PeerLink | None],
    ) -> None:
        self._key = key
        self._store = store
        self._outbox = outbox
        self._backlog = backlog
        self._events = events
        self._views = views
        self._live_link = live_link
        self._logs: dict[bytes, ConversationLog] = {}
        # The bytes every conversation's early envelopes share (core.gap_buffer); groups
        # charge their envelopes of an epoch not known yet to it too.
        self.gap_budget = GapBudget()
        self._dm_ids: dict[bytes, bytes] = {}  # peer -> 1:1 conversation, and back
        self._dm_peers: dict[bytes, bytes] = {}

    # ------------------------------------------------------------ conversations

    def dm(self, peer: bytes) -> bytes:
        """The 1:1 conversation with `peer`, created in the store on first use."""
        conv = self._dm_ids.get(peer)
        if conv is None:
            conv = dm_conversation_id(self._key, peer)
            self._store().conversations.ensure_dm(conv, peer)
            self._dm_ids[peer] = conv
            self._dm_peers[conv] = peer
        return conv

    def peer_of(self, conv: bytes) -> bytes | None:
        """The other person in a 1:1 conversation (None for an unknown conversation)."""
        peer = self._dm_peers.get(conv)
        if peer is None:
            stored = self._store().conversations.get(conv)
            peer = stored.peer if stored else None
        return peer

    def log_of(self, conv: bytes) -> ConversationLog:
        """The one log object of a conversation (groups drive theirs through this too)."""
        return self._log(conv)

    def forget_log(self, conv: bytes) -> None:
        """Rebuild the conversation's log from the store on next use (after the store's log
        was cut back, as a group removal does)."""
        conv_log = self._logs.pop(conv, None)
        if conv_log is not None:
            conv_log.clear_pending()

    def release(self, link: PeerLink) -> None:
        """A link closed: the early envelopes only it brought are dropped (asked for again),
        and so are the peer's gaps we asked it for: the answers died with the link, and a gap
        still marked as asked would never be asked of the next link (its pushes would wait
        behind it for ever)."""
        for conv_log in self._logs.values():
            conv_log.release(link)
        key = link.remote_key
        dm = self._logs.get(dm_conversation_id(self._key, key)) if key is not None else None
        if dm is not None:
            dm.forget_outstanding()

    def expire(self, now: float) -> None:
        """Early envelopes that waited too long for their gap are dropped (asked for again)."""
        for conv_log in self._logs.values():
            conv_log.expire(now)

    def _log(self, conv: bytes) -> ConversationLog:
        conv_log = self._logs.get(conv)
        if conv_log is None:
            db = self._store()
            heads = db.conversations.heads(conv)
            head_lamports = {author: db.conversations.lamport_of(conv, author, seq) or 0
                             for author, (seq, _) in heads.items()}
            conv_log = ConversationLog(conv, heads, db.conversations.max_lamport(conv),
                                       head_lamports=head_lamports, budget=self.gap_budget)
            for member, own_seq, lamport in db.groups.floors(conv):  # a group's (protocol 7.2)
                conv_log.add_floor(member, own_seq, lamport)
            peer = self.peer_of(conv)
            if peer is not None:  # the floor its last vector set (see core.sync.floor)
                seen = db.conversations.peer_vector(conv, peer)
                self._add_floor(conv_log, peer, seen.get(peer, 0), seen.get(self._key, 0))
            self._logs[conv] = conv_log
        return conv_log

    def _add_floor(self, conv_log: ConversationLog, peer: bytes, own_seq: int,
                   acked: int) -> None:
        """`peer`, with its own log at `own_seq`, said it held our messages up to `acked`: its
        later messages must come after ours at `acked` (they can't be backdated before it)."""
        if acked <= 0 or acked > conv_log.head(self._key)[0]:
            return
        lamport = self._store().conversations.lamport_of(conv_log.conv, self._key, acked)
        if lamport is not None:
            conv_log.add_floor(peer, own_seq, lamport)

    # ------------------------------------------------------------ commands

    async def send(self, peer: bytes, texts: list[str]) -> list[dict[str, Any]]:
        """Each text a message, in order, all in one commit; a bad text sends none."""
        bodies = [text_body(text) for text in texts]
        conv_log = self._log(self.dm(peer))
        link = self._live_link(peer)
        online = link is not None and not link.peer.stranger
        status = "sent" if online else "queued"
        events = []
        for body in bodies:
            env = conv_log.append_local(self._key, body, now_ms())
            # Stored as sent when it is handed to the link now: one INSERT, no UPDATE after it.
            self._store().conversations.insert_envelope(env, env.sent_at, own=True, sent=online)
            if online:
                assert link is not None
                self._backlog.push(link, env)  # leaves only after the commit below
            # Built now, while its hash is at hand; shown only once the commit below holds.
            events.append(self._views.message(env, own=True, status=status))
        await self._outbox.durable()
        for event in events:
            self._events.emit(event)
        return events

    def history(self, peer: bytes, limit: int | None = None) -> list[dict[str, Any]]:
        """The messages of our conversation with `peer`, oldest first, as `Views` shows them."""
        return dm_history(self._views, self._store(), dm_conversation_id(self._key, peer), limit)

    # ------------------------------------------------------------ sync with a contact

    def start_sync(self, link: PeerLink, peer: bytes) -> None:
        """A contact's link is up: tell them what we hold, so each side sends what is missing."""
        conv = self.dm(peer)
        self._outbox.queue(link, SyncVector(conv=conv, vector=self._log(conv).vector()))

    def reload(self) -> None:
        """A commit failed: forget the in-memory logs, so they are rebuilt from what the store
        really holds (nothing rolled back is acknowledged; its gaps are asked for again)."""
        for conv_log in self._logs.values():
            conv_log.clear_pending()
        self._logs.clear()

    def resync(self, link: PeerLink, peer: bytes) -> None:
        """After a storage fault: our vector again, our own envelopes the peer has not
        acknowledged, and an explicit request for the peer's (both sides believe those were
        handed over already, so only an explicit ask makes them go again)."""
        self.start_sync(link, peer)
        conv = self.dm(peer)
        conv_log = self._log(conv)
        acked = self._store().conversations.peer_vector(conv, peer).get(self._key, 0)
        head = conv_log.head(self._key)[0]
        if head > acked:
            self._backlog.serve(link, conv, self._key, acked + 1, head, asked=True)
        # The peer clips the request to what it holds; answers pull the next window in turn.
        for request in conv_log.wanted_from({peer: conv_log.head(peer)[0] + MAX_REQUEST_SPAN}):
            self._outbox.queue(link, request)

    def on_envelope(self, link: PeerLink, peer: bytes, env: Envelope) -> None:
        # In a 1:1 chat only the peer on this authenticated link may author: envelopes are not
        # signed (deniability), so the Noise session is the only proof of authorship.
        """A contact's envelope: checked and ordered by its log, stored, shown, acknowledged."""
        if env.author == self._key:
            # Our own words coming back (we lost our store?): unsigned, so the peer's copy can't
            # be told from a forgery. Ignore it; never let it break the link.
            log.debug("ignored an envelope of ours pushed back by %s", short_fingerprint(peer))
            return
        if env.conv != self.dm(peer) or env.author != peer or env.sig:
            link.close("envelope for a conversation this peer may not write to")
            return
        received = self._log(env.conv).receive(env, origin=link,
                                               now=asyncio.get_running_loop().time())
        if received.error:
            log.warning("dropped an envelope from %s: %s", short_fingerprint(peer),
                        received.error)
        now = now_ms()
        db = self._store()
        for accepted in received.accepted:
            # The event is built only when someone listens (not during a catch-up in the dark).
            if db.conversations.insert_envelope(accepted, now, own=False) and self._events.wanted:
                self._events.emit(self._views.message(accepted, own=False, status=None))
        for request in received.requests:
            self._outbox.queue(link, request)
        if received.accepted:
            self.schedule_ack(link, env.conv)

    def schedule_ack(self, link: PeerLink, conv: bytes, delay: float | None = None,
                     most: float | None = None) -> None:
        """One vector per conversation per wait (core.sync.AckWait): it acknowledges everything
        accepted so far (a group's too, to an envelope's author: GroupRecords). The vector
        leaves only after the commit it triggers, so what arrives during the wait (a stream of
        messages, the reads of one catch-up step) shares one commit: the receiver fsyncs once
        per wait, not once per record, and the sender handles one vector."""
        pending = link.peer.ack_pending
        wait = pending.get(conv)
        if wait is not None:
            wait.more += 1
            return
        loop = asyncio.get_running_loop()
        delay = ACK_DELAY if delay is None else delay  # read now: tests lengthen it
        most = ACK_DELAY_MAX if most is None else most
        wait = pending[conv] = AckWait(started=loop.time(), delay=delay, most=most)

        def send_ack() -> None:
            if not link.closed and wait.again(loop.time()):
                loop.call_later(delay, send_ack)
                return
            pending.pop(conv, None)
            if link.closed:  # gone meanwhile: commit what it sent; its next link re-syncs
                self._outbox.schedule_flush()
                return
            self._outbox.queue(link, SyncVector(conv=conv, vector=self._log(conv).vector()))

        loop.call_later(delay, send_ack)

    def on_sync_vector(self, link: PeerLink, peer: bytes, sync: SyncVector) -> None:
        """A contact's vector: their receipts of ours, and what they have that we lack."""
        if sync.conv != self.dm(peer):
            return
        if not self._backlog.admit_sync(link):
            link.close("too many sync records")
            return
        db = self._store()
        conv_log = self._log(sync.conv)
        acked = sync.vector.get(self._key, 0)
        before = db.conversations.peer_vector(sync.conv, peer).get(self._key, 0)
        mine = conv_log.head(self._key)[0]
        if acked > before and acked <= mine:
            db.conversations.set_peer_seq(sync.conv, peer, self._key, acked)
            # Kept with the ack (the store keeps the highest of each), so the floor outlives
            # a restart: an honest peer's own seq and its ack of ours only ever grow together.
            db.conversations.set_peer_seq(sync.conv, peer, peer, sync.vector.get(peer, 0))
            self._add_floor(conv_log, peer, sync.vector.get(peer, 0), acked)
            who = fingerprint(peer)
            # The ids are the stored hashes: nothing to unseal for a receipt.
            for hash_ in (db.conversations.hashes(sync.conv, self._key, before + 1, acked)
                          if self._events.wanted else ()):
                self._events.emit(DeliveryEvent(type="delivery", id=hash_.hex()[:32],
                                                status="delivered", fingerprint=who))
            # A receipt needs no fsync of its own: lost in a crash, the peer's next vector
            # brings it again. It rides on the next commit made for a send or a receive.
            self._outbox.schedule_lazy_flush()
        for author, first, last in conv_log.missing_for(sync.vector):
            self._backlog.serve(link, sync.conv, author, first, last)

    def on_sync_request(self, link: PeerLink, peer: bytes, request: SyncRequest) -> None:
        """A contact asks for a range of a log: served lazily by the `Backlog`."""
        if request.conv != self.dm(peer):
            return
        if not self._backlog.admit_sync(link):
            link.close("too many sync records")
            return
        span = self._log(request.conv).clip_request(request)
        if span is not None:
            self._backlog.serve(link, request.conv, request.author, *span, asked=True)


def dm_history(views: Views, db: Store, conv: bytes, limit: int | None) -> list[dict[str, Any]]:
    """A chat's messages as `log` shows them (for the node and for reading a home without it,
    offline.py; a group's are `groups.group_history`)."""
    return [views.message(stored.envelope, own=stored.own,
                          status=stored.status if stored.own else None,
                          stored_hash=stored.hash, readable=stored.readable)
            for stored in db.conversations.history(conv, limit)]
