"""Group chat in the node: `GroupRecords`, the records fellow members send (docs/protocol.md 8).

Envelopes (checked as a member's at that epoch before the shared log sees them, then stored,
shown and forwarded along the author's gossip tree), sync vectors and requests, the owner's ops,
keys and key requests, leaves and invitations, and the owner's own changes going out.
Every write happens in the turn that received the record, and everything sent goes through the
`Outbox`, so nothing that depends on a write leaves before it is committed.
"""


from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from p2pchat.core import group_forks as forks
from p2pchat.core import groups as core
from p2pchat.core.gap_buffer import held_size
from p2pchat.core.groups import (
    GroupError,
    MissingKey,
    UnknownEpoch,
)
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.member_budget import MemberBudgets
from p2pchat.core.messages import (
    MAX_GROUP_OPS,
    Envelope,
    GroupCheckpoint,
    GroupDigest,
    GroupHolders,
    GroupInvite,
    GroupJoins,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupLostKey,
    GroupOp,
    GroupPrune,
    Record,
    SyncRequest,
    SyncVector,
    encode_record,
)
from p2pchat.core.sync import GROUP_ACK_DELAY, GROUP_ACK_DELAY_MAX
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.backlog import Backlog
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.equivocations import Equivocations
from p2pchat.node.group_catchup import GroupCatchUp
from p2pchat.node.group_changes import GroupChanges
from p2pchat.node.group_invitations import Invitations
from p2pchat.node.group_state import (
    GROUP_RECORDS,
    MAX_EARLY,
    MAX_LOST,
    MAX_UNREAD,
    Group,
    GroupBook,
    fits,
)
from p2pchat.node.outbox import Outbox
from p2pchat.node.views import Views, message_id
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")


class GroupRecords:
    """What fellow members send, and the changes to a chain we make or accept."""

    def __init__(
        self,
        identity: Identity,
        *,
        book: GroupBook,
        changes: GroupChanges,
        catch_up: GroupCatchUp,
        store: Callable[[], Store],
        outbox: Outbox,
        sender: Backlog,
        conversations: Conversations,
        events: EventBus,
        views: Views,
        invitations: Invitations,
        equivocations: Equivocations,
        budgets: MemberBudgets,
        contact_state: Callable[[bytes], str | None],
        random: Callable[[int], bytes],
    ) -> None:
        self._identity = identity
        self._key = identity.public_key
        self._book = book
        self._changes = changes
        self._catch_up = catch_up
        self._store = store
        self._outbox = outbox
        self._sender = sender
        self._conversations = conversations
        self._events = events
        self._views = views
        self._invitations = invitations
        self._equivocations = equivocations
        self._budgets = budgets  # what each author may make us store per group (8.6)
        self._over_budget: set[tuple[bytes, bytes]] = set()  # warned once each
        self._contact_state = contact_state
        self._random = random
        # Told of every group message opened (files look for offers in them: node/files.py).
        self.on_body: Callable[[bytes, Envelope, bytes], None] | None = None

    # ------------------------------------------------------------ records

    def on_record(self, link: Link, key: bytes, record: Record) -> None:
        """A group record, or sync of a group conversation, from `key` on `link`."""
        if isinstance(record, GROUP_RECORDS) and not self._sender.admit_sync(link):
            link.close("too many group records")  # each may cost a signature check
            return
        if isinstance(record, Envelope):
            self.on_envelope(link, key, record)
        elif isinstance(record, GroupOp):
            self._changes.on_op(link, key, record)
        elif isinstance(record, (SyncVector, SyncRequest)):
            self._on_sync(link, key, record)
        elif isinstance(record, GroupPrune):
            g = self._book.member_group(record.group, key)
            if g is not None:
                g.gossip.on_prune(key, record.author)
        elif isinstance(record, GroupKey):
            self._on_key(record)
        elif isinstance(record, GroupKeyRequest):
            self._on_key_request(link, key, record)
        elif isinstance(record, GroupLeave):
            self._on_leave(link, key, record)
        elif isinstance(record, GroupInvite):
            self._on_invite(link, key, record)
        elif isinstance(record, GroupLostKey):
            self._on_lost_key(key, record)
        elif isinstance(record, GroupCheckpoint):  # a signed state, to catch up by (8.14)
            self._catch_up.on_checkpoint(link, key, record)
        elif isinstance(record, GroupHolders):
            self._on_holders(key, record)
        elif isinstance(record, GroupJoins):
            g = self._book.member_group(record.group, key)
            if g is not None:  # advisory, like 8.16: a member says it saw them hold it
                for member in record.members:
                    if member != self._key:
                        self._changes.mark_joined(g, member, told=True)
        elif isinstance(record, GroupDigest):
            g = self._book.member_group(record.group, key)
            if g is not None:
                self._equivocations.on_digest(g, link, record)

    def on_envelope(self, link: Link, key: bytes, env: Envelope) -> None:
        """A group envelope from `key` on `link`: authorised, stored, shown and forwarded."""
        g = self._book.member_group(env.conv, key)  # None too for a conversation we don't know
        if g is None:
            return
        conv_log = self._conversations.log_of(env.conv)
        if env.seq <= conv_log.head(env.author)[0]:  # a copy, or proof of a lie (8.12)
            self._equivocations.check_copy(g, env, self._book.linked_members(g))
            self._duplicate(g, link, key, env.author)
            return
        try:
            core.check_group_envelope(g.state, env)
        except UnknownEpoch:
            # An epoch more ops ahead than one invitation carries: not worth holding.
            if int.from_bytes(env.body[:8], "big") > g.state.epoch + MAX_GROUP_OPS:
                log.warning("refused a group envelope from %s: impossible epoch",
                            self._views.who(key))
                return
            size = held_size(env)
            if len(g.early) < MAX_EARLY and self._conversations.gap_budget.take(size):
                g.early.append((link, key, env))
            self._changes.send_head(g, link)  # it sends the ops we lack
            return
        except GroupError as exc:
            log.warning("refused a group envelope from %s: %s", self._views.who(key), exc)
            return
        now = asyncio.get_running_loop().time()
        if env.author != self._key and not self._charge(g, link, key, env, now):
            return
        received = conv_log.receive(env, origin=link, now=now)
        if received.error:
            log.warning("dropped a group envelope from %s: %s", self._views.who(key),
                        received.error)
        if received.duplicate:
            self._duplicate(g, link, key, env.author)
        self._accept(g, received.accepted, came_from=key)
        for request in received.requests:
            g.gossip.on_request(key, request.author)
            self._outbox.queue(link, request)

    def _charge(self, g: Group, link: Link, key: bytes, env: Envelope, now: float) -> bool:
        """Charge the author's budget (protocol 8.6): False, refused, if over it. The link
        closes when its peer is the author pushing it unasked (its own flood); an honest
        member forwarding it, or the author answering our request (a long catch-up), only
        loses the envelope, which sync fetches again once the budget allows."""
        why = self._budgets.charge(g.conv, env.author, held_size(env), now)
        if why is None:
            return True
        if (g.conv, env.author) not in self._over_budget:
            self._over_budget.add((g.conv, env.author))
            log.warning("refused group envelopes of %s in %s: %s", self._views.who(env.author),
                        g.state.title, why)
        asked = self._conversations.log_of(g.conv).was_asked(env.author, env.seq)
        if key == env.author and not asked:
            link.close("over its budget in a group")
        return False

    def _duplicate(self, g: Group, link: Link, key: bytes, author: bytes) -> None:
        prune = g.gossip.on_duplicate(key, author)
        if prune is not None:  # a hint that depends on no write: no commit for it
            self._outbox.send_now(link, prune)

    def _accept(self, g: Group, envelopes: Iterable[Envelope], came_from: bytes) -> None:
        """Store, show and pass on what the log accepted. Forwarding does not wait for the
        commit (Backlog.forward says why)."""
        db = self._store()
        now = now_ms()
        linked = self._book.linked_members(g)
        for env in envelopes:
            if not db.conversations.insert_envelope(env, now, own=env.author == self._key):
                continue
            author_link = linked.get(env.author) if env.author != self._key else None
            if author_link is not None:  # its receipt now, not at the next round (trial 12, B13)
                self._conversations.schedule_ack(author_link, g.conv, GROUP_ACK_DELAY,
                                                 GROUP_ACK_DELAY_MAX)
            # Its author accepted: the join line first, just before what it wrote.
            self._changes.wrote(g, env)
            self._show(g, env)
            for peer in g.gossip.push_targets(g.state, linked, came_from, env.author):
                self._sender.forward(linked[peer], env)

    def _show(self, g: Group, env: Envelope, *, again: bool = False) -> None:
        try:
            body = core.open_group_envelope(g.state, g.keys, env, g.stale_keys)
        except MissingKey:
            if len(g.unread) < MAX_UNREAD:
                g.unread.add((env.author, env.seq))
            self.ask_key(g, int.from_bytes(env.body[:8], "big"))
            return
        except GroupError as exc:
            log.warning("a group envelope does not open: %s", exc)
            if len(g.unread) < MAX_UNREAD:  # a lost fork branch's key may still come (8.13)
                g.unread.add((env.author, env.seq))
            if again:
                return  # shown as unreadable already
            self._events.emit(self._views.message(env, own=False, status=None, readable=False,
                                                  group=g.state.title))
            return
        self._events.emit(self._book.label(g, self._views.message(
            env, own=env.author == self._key, status=None, body=body, group=g.state.title),
            env.author))
        if self.on_body is not None:
            self.on_body(g.conv, env, body)

    def ask_key(self, g: Group, epoch: int) -> None:
        """Ask our member links for the key of `epoch` (once per tick), if we were in it."""
        if epoch in g.key_asked or not g.state.member_at(self._key, epoch):
            return
        g.key_asked.add(epoch)
        for link in self._book.linked_members(g).values():
            self._outbox.queue(link, GroupKeyRequest(group=g.conv, epoch=epoch))

    def _on_sync(self, link: Link, key: bytes, record: SyncVector | SyncRequest) -> None:
        g = self._book.member_group(record.conv, key)
        if g is None:
            return
        if not self._sender.admit_sync(link):
            link.close("too many sync records")
            return
        self._changes.mark_joined(g, key)  # it syncs the group: it accepted
        conv_log = self._conversations.log_of(record.conv)
        if isinstance(record, SyncRequest):
            g.gossip.on_request(key, record.author)
            span = conv_log.clip_request(record)
            if span is not None:
                self._sender.serve(link, record.conv, record.author, *span, asked=True)
            return
        if key in g.invites:  # it holds the group: the invitation arrived
            del g.invites[key]
            self._store().groups.set_invite(g.conv, key, None)
            self._outbox.schedule_flush()
        self._floor_from(g, key, record.vector)
        self._receipt(g, key, record.vector.get(self._key, 0))
        g.hear(key, record.vector)
        # Pull, not push: several members announce the same envelopes (protocol 8.8).
        for request in conv_log.wanted_from(record.vector, again=False):
            g.gossip.on_request(key, request.author)
            self._outbox.queue(link, request)

    def _on_holders(self, key: bytes, record: GroupHolders) -> None:
        """What `key` heard others hold of our log (8.15): receipts from members we have no
        link to. A member's own vector speaks for it, so `key` cannot speak for itself here;
        a liar can only make a message look delivered (advisory), never undelivered."""
        g = self._book.member_group(record.group, key)
        if g is None:
            return
        for member, held in record.held:
            if member not in (key, self._key) and g.state.is_member(member):
                self._receipt(g, member, held)

    def _receipt(self, g: Group, member: bytes, held: int) -> None:
        """`member`'s vector says it holds our log up to `held`: our messages up to there are
        delivered to it (`delivered_to`, an event per message that moved). Lazily committed,
        like a 1:1 receipt: lost in a crash, the next vector brings it again."""
        before = g.receipts.get(member, 0)
        if held <= before or held > self._conversations.log_of(g.conv).head(self._key)[0]:
            return
        g.receipts[member] = held
        db = self._store()
        db.groups.set_receipt(g.conv, member, held)
        self._outbox.schedule_lazy_flush()
        if not self._events.wanted:
            return
        for env in db.conversations.envelopes(g.conv, self._key, before + 1, held):
            recipients = g.recipients(core.envelope_epoch(env), self._key)
            if member not in recipients:
                continue  # joined after it was sent: not one it was for
            delivered = g.delivered_to(env.seq, recipients)
            self._events.emit({
                "type": "delivery", "id": message_id(env),
                "status": "delivered" if len(delivered) == len(recipients) else "sent",
                "fingerprint": g.conv.hex(), "group": g.state.title,
                "member": fingerprint(member),
                "delivered_to": [fingerprint(k) for k in delivered],
                "recipients": len(recipients)})

    def _floor_from(self, g: Group, member: bytes, vector: dict[bytes, int]) -> None:
        """No backdating (protocol 7.2): `member`'s vector says what it had seen, so its
        envelopes after its own seq there must come after the latest of those we hold."""
        conv_log = self._conversations.log_of(g.conv)
        db = self._store()
        seen = 0
        for author, seq in vector.items():
            held = min(seq, conv_log.head(author)[0])
            if author != member and held > 0:
                seen = max(seen, db.conversations.lamport_of(g.conv, author, held) or 0)
        own = vector.get(member, 0)
        if seen and conv_log.floor(member, own + 1) < seen:
            conv_log.add_floor(member, own, seen)
            db.groups.set_floor(g.conv, member, own, seen)
            self._outbox.schedule_lazy_flush()

    def _on_key(self, record: GroupKey) -> None:
        g = self._book.get(record.group)
        if g is None or g.left or record.epoch in g.keys:
            return
        try:
            key = core.accept_key(g.state, record, self._key)
        except GroupError as exc:
            log.debug("ignored a group key: %s", exc)
            return
        g.keys[record.epoch] = key
        db = self._store()
        db.groups.put_key(g.conv, record.epoch, key)
        self._outbox.schedule_flush()
        linked = self._book.linked()
        for waiter in g.key_waiters.pop(record.epoch, ()):
            if waiter in linked:
                self._outbox.queue(linked[waiter], record)
        self._retry_unread(g)

    def _retry_unread(self, g: Group) -> None:
        """A key arrived: show what waited for one (what still does not open waits on)."""
        db = self._store()
        waiting, g.unread = sorted(g.unread), set()
        for author, seq in waiting:
            for env in db.conversations.envelopes(g.conv, author, seq, seq):
                self._show(g, env, again=True)

    def _on_lost_key(self, sender: bytes, record: GroupLostKey) -> None:
        """A lost fork branch's key (8.13): checked, kept, passed on once, and what waited
        for it shown."""
        g = self._book.member_group(record.op.group, sender)
        digest = core.op_hash(record.op)
        if g is None or digest in g.lost or len(g.lost) >= MAX_LOST:
            return
        try:
            key = forks.accept_lost_key(g.state, record, self._key)
        except GroupError as exc:
            log.debug("ignored a lost key: %s", exc)
            return
        self.keep_lost(g, record, key)
        self._retry_unread(g)

    def keep_lost(self, g: Group, record: GroupLostKey, key: bytes) -> None:
        """Keep a checked lost-branch key, and pass it on to our member links (8.13)."""
        g.lost[core.op_hash(record.op)] = record
        held = g.stale_keys.setdefault(record.op.epoch, [])
        if key not in held:
            held.append(key)
        for link in self._book.linked_members(g).values():
            if fits(link, record):
                self._outbox.queue(link, record)

    def _on_key_request(self, link: Link, key: bytes, request: GroupKeyRequest) -> None:
        g = self._book.get(request.group)
        if g is None or not self._book.active(g):
            return
        answer = core.serve_key(g.state, g.keys, key, request)
        if answer is not None:
            self._outbox.queue(link, answer)
        elif request.epoch <= g.state.epoch and g.state.member_at(key, request.epoch) \
                and g.state.member_at(self._key, request.epoch):
            g.key_waiters.setdefault(request.epoch, set()).add(key)

    def _on_leave(self, link: Link, key: bytes, leave: GroupLeave) -> None:
        g = self._book.member_group(leave.group, key)
        if g is None or (leave.member in g.leaves and not self._enacts(g)):
            return
        if leave.member not in g.state.members:
            return  # a late copy of a leave already enacted, passed on by a fellow member
        try:
            core.check_leave(g.state, leave)
        except GroupError as exc:
            log.warning("refused %s's leave request (passed on by %s): %s",
                        self._views.who(leave.member), self._views.who(key), exc)
            return
        if self._enacts(g):
            self._changes.apply_change(
                g, core.enact_leave(g.state, self._identity, leave, self._random))
            return
        g.leaves[leave.member] = leave
        self._store().groups.put_leave(g.conv, leave.member, encode_record(leave))
        for peer, other in self._book.linked_members(g).items():
            if peer != key:
                self._outbox.queue(other, leave)
        self._outbox.schedule_flush()

    def _enacts(self, g: Group) -> bool:
        """Whether we turn a leave into an op: the owner does; an admin does when the owner is
        not linked to it (so two managers rarely race to enact one leave: 8.13)."""
        if g.state.owner == self._key:
            return True
        return self._key in g.state.admins and g.state.owner not in self._book.linked()

    def _on_invite(self, link: Link, key: bytes, invite: GroupInvite) -> None:
        if link.peer.group_only or self._contact_state(key) != "contact":
            return  # only a contact may invite us (protocol 8.5)
        try:
            state = core.join(invite, self._key, key)
        except GroupError as exc:
            log.warning("refused a group invitation from %s: %s", self._views.who(key), exc)
            return
        g = self._book.get(state.group)
        if g is not None and self._book.active(g):  # we are in it: the invitation is news of ops
            for op in [o for o in invite.ops if o.number > g.state.number]:
                self._changes.on_op(link, key, op)
            return
        if self._invitations.declined(invite):  # said no already: say it again
            self._outbox.queue(link, self._changes.declining(state, invite))
            return
        # New to us, or one we left or were removed from: the user says yes first (8.5).
        if self._invitations.offer(key, invite, state, now_ms()):
            self._outbox.schedule_flush()
