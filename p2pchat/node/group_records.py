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

from p2pchat.core import groups as core
from p2pchat.core.gap_buffer import held_size
from p2pchat.core.groups import (
    ForkBelow,
    GroupError,
    GroupGossip,
    GroupState,
    MissingKey,
    OpGap,
    OpReplay,
    UnknownEpoch,
)
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.member_budget import MemberBudgets
from p2pchat.core.messages import (
    MAX_GROUP_OPS,
    Envelope,
    GroupDigest,
    GroupInvite,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupLostKey,
    GroupOp,
    GroupOpKind,
    GroupPrune,
    Record,
    SyncRequest,
    SyncVector,
    encode_record,
)
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.equivocations import Equivocations
from p2pchat.node.group_invitations import Invitations
from p2pchat.node.group_links import GroupLinks
from p2pchat.node.group_state import (
    CHANGES,
    GROUP_RECORDS,
    MAX_EARLY,
    MAX_LOST,
    MAX_UNREAD,
    Group,
    GroupBook,
    after_flush,
    fits,
)
from p2pchat.node.outbox import Outbox
from p2pchat.node.sender import Sender
from p2pchat.node.views import Views
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")


class GroupRecords:
    """What fellow members send, and the changes to a chain we make or accept."""

    def __init__(
        self,
        identity: Identity,
        *,
        book: GroupBook,
        group_links: GroupLinks,
        store: Callable[[], Store],
        outbox: Outbox,
        sender: Sender,
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
        self._group_links = group_links
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

    # ------------------------------------------------------------ records

    def on_record(self, link: Link, key: bytes, record: Record) -> None:
        """A group record, or sync of a group conversation, from `key` on `link`."""
        if isinstance(record, GROUP_RECORDS) and not self._sender.admit_sync(link):
            link.close("too many group records")  # each may cost a signature check
            return
        if isinstance(record, Envelope):
            self._on_envelope(link, key, record)
        elif isinstance(record, GroupOp):
            self._on_op(link, key, record)
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
        elif isinstance(record, GroupDigest):
            g = self._book.member_group(record.group, key)
            if g is not None:
                self._equivocations.on_digest(g, link, record)

    def _on_envelope(self, link: Link, key: bytes, env: Envelope) -> None:
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
            if int.from_bytes(env.body[:8], "big") > MAX_GROUP_OPS:  # no chain gets that far
                log.warning("refused a group envelope from %s: impossible epoch",
                            self._views.who(key))
                return
            size = held_size(env)
            if len(g.early) < MAX_EARLY and self._conversations.gap_budget.take(size):
                g.early.append((link, key, env))
            self._send_op(link, g.state.ops[-1])  # it sends the ops we lack
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
        if prune is not None:
            self._outbox.queue(link, prune)

    def _accept(self, g: Group, envelopes: Iterable[Envelope], came_from: bytes) -> None:
        """Store, show and pass on what the log accepted. Forwarding does not wait for the
        commit (Sender.forward says why)."""
        db = self._store()
        now = now_ms()
        linked = self._book.linked_members(g)
        for env in envelopes:
            if not db.conversations.insert_envelope(env, now, own=env.author == self._key):
                continue
            self._show(g, env)
            for peer in g.gossip.push_targets(g.state, linked, came_from, env.author):
                self._sender.forward(linked[peer], env)

    def _show(self, g: Group, env: Envelope, *, again: bool = False) -> None:
        try:
            body = core.open_group_envelope(g.state, g.keys, env, g.stale_keys)
        except MissingKey:
            if len(g.unread) < MAX_UNREAD:
                g.unread.add((env.author, env.seq))
            self._ask_key(g, int.from_bytes(env.body[:8], "big"))
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

    def _ask_key(self, g: Group, epoch: int) -> None:
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
        # Pull, not push: several members announce the same envelopes (protocol 8.8).
        for request in conv_log.wanted_from(record.vector, again=False):
            g.gossip.on_request(key, request.author)
            self._outbox.queue(link, request)

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
        recipients = len(g.state.members) - 1
        for seq, hash_ in zip(range(before + 1, held + 1),
                              db.conversations.hashes(g.conv, self._key, before + 1, held),
                              strict=False):
            self._events.emit({
                "type": "delivery", "id": hash_.hex()[:32], "status": "delivered",
                "fingerprint": g.conv.hex(), "group": g.state.title,
                "member": fingerprint(member),
                "delivered_to": [fingerprint(k) for k in g.delivered_to(seq)],
                "recipients": recipients})

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

    def _on_op(self, link: Link, key: bytes, op: GroupOp) -> None:
        g = self._book.get(op.group)
        if g is None or g.left or key not in g.state.spans:
            return
        if op.kind == GroupOpKind.ADD and op.subject == self._key and not self._book.active(g):
            return  # added back after a removal: that waits for the user's yes (8.5)
        before = g.state
        try:
            g.state = core.apply_op(before, op)
        except OpReplay as exc:
            if not exc.same:  # two managers signed op N: the fork rule decides (8.13)
                self._on_fork(g, link, key, before, op)
                return
            for later in g.gossip.ops_behind(before, key, op.number):
                self._send_op(link, later)  # the peer is behind: the ops after its head
            g.gossip.saw_op(key, op.number)
            return
        except OpGap:
            self._send_op(link, before.ops[-1])
            return
        except GroupError as exc:
            log.warning("refused a group op from %s: %s", self._views.who(key), exc)
            return
        g.gossip.saw_op(key, op.number)
        self._applied(g, before, op, came_from=key)

    def _send_op(self, link: Link, op: GroupOp) -> None:
        if fits(link, op):
            self._outbox.queue(link, op)

    def _on_fork(self, g: Group, link: Link, key: bytes, before: GroupState,
                 op: GroupOp) -> None:
        """`op` differs from ours at its number (protocol 8.13): the smaller op hash wins where
        two ops chain to the same op. If its branch parted earlier, we send our chain from op 2
        so the peer finds the first op where we differ; if ours wins, our branch from the fork;
        if theirs wins, we take it and redo our own ops that lost."""
        try:
            won = core.fork_winner(before, op)
        except ForkBelow:
            g.gossip.forget(key)
            for ours in before.ops[1:]:
                self._send_op(link, ours)
            return
        except GroupError as exc:
            log.warning("refused a group op from %s: %s", self._views.who(key), exc)
            return
        if won is None:
            for ours in before.ops[op.number - 1:]:
                self._send_op(link, ours)
            return
        log.info("group %s: a fork at op %d, taking the other branch", g.state.title, op.number)
        lost = before.ops[op.number - 1:]
        base = core.replay(before.ops[:op.number - 1])
        db = self._store()
        db.groups.drop_ops_from(g.conv, op.number)
        lost_keys = []
        for old in lost:
            held = g.keys.get(old.epoch)
            if old.key_check and held is not None and core.key_check(held) == old.key_check:
                lost_keys.append((GroupLostKey(op=old, key=held), held))
        for epoch, held in list(g.keys.items()):
            check = won.key_checks.get(epoch)
            if epoch > base.epoch and (check is None or core.key_check(held) != check):
                del g.keys[epoch]
                db.groups.drop_key(g.conv, epoch)
        g.state = won
        g.gossip.saw_op(key, op.number)
        self._applied(g, base, op, came_from=key)
        for record, held in lost_keys[:MAX_LOST - len(g.lost)]:
            self._keep_lost(g, record, held)
        for old in lost:
            change = core.redo(g.state, self._identity, old, self._random)
            if change is not None:
                self.apply_change(g, change)

    def _applied(self, g: Group, before: GroupState, op: GroupOp,
                 came_from: bytes | None) -> None:
        """An op is in the chain: store it, cut a departed member's log, pass it on."""
        db = self._store()
        db.groups.add_op(g.conv, op.number, encode_record(op))
        db.groups.add_change(g.conv, op.number, now_ms(), CHANGES[op.kind], op.subject,
                             self._book.member_name(g, op.subject))
        if op.kind in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            self._cut(g, op.subject, op.cut)
            g.leaves.pop(op.subject, None)
            db.groups.drop_leave(g.conv, op.subject)
            if g.invites.pop(op.subject, None) is not None:
                db.groups.set_invite(g.conv, op.subject, None)
        linked = self._book.linked()
        for peer in core.op_targets(before, g.state, linked, came_from):
            self._send_op(linked[peer], op)
        if g.state.epoch not in g.keys and self._book.active(g):
            self._ask_key(g, g.state.epoch)  # of whoever told us: it may hold the key
        self._outbox.schedule_flush()
        self._events.emit(self._book.change_event(g, op))
        early, g.early = g.early, []
        for link, key, env in early:
            self._conversations.gap_budget.give(held_size(env))
            if not link.closed:
                self._on_envelope(link, key, env)
        self._book.wake_dialer()
        after_flush(self._book.close_unshared)

    def _cut(self, g: Group, author: bytes, cut: int) -> None:
        """The member's log ends at `cut`: drop what we took beyond it (protocol 8.6, Cuts)."""
        if self._conversations.log_of(g.conv).head(author)[0] <= cut:
            return
        self._store().groups.truncate_log(g.conv, author, cut)
        self._budgets.forget(g.conv)
        self._conversations.forget_log(g.conv)
        g.unread = {(a, s) for a, s in g.unread if a != author or s <= cut}

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
            key = core.accept_lost_key(g.state, record, self._key)
        except GroupError as exc:
            log.debug("ignored a lost key: %s", exc)
            return
        self._keep_lost(g, record, key)
        self._retry_unread(g)

    def _keep_lost(self, g: Group, record: GroupLostKey, key: bytes) -> None:
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
        try:
            core.check_leave(g.state, leave)
        except GroupError as exc:
            log.warning("refused a leave request from %s: %s", self._views.who(key), exc)
            return
        if self._enacts(g):
            self.apply_change(g, core.enact_leave(g.state, self._identity, leave, self._random))
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
            for op in invite.ops[g.state.number:]:
                self._on_op(link, key, op)
            return
        if self._invitations.declined(invite):  # said no already: say it again
            self._outbox.queue(link, self.declining(state, invite))
            return
        # New to us, or one we left or were removed from: the user says yes first (8.5).
        if self._invitations.offer(key, invite, state, now_ms()):
            self._outbox.schedule_flush()

    def declining(self, state: GroupState, invite: GroupInvite) -> GroupLeave:
        """The signed leave that says no to an invitation: its cut is our log's head (as the owner
        holds it, or as we do after an earlier membership), so nothing we wrote is cut."""
        heads = {author: seq for author, seq, _ in invite.heads}
        last = heads.get(self._key, 0)
        if self._book.get(state.group) is not None:
            last = max(last, self._conversations.log_of(state.group).head(self._key)[0])
        return core.request_leave(state, self._identity, last)

    def join(self, inviter: bytes, invite: GroupInvite, state: GroupState) -> Group:
        """The user accepted: hold the group, from the invitation's chain and heads."""
        db = self._store()
        g = self._book.get(state.group)
        if g is not None:  # left or removed before: back in, with the ops we lack
            g.left = False
            g.leaves.clear()
            db.groups.rejoin(g.conv)
            for op in invite.ops[g.state.number:]:
                before = g.state
                try:
                    g.state = core.apply_op(before, op)
                except GroupError as exc:
                    log.warning("an accepted invitation does not extend the chain: %s", exc)
                    break
                self._applied(g, before, op, came_from=inviter)
        else:
            db.groups.create(state.group, state.title, invite.lamport, core.start_heads(invite))
            for op in invite.ops:
                db.groups.add_op(state.group, op.number, encode_record(op))
            last = invite.ops[-1]  # the op that added us: the conversation's first line
            db.groups.add_change(state.group, last.number, now_ms(), CHANGES[last.kind],
                                 last.subject, last.name)
            g = self._book.add(Group(state, {}, GroupGossip(state.group)))
            self._conversations.forget_log(state.group)
        self._events.emit({"type": "group_joined", **self._book.view(g),
                           "by": fingerprint(inviter),
                           "by_name": self._views.display_name(inviter)})
        self._group_links.greet_all(g)
        self._book.relink_strangers(g)
        self._book.wake_dialer()
        return g

    # ------------------------------------------------------------ the owner's changes

    def apply_change(self, g: Group, change: core.Change) -> None:
        """Our own change to `g`'s chain (made by the core): keep its key, apply and store the
        op, pass it on, and hand each member its delivery (the new key)."""
        before, g.state = g.state, change.state
        if change.key is not None:
            g.keys[change.state.epoch] = change.key
            self._store().groups.put_key(g.conv, change.state.epoch, change.key)
        self._applied(g, before, change.op, came_from=None)
        linked = self._book.linked()
        for member, record in change.deliveries:
            # The op went first on the same link (op_targets); the member just added gets the
            # key right after its invitation instead.
            if member in linked and member != change.op.subject:
                self._outbox.queue(linked[member], record)
