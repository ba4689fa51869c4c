"""Groups: the node's part for group chat, between the pure core (core/groups.py), the store, the
links and the one sync driver (`Conversations`).

A group's content is an ordinary conversation: its envelopes go through the same
`ConversationLog` (`Conversations.log_of`), the same store tables and the same `Sender` as a dm.
What this part adds is the rest of docs/protocol.md section 8: the owner's signed op chain
(applied in order, forwarded, caught up from a peer's head op), the epoch keys (delivered by the
owner, asked of any member, checked against the op's commitment), the authorisation of every
group record (a signed envelope from a member at that epoch, before the log sees it), the
forwarding of envelopes along one gossip tree per author, and the standing of members who are not
contacts: `is_group_peer` lets them hold a link that carries that group's records only.

Every write happens in the event-loop turn that received the record, and everything sent goes
through the `Outbox`, so nothing that depends on a write leaves before it is committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from p2pchat.core import groups as core
from p2pchat.core.errors import ProtocolError
from p2pchat.core.groups import (
    GroupError,
    GroupGossip,
    GroupState,
    MissingKey,
    OpGap,
    OpReplay,
    UnknownEpoch,
)
from p2pchat.core.identity import FingerprintError, Identity, fingerprint, parse_fingerprint
from p2pchat.core.messages import (
    MAX_GROUP_OPS,
    Envelope,
    GroupInvite,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupOp,
    GroupOpKind,
    GroupPrune,
    Record,
    SyncRequest,
    SyncVector,
    decode_record,
    dm_conversation_id,
    encode_record,
    encode_text,
)
from p2pchat.core.text import BadName, valid_name
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.config import CommandError, NodeConfig
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.links import LinkTable
from p2pchat.node.outbox import Outbox
from p2pchat.node.sender import Sender
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

GROUP_RECORDS = (GroupInvite, GroupOp, GroupKey, GroupKeyRequest, GroupLeave, GroupPrune)
DIAL_PER_GROUP = 3  # members who are not contacts we keep trying to link with, per group
MAX_UNREAD = 4096  # envelopes held for a key we lack, per group, shown when it arrives
MAX_EARLY = 256  # envelopes of an epoch whose op has not arrived yet, per group
MAX_GROUPS = 256  # groups a node is in (or was): a contact's invitations beyond it are refused
NO_KEY_YET = "(waiting for the group's key)"
_CHANGES = {GroupOpKind.CREATE: "create", GroupOpKind.ADD: "add", GroupOpKind.REMOVE: "remove",
            GroupOpKind.LEAVE: "leave", GroupOpKind.TRANSFER: "transfer"}


@dataclass
class _Group:
    state: GroupState
    keys: dict[int, bytes]
    gossip: GroupGossip
    left: bool = False
    leaves: dict[bytes, GroupLeave] = field(default_factory=dict)  # pending, one per member
    # Owner: invitations not handed over yet, as made when the member was added.
    invites: dict[bytes, GroupInvite] = field(default_factory=dict)
    unread: set[tuple[bytes, int]] = field(default_factory=set)  # (author, seq) without a key
    key_asked: set[int] = field(default_factory=set)  # epochs asked for since the last tick
    # Members who asked us for a key we did not hold yet: answered when it arrives, so a new
    # key spreads one round trip per hop rather than one tick per hop.
    key_waiters: dict[int, set[bytes]] = field(default_factory=dict)
    # Envelopes that overtook the op starting their epoch (forwarding does not wait for our
    # commit, ops do): taken again once an op applies, instead of waiting for anti-entropy.
    early: list[tuple[Link, bytes, Envelope]] = field(default_factory=list)

    @property
    def conv(self) -> bytes:
        return self.state.group


class Groups:
    def __init__(
        self,
        identity: Identity,
        name: str,
        config: NodeConfig,
        *,
        store: Callable[[], Store],
        outbox: Outbox,
        sender: Sender,
        conversations: Conversations,
        events: EventBus,
        views: Views,
        links: LinkTable,
        contact_state: Callable[[bytes], str | None],
        contact_key: Callable[[str], bytes],
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._identity = identity
        self._key = identity.public_key
        self._name = name
        self._interval = config.group_sync_interval
        self._store = store
        self._outbox = outbox
        self._sender = sender
        self._conversations = conversations
        self._events = events
        self._views = views
        self._links = links
        self._contact_state = contact_state
        self._contact_key = contact_key
        self._random = random
        self._groups: dict[bytes, _Group] = {}
        self._dialing: set[bytes] = set()  # non-contact members we asked the dialer for
        self._last_tick = 0.0

    # ------------------------------------------------------------ state

    def load(self) -> None:
        """At start: every group's state from its stored op chain, keys and pending records."""
        db = self._store()
        for conv, left in db.list_groups():
            try:
                ops = [decode_record(data) for data in db.group_ops(conv)]
                state = core.genesis(_op(ops[0]))
                for op in ops[1:]:
                    state = core.apply_op(state, _op(op))
                leaves = [decode_record(data) for data in db.group_leaves(conv)]
            except (StoreError, ProtocolError, IndexError) as exc:
                log.error("group %s cannot be loaded: %s", conv.hex()[:8], exc)
                continue
            invites = {member: decode_record(data)
                       for member, data in db.group_invites(conv).items()}
            group = _Group(state, db.group_keys(conv), GroupGossip(conv), left=left,
                           invites={member: invite for member, invite in invites.items()
                                    if isinstance(invite, GroupInvite)})
            group.leaves = {leave.member: leave for leave in leaves
                            if isinstance(leave, GroupLeave)}
            self._groups[conv] = group
        self._dial_members()

    def reload(self) -> None:
        """A commit failed: rebuild every group from what the store really holds (ops and keys
        that were rolled back come again from the members)."""
        self._groups.clear()
        try:
            self.load()
        except StoreError as exc:  # still failing: the next reload (or restart) tries again
            log.error("groups cannot be reloaded: %s", exc)

    def is_group_peer(self, key: bytes) -> bool:
        """Whether `key` may hold a group-only link: a current member of a group we are in."""
        return any(self._active(g) and g.state.is_member(key) for g in self._groups.values())

    def claims(self, record: Record, peer: bytes) -> bool:
        """Whether `record` from `peer` is this part's: a group record, or sync for any
        conversation but our dm with `peer`. A group we have not joined yet (its invitation is
        still on its way while members already count us in) is ignored, not a broken rule."""
        if isinstance(record, GROUP_RECORDS):
            return True
        return isinstance(record, (Envelope, SyncVector, SyncRequest)) and (
            record.conv in self._groups or record.conv != dm_conversation_id(self._key, peer))

    def _active(self, g: _Group) -> bool:
        return not g.left and g.state.is_member(self._key)

    def _linked(self) -> dict[bytes, Link]:
        return {key: link for key, link in self._links.by_peer.items()
                if not link.closed and link.peer.up and not link.peer.stranger}

    def _linked_members(self, g: _Group) -> dict[bytes, Link]:
        return {key: link for key, link in self._linked().items() if g.state.is_member(key)}

    # ------------------------------------------------------------ links

    def start_sync(self, link: Link, key: bytes) -> None:
        """A link is up: per shared group, what we hold and where the chain stands."""
        for g in self._groups.values():
            if g.left:
                own = g.leaves.get(self._key)
                if own is not None and g.state.is_member(key):
                    self._outbox.queue(link, own)  # until the owner enacts it
            elif self._active(g) and g.state.is_member(key):
                self._greet(g, link, key)

    def _greet(self, g: _Group, link: Link, key: bytes, *, invite: bool = True) -> None:
        if invite and key in g.invites and g.state.owner == self._key:
            self._hand_invitation(g, link, g.invites[key])  # on link start only: it may be large
        conv_log = self._conversations.log_of(g.conv)
        self._outbox.queue(link, SyncVector(conv=g.conv, vector=conv_log.vector()))
        self._outbox.queue(link, g.state.ops[-1])
        for leave in g.leaves.values():
            self._outbox.queue(link, leave)
        if g.state.epoch not in g.keys:
            self._outbox.queue(link, GroupKeyRequest(group=g.conv, epoch=g.state.epoch))

    def forget(self, link: Link) -> None:
        """A link closed: its gossip marks and the requests it was to answer die with it."""
        key = link.remote_key
        if key is None:
            return
        for g in self._groups.values():
            g.gossip.forget(key)
            if g.state.is_member(key):
                self._conversations.log_of(g.conv).forget_outstanding()

    def tick(self, now: float) -> None:
        """Anti-entropy: every interval, vectors, head ops and pending leaves on every link."""
        if now - self._last_tick < self._interval:
            return
        self._last_tick = now
        for g in self._groups.values():
            if not self._active(g):
                continue
            self._conversations.log_of(g.conv).forget_outstanding()
            g.key_asked.clear()
            for key, link in self._linked_members(g).items():
                self._greet(g, link, key, invite=False)

    def _close_unshared(self) -> None:
        """Group-only links whose peer no longer shares a group with us end (protocol 8.9)."""
        for key, link in list(self._linked().items()):
            if link.peer.group_only and not self.is_group_peer(key) \
                    and self._contact_state(key) != "contact":  # added as a contact since
                link.close("no longer in a shared group")

    def _dial_members(self) -> None:
        """Keep the dialer after a few members per group who are not contacts (contacts are
        dialled anyway). Which few is a hash of both keys, so members pick different ones."""
        wanted: set[bytes] = set()
        for g in self._groups.values():
            if not self._active(g):
                continue
            others = [k for k in g.state.members
                      if k != self._key and self._contact_state(k) is None]
            others.sort(key=lambda k: hashlib.blake2b(self._key + k, digest_size=8).digest())
            wanted.update(others[:DIAL_PER_GROUP])
        for key in wanted - self._dialing:
            self._links.dialer.want(key)
        for key in self._dialing - wanted:
            if self._contact_state(key) is None:
                self._links.dialer.forget(key)
        self._dialing = wanted

    # ------------------------------------------------------------ records

    def on_record(self, link: Link, key: bytes, record: Record) -> None:
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
            g = self._member_group(record.group, key)
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

    def _member_group(self, conv: bytes, key: bytes) -> _Group | None:
        """The group, if we are in it and `key` is a current member (records from anyone else
        are ignored: protocol 8.9)."""
        g = self._groups.get(conv)
        if g is None or not self._active(g) or not g.state.is_member(key):
            return None
        return g

    def _on_envelope(self, link: Link, key: bytes, env: Envelope) -> None:
        g = self._member_group(env.conv, key)  # None too for a conversation we don't know
        if g is None:
            return
        conv_log = self._conversations.log_of(env.conv)
        if env.seq <= conv_log.head(env.author)[0]:  # a copy: no need to check the signature
            self._duplicate(g, link, key, env.author)
            return
        try:
            core.check_group_envelope(g.state, env)
        except UnknownEpoch:
            if int.from_bytes(env.body[:8], "big") > MAX_GROUP_OPS:  # no chain gets that far
                log.warning("refused a group envelope from %s: impossible epoch",
                            self._views.who(key))
                return
            if len(g.early) < MAX_EARLY:
                g.early.append((link, key, env))
            self._outbox.queue(link, g.state.ops[-1])  # it sends the ops we lack
            return
        except GroupError as exc:
            log.warning("refused a group envelope from %s: %s", self._views.who(key), exc)
            return
        received = conv_log.receive(env)
        if received.error:
            log.warning("dropped a group envelope from %s: %s", self._views.who(key),
                        received.error)
        if received.duplicate:
            self._duplicate(g, link, key, env.author)
        self._accept(g, received.accepted, came_from=key)
        for request in received.requests:
            g.gossip.on_request(key, request.author)
            self._outbox.queue(link, request)

    def _duplicate(self, g: _Group, link: Link, key: bytes, author: bytes) -> None:
        prune = g.gossip.on_duplicate(key, author)
        if prune is not None:
            self._outbox.queue(link, prune)

    def _accept(self, g: _Group, envelopes: Iterable[Envelope], came_from: bytes) -> None:
        """Store, show and pass on what the log accepted. Forwarding does not wait for the
        commit (Sender.forward says why)."""
        db = self._store()
        now = now_ms()
        linked = self._linked_members(g)
        for env in envelopes:
            if not db.insert_envelope(env, now, own=env.author == self._key):
                continue
            self._show(g, env)
            for peer in g.gossip.push_targets(g.state, linked, came_from, env.author):
                self._sender.forward(linked[peer], env)

    def _show(self, g: _Group, env: Envelope) -> None:
        try:
            body = core.open_group_envelope(g.state, g.keys, env)
        except MissingKey:
            if len(g.unread) < MAX_UNREAD:
                g.unread.add((env.author, env.seq))
            self._ask_key(g, int.from_bytes(env.body[:8], "big"))
            return
        except GroupError as exc:
            log.warning("a group envelope does not open: %s", exc)
            self._events.emit(self._views.message(env, own=False, status=None, readable=False,
                                                  group=g.state.title))
            return
        self._events.emit(self._views.message(env, own=env.author == self._key, status=None,
                                              body=body, group=g.state.title))

    def _ask_key(self, g: _Group, epoch: int) -> None:
        if epoch in g.key_asked or not g.state.member_at(self._key, epoch):
            return
        g.key_asked.add(epoch)
        for link in self._linked_members(g).values():
            self._outbox.queue(link, GroupKeyRequest(group=g.conv, epoch=epoch))

    def _on_sync(self, link: Link, key: bytes, record: SyncVector | SyncRequest) -> None:
        g = self._member_group(record.conv, key)
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
            self._store().set_group_invite(g.conv, key, None)
            self._outbox.schedule_flush()
        # Pull, not push: several members announce the same envelopes (protocol 8.8).
        for request in conv_log.wanted_from(record.vector, again=False):
            g.gossip.on_request(key, request.author)
            self._outbox.queue(link, request)

    def _on_op(self, link: Link, key: bytes, op: GroupOp) -> None:
        g = self._groups.get(op.group)
        if g is None or g.left or key not in g.state.spans:
            return
        before = g.state
        try:
            g.state = core.apply_op(before, op)
        except OpReplay as exc:
            if exc.same:  # the peer is behind: the ops after its head, once per link
                for later in g.gossip.ops_behind(before, key, op.number):
                    self._outbox.queue(link, later)
            else:
                log.warning("refused a group op from %s: %s", self._views.who(key), exc)
            g.gossip.saw_op(key, op.number)
            return
        except OpGap:
            self._outbox.queue(link, before.ops[-1])
            return
        except GroupError as exc:
            log.warning("refused a group op from %s: %s", self._views.who(key), exc)
            return
        g.gossip.saw_op(key, op.number)
        self._applied(g, before, op, came_from=key)

    def _applied(self, g: _Group, before: GroupState, op: GroupOp,
                 came_from: bytes | None) -> None:
        """An op is in the chain: store it, cut a departed member's log, pass it on."""
        db = self._store()
        db.add_group_op(g.conv, op.number, encode_record(op))
        if op.kind in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            self._cut(g, op.subject, op.cut)
            g.leaves.pop(op.subject, None)
            db.drop_group_leave(g.conv, op.subject)
            if g.invites.pop(op.subject, None) is not None:
                db.set_group_invite(g.conv, op.subject, None)
        linked = self._linked()
        for peer in core.op_targets(before, g.state, linked, came_from):
            self._outbox.queue(linked[peer], op)
        if g.state.epoch not in g.keys and self._active(g):
            self._ask_key(g, g.state.epoch)  # of whoever told us: it may hold the key
        self._outbox.schedule_flush()
        self._events.emit(self._change_event(g, op))
        early, g.early = g.early, []
        for link, key, env in early:
            if not link.closed:
                self._on_envelope(link, key, env)
        self._dial_members()
        self._links.dialer.wake_all()
        _after_flush(self._close_unshared)

    def _cut(self, g: _Group, author: bytes, cut: int) -> None:
        """The member's log ends at `cut`: drop what we took beyond it (protocol 8.6, Cuts)."""
        if self._conversations.log_of(g.conv).head(author)[0] <= cut:
            return
        self._store().truncate_log(g.conv, author, cut)
        self._conversations.forget_log(g.conv)
        g.unread = {(a, s) for a, s in g.unread if a != author or s <= cut}

    def _on_key(self, record: GroupKey) -> None:
        g = self._groups.get(record.group)
        if g is None or g.left or record.epoch in g.keys:
            return
        try:
            key = core.accept_key(g.state, record, self._key)
        except GroupError as exc:
            log.debug("ignored a group key: %s", exc)
            return
        g.keys[record.epoch] = key
        db = self._store()
        db.put_group_key(g.conv, record.epoch, key)
        self._outbox.schedule_flush()
        linked = self._linked()
        for waiter in g.key_waiters.pop(record.epoch, ()):
            if waiter in linked:
                self._outbox.queue(linked[waiter], record)
        waiting, g.unread = sorted(g.unread), set()
        for author, seq in waiting:
            for env in db.envelopes(g.conv, author, seq, seq):
                self._show(g, env)

    def _on_key_request(self, link: Link, key: bytes, request: GroupKeyRequest) -> None:
        g = self._groups.get(request.group)
        if g is None or not self._active(g):
            return
        answer = core.serve_key(g.state, g.keys, key, request)
        if answer is not None:
            self._outbox.queue(link, answer)
        elif request.epoch <= g.state.epoch and g.state.member_at(key, request.epoch) \
                and g.state.member_at(self._key, request.epoch):
            g.key_waiters.setdefault(request.epoch, set()).add(key)

    def _on_leave(self, link: Link, key: bytes, leave: GroupLeave) -> None:
        g = self._member_group(leave.group, key)
        if g is None or leave.member in g.leaves:
            return
        try:
            core.check_leave(g.state, leave)
        except GroupError as exc:
            log.warning("refused a leave request from %s: %s", self._views.who(key), exc)
            return
        if g.state.owner == self._key:
            self._owner_change(g, core.enact_leave(g.state, self._identity, leave, self._random))
            return
        g.leaves[leave.member] = leave
        self._store().put_group_leave(g.conv, leave.member, encode_record(leave))
        for peer, other in self._linked_members(g).items():
            if peer != key:
                self._outbox.queue(other, leave)
        self._outbox.schedule_flush()

    def _on_invite(self, link: Link, key: bytes, invite: GroupInvite) -> None:
        if link.peer.group_only or self._contact_state(key) != "contact":
            return  # only a contact may invite us (protocol 8.5)
        try:
            state = core.join(invite, self._key, key)
        except GroupError as exc:
            log.warning("refused a group invitation from %s: %s", self._views.who(key), exc)
            return
        g = self._groups.get(state.group)
        if g is not None:  # we know it: the invitation is news of later ops (or of a re-add)
            if g.left:
                g.left = False
                g.leaves.clear()
                self._store().rejoin_group(g.conv)
            for op in invite.ops[g.state.number:]:
                self._on_op(link, key, op)
            return
        if len(self._groups) >= MAX_GROUPS:
            log.warning("refused a group invitation: already in %d groups", MAX_GROUPS)
            return
        db = self._store()
        db.create_group(state.group, state.title, invite.lamport, core.start_heads(invite))
        for op in invite.ops:
            db.add_group_op(state.group, op.number, encode_record(op))
        g = self._groups[state.group] = _Group(state, {}, GroupGossip(state.group))
        self._conversations.forget_log(state.group)
        self._events.emit({"type": "group_joined", **self.view(g),
                           "by": fingerprint(key), "by_name": self._views.display_name(key)})
        for peer, other in self._linked_members(g).items():
            self._greet(g, other, peer)
        self._dial_members()

    # ------------------------------------------------------------ the owner's changes

    def _owner_change(self, g: _Group, change: core.Change) -> None:
        before, g.state = g.state, change.state
        if change.key is not None:
            g.keys[change.state.epoch] = change.key
            self._store().put_group_key(g.conv, change.state.epoch, change.key)
        self._applied(g, before, change.op, came_from=None)
        linked = self._linked()
        for member, record in change.deliveries:
            # The op went first on the same link (op_targets); the member just added gets the
            # key right after its invitation instead.
            if member in linked and member != change.op.subject:
                self._outbox.queue(linked[member], record)

    def _hand_invitation(self, g: _Group, link: Link, invite: GroupInvite) -> None:
        """The invitation, then the keys of every epoch since the member's add (the later ops
        reach it by the head-op exchange once it holds the group)."""
        self._outbox.queue(link, invite)
        for epoch in range(invite.ops[-1].epoch, g.state.epoch + 1):
            key = g.keys.get(epoch)
            if key is not None:
                self._outbox.queue(link, GroupKey(group=g.conv, epoch=epoch, key=key))

    # ------------------------------------------------------------ commands

    async def create(self, title: str) -> dict[str, Any]:
        try:
            title = valid_name(title)
        except BadName as exc:
            raise CommandError("bad_name", str(exc)) from None
        change = core.create(self._identity, title, self._name, self._random)
        assert change.key is not None
        conv = change.state.group
        db = self._store()
        db.create_group(conv, title, 0, {})
        db.add_group_op(conv, 1, encode_record(change.op))
        db.put_group_key(conv, 1, change.key)
        g = self._groups[conv] = _Group(change.state, {1: change.key}, GroupGossip(conv))
        await self._outbox.durable()
        return self.view(g)

    async def invite(self, which: str, who: str) -> dict[str, Any]:
        g = self._owned(which)
        member = self._contact_key(who)
        if self._contact_state(member) != "contact":
            raise CommandError("unknown_contact", f"{who!r} is not a contact")
        if g.state.is_member(member):
            raise CommandError("exists", "already a member of this group")
        name = self._views.display_name(member)
        change = self._change(lambda: core.invite(g.state, self._identity, member, name,
                                                  self._random))
        # The invitee starts at the log's heads of this moment: what is written from now on
        # is in the new epoch, which it can read, so it must not start past any of it.
        conv_log = self._conversations.log_of(g.conv)
        heads = {author: conv_log.head(author) for author in conv_log.vector()}
        g.invites[member] = core.invitation(change.state, heads, conv_log.lamport)
        self._store().set_group_invite(g.conv, member, encode_record(g.invites[member]))
        self._owner_change(g, change)
        link = self._linked().get(member)
        if link is not None:
            self._hand_invitation(g, link, g.invites[member])
        await self._outbox.durable()
        return self.view(g)

    async def remove(self, which: str, who: str) -> dict[str, Any]:
        g = self._owned(which)
        member = self._member_key(g, who)
        if member == self._key:
            raise CommandError("bad_request", "the owner cannot remove itself: leave instead")
        cut = self._conversations.log_of(g.conv).head(member)[0]
        self._owner_change(g, self._change(
            lambda: core.remove(g.state, self._identity, member, cut, self._random)))
        await self._outbox.durable()
        return self.view(g)

    async def leave(self, which: str) -> dict[str, Any]:
        g = self.find(which)
        if not self._active(g):
            raise CommandError("not_member", "you are no longer in this group")
        db = self._store()
        if g.state.owner == self._key:
            if len(g.state.members) > 1:
                raise CommandError("owner", "you own this group: remove the others first,"
                                            " or it goes on without an owner")
            leave = None
        else:
            head = self._conversations.log_of(g.conv).head(self._key)[0]
            leave = core.request_leave(g.state, self._identity, head)
        linked = self._linked_members(g)
        g.left = True
        g.keys.clear()
        g.unread.clear()
        db.set_group_left(g.conv)
        if leave is not None:
            g.leaves = {self._key: leave}
            db.put_group_leave(g.conv, self._key, encode_record(leave))
            for link in linked.values():
                self._outbox.queue(link, leave)
        await self._outbox.durable()
        self._dial_members()
        self._close_unshared()
        return self.view(g)

    async def send(self, which: str, text: str) -> dict[str, Any]:
        g = self.find(which)
        if not self._active(g):
            raise CommandError("not_member", "you are no longer in this group")
        try:
            body = encode_text(text)
        except ProtocolError as exc:
            raise CommandError("bad_text", str(exc)) from None
        if not text.strip():
            raise CommandError("bad_text", "nothing to send")
        conv_log = self._conversations.log_of(g.conv)
        try:
            env = core.seal_group_envelope(g.state, g.keys, self._identity, conv_log, body,
                                           now_ms(), self._random)
        except MissingKey:
            raise CommandError("no_key", "the group's key has not arrived yet") from None
        linked = self._linked_members(g)
        targets = g.gossip.push_targets(g.state, linked, None, self._key)
        self._store().insert_envelope(env, env.sent_at, own=True, sent=bool(targets))
        for peer in targets:
            self._sender.push(linked[peer], env)
        await self._outbox.durable()
        event = self._views.message(env, own=True, status="sent" if targets else "queued",
                                    body=body, group=g.state.title)
        self._events.emit(event)
        return event

    def history(self, which: str, limit: int | None = None) -> list[dict[str, Any]]:
        g = self.find(which)
        out = []
        for stored in self._store().history(g.conv, limit):
            env, body, readable = stored.envelope, None, stored.readable
            if readable:
                try:
                    body = core.open_group_envelope(g.state, g.keys, env)
                except MissingKey:
                    body = encode_text(NO_KEY_YET)
                except GroupError:
                    readable = False
            out.append(self._views.message(
                env, own=stored.own, status=stored.status if stored.own else None,
                stored_hash=stored.hash, readable=readable, body=body, group=g.state.title))
        return out

    def listing(self) -> list[dict[str, Any]]:
        return [self.view(g) for g in self._groups.values()]

    def members(self, which: str) -> list[dict[str, Any]]:
        g = self.find(which)
        linked = self._linked()
        return [{
            "fingerprint": fingerprint(key),
            "name": self._member_name(g, key),
            "owner": key == g.state.owner,
            "you": key == self._key,
            "online": key == self._key or key in linked,
        } for key in sorted(g.state.members, key=lambda k: self._member_name(g, k).casefold())]

    def view(self, g: _Group) -> dict[str, Any]:
        role = "left" if g.left else "removed" if not g.state.is_member(self._key) \
            else "owner" if g.state.owner == self._key else "member"
        linked = self._linked()
        return {
            "group": g.conv.hex(),
            "title": g.state.title,
            "role": role,
            "owner": fingerprint(g.state.owner),
            "owner_name": self._member_name(g, g.state.owner),
            "members": len(g.state.members),
            "online": sum(1 for k in g.state.members if k in linked),
            "epoch": g.state.epoch,
            "has_key": g.state.epoch in g.keys,
        }

    def _change_event(self, g: _Group, op: GroupOp) -> dict[str, Any]:
        return {"type": "group_changed", **self.view(g), "change": _CHANGES[op.kind],
                "member": fingerprint(op.subject), "member_name": self._member_name(g, op.subject),
                "you": op.subject == self._key}

    def _member_name(self, g: _Group, key: bytes) -> str:
        if key == self._key:
            return self._name
        if self._contact_state(key) is not None:
            return self._views.display_name(key)
        for op in reversed(g.state.ops):  # the name the owner gave them when adding them
            if op.subject == key and op.kind in (GroupOpKind.CREATE, GroupOpKind.ADD):
                return op.name
        return self._views.display_name(key)

    # ------------------------------------------------------------ lookups

    def names(self, which: str) -> bool:
        """Whether `which` names one of our groups (by title or id)."""
        try:
            self.find(which)
        except CommandError:
            return False
        return True

    def find(self, which: str) -> _Group:
        """A group by its id (hex) or its title (case-insensitive)."""
        try:
            g = self._groups.get(bytes.fromhex(which))
        except ValueError:
            g = None
        if g is not None:
            return g
        fold = which.strip().casefold()
        found = [g for g in self._groups.values() if g.state.title.casefold() == fold]
        active = [g for g in found if not g.left] or found
        if len(active) > 1:
            raise CommandError("ambiguous_group",
                               f"several groups are called {which!r}: use the group id")
        if not active:
            raise CommandError("unknown_group", f"no group called {which!r}: see 'group list'")
        return active[0]

    def _owned(self, which: str) -> _Group:
        g = self.find(which)
        if not self._active(g) or g.state.owner != self._key:
            raise CommandError("not_owner", "only the group's owner changes who is in it")
        return g

    def _member_key(self, g: _Group, who: str) -> bytes:
        try:
            key = parse_fingerprint(who)
        except FingerprintError:
            fold = who.strip().casefold()
            named = [k for k in g.state.members if self._member_name(g, k).casefold() == fold]
            if len(named) != 1:
                raise CommandError("unknown_member", f"no single member called {who!r}") from None
            key = named[0]
        if key not in g.state.members:
            raise CommandError("unknown_member", "not a member of this group")
        return key

    @staticmethod
    def _change(make: Callable[[], core.Change]) -> core.Change:
        try:
            return make()
        except GroupError as exc:
            raise CommandError("group_limit", str(exc)) from None


def _op(record: Record) -> GroupOp:
    if not isinstance(record, GroupOp):
        raise StoreError("a stored group op is not an op")
    return record


def _after_flush(fn: Callable[[], None]) -> None:
    """Run `fn` after the outbox's flush of this turn (scheduled earlier, so it runs first)."""
    asyncio.get_running_loop().call_soon(fn)
