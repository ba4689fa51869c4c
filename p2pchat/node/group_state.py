"""Group chat in the node, layer 1 of 3: the groups we are in, their links and lookups.

`Groups` (node/groups.py) is the node's one part for group chat; it is built in three layers so
each file holds one job: this one keeps the state (rebuilt from the stored op chain), the links
to fellow members (greeting, anti-entropy ticks, dialling members who are not contacts) and the
lookups and views every layer uses; node/group_records.py handles the records members send;
node/groups.py holds the commands. docs/protocol.md section 8 is the contract.
"""


from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from p2pchat.core import groups as core
from p2pchat.core.errors import ProtocolError
from p2pchat.core.gap_buffer import held_size
from p2pchat.core.groups import (
    GroupError,
    GroupGossip,
    GroupState,
)
from p2pchat.core.identity import FingerprintError, Identity, fingerprint, parse_fingerprint
from p2pchat.core.member_budget import MemberBudgets
from p2pchat.core.messages import (
    Envelope,
    GroupDigest,
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
)
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.config import CommandError, NodeConfig
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.equivocations import Equivocations
from p2pchat.node.group_invitations import Invitations
from p2pchat.node.links import LinkTable
from p2pchat.node.outbox import Outbox
from p2pchat.node.sender import Sender
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

GROUP_RECORDS = (GroupInvite, GroupOp, GroupKey, GroupKeyRequest, GroupLeave, GroupPrune,
                 GroupDigest)
DIAL_PER_GROUP = 3  # members who are not contacts we keep trying to link with, per group
MAX_UNREAD = 4096  # envelopes held for a key we lack, per group, shown when it arrives
MAX_EARLY = 256  # envelopes of an epoch whose op has not arrived yet, per group
MAX_GROUPS = 256  # groups a node is in (left ones do not count): accepting more is refused
NO_KEY_YET = "(waiting for the group's key)"
_CHANGES = {GroupOpKind.CREATE: "create", GroupOpKind.ADD: "add", GroupOpKind.REMOVE: "remove",
            GroupOpKind.LEAVE: "leave", GroupOpKind.TRANSFER: "transfer"}


@dataclass
class Group:
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


def stored_groups(db: Store) -> dict[bytes, Group]:
    """Every group in the store, its state rebuilt from its op chain, with its keys and pending
    records. A group whose chain does not load is logged and left out (the others still do)."""
    groups = {}
    for conv, left in db.groups.list_all():
        try:
            ops = [decode_record(data) for data in db.groups.ops(conv)]
            state = core.genesis(_op(ops[0]))
            for op in ops[1:]:
                state = core.apply_op(state, _op(op))
            leaves = [decode_record(data) for data in db.groups.leaves(conv)]
        except (StoreError, ProtocolError, IndexError) as exc:
            log.error("group %s cannot be loaded: %s", conv.hex()[:8], exc)
            continue
        invites = {member: decode_record(data)
                   for member, data in db.groups.invites(conv).items()}
        group = Group(state, db.groups.epoch_keys(conv), GroupGossip(conv), left=left,
                      invites={member: invite for member, invite in invites.items()
                               if isinstance(invite, GroupInvite)})
        group.leaves = {leave.member: leave for leave in leaves if isinstance(leave, GroupLeave)}
        groups[conv] = group
    return groups


def find_group(groups: dict[bytes, Group], which: str) -> Group:
    """A group by its id (hex) or its title (case-insensitive; one not left wins a tie);
    `#TITLE` is the title too (how a group is told from a contact of that name)."""
    which = which.strip()
    if which.startswith("#") and len(which) > 1:
        which = which[1:]
    try:
        g = groups.get(bytes.fromhex(which))
    except ValueError:
        g = None
    if g is not None:
        return g
    fold = which.strip().casefold()
    found = [g for g in groups.values() if g.state.title.casefold() == fold]
    active = [g for g in found if not g.left] or found
    if len(active) > 1:
        raise CommandError("ambiguous_group",
                           f"several groups are called {which!r}: use the group id")
    if not active:
        raise CommandError("unknown_group", f"no group called {which!r}: see 'group list'")
    return active[0]


class GroupBase:
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
        self._groups: dict[bytes, Group] = {}
        self._dialing: set[bytes] = set()  # non-contact members we asked the dialer for
        # What each author may make us store per group (core.member_budget); warned once each.
        self._budgets = MemberBudgets(lambda conv: self._store().groups.author_bytes(conv))
        self._over_budget: set[tuple[bytes, bytes]] = set()
        self._invitations = Invitations(self._key, store=store, events=events,
                                        name_of=views.display_name)
        self._equivocations = Equivocations(
            store=store, outbox=outbox, sender=sender, conversations=conversations,
            events=events, name_of=self._member_name)
        self._last_tick = 0.0
        # Told of every group message opened (files look for offers in them: node/files.py).
        self.on_body: Callable[[bytes, Envelope, bytes], None] | None = None

    # ------------------------------------------------------------ state

    def load(self) -> None:
        """At start: every group's state from its stored op chain, keys and pending records."""
        self._groups.update(stored_groups(self._store()))
        self._invitations.load()
        self._dial_members()

    def reload(self) -> None:
        """A commit failed: rebuild every group from what the store really holds (ops and keys
        that were rolled back come again from the members)."""
        for g in self._groups.values():
            for _, _, env in g.early:
                self._conversations.gap_budget.give(held_size(env))
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

    def _active(self, g: Group) -> bool:
        return not g.left and g.state.is_member(self._key)

    def _linked(self) -> dict[bytes, Link]:
        return {key: link for key, link in self._links.by_peer.items()
                if not link.closed and link.peer.up and not link.peer.stranger}

    def _linked_members(self, g: Group) -> dict[bytes, Link]:
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

    def _hand_invitation(self, g: Group, link: Link, invite: GroupInvite) -> None:
        """The invitation, then the keys of every epoch since the member's add (the later ops
        reach it by the head-op exchange once it holds the group)."""
        self._outbox.queue(link, invite)
        for epoch in range(invite.ops[-1].epoch, g.state.epoch + 1):
            key = g.keys.get(epoch)
            if key is not None:
                self._outbox.queue(link, GroupKey(group=g.conv, epoch=epoch, key=key))

    def _greet(self, g: Group, link: Link, key: bytes, *, invite: bool = True) -> None:
        if invite and key in g.invites and g.state.owner == self._key:
            self._hand_invitation(g, link, g.invites[key])  # on link start only: it may be large
        conv_log = self._conversations.log_of(g.conv)
        self._outbox.queue(link, SyncVector(conv=g.conv, vector=conv_log.vector()))
        if link.session.peer_revision >= GroupDigest.REVISION:  # older peers close on it (12)
            self._outbox.queue(link, self._equivocations.digest(g.conv))
        self._outbox.queue(link, g.state.ops[-1])
        for leave in g.leaves.values():
            self._outbox.queue(link, leave)
        if g.state.epoch not in g.keys:
            self._outbox.queue(link, GroupKeyRequest(group=g.conv, epoch=g.state.epoch))

    def forget(self, link: Link) -> None:
        """A link closed: its gossip marks and the requests it was to answer die with it."""
        for g in self._groups.values():  # envelopes only it brought, waiting for their op
            kept = [entry for entry in g.early if entry[0] is not link]
            for entry in g.early:
                if entry[0] is link:
                    self._conversations.gap_budget.give(held_size(entry[2]))
            g.early = kept
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
        self._invitations.expire(now_ms())
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

    def view(self, g: Group) -> dict[str, Any]:
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

    def _change_event(self, g: Group, op: GroupOp) -> dict[str, Any]:
        return {"type": "group_changed", **self.view(g), "change": _CHANGES[op.kind],
                "member": fingerprint(op.subject), "member_name": self._member_name(g, op.subject),
                "you": op.subject == self._key}

    def _member_name(self, g: Group, key: bytes) -> str:
        if key == self._key:
            return self._name
        if self._contact_state(key) is not None:
            return self._views.display_name(key)
        for op in reversed(g.state.ops):  # the name the owner gave them when adding them
            if op.subject == key and op.kind in (GroupOpKind.CREATE, GroupOpKind.ADD):
                return op.name
        return self._views.display_name(key)

    # ------------------------------------------------------------ lookups

    def ids(self) -> list[bytes]:
        """Every group we hold, left ones too (their history stays)."""
        return list(self._groups)

    def names(self, which: str) -> bool:
        """Whether `which` names one of our groups (by title or id)."""
        try:
            self.find(which)
        except CommandError:
            return False
        return True

    def find(self, which: str) -> Group:
        return find_group(self._groups, which)

    def _owned(self, which: str) -> Group:
        g = self.find(which)
        if not self._active(g) or g.state.owner != self._key:
            raise CommandError("not_owner", "only the group's owner changes who is in it")
        return g

    def _member_key(self, g: Group, who: str) -> bytes:
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


def after_flush(fn: Callable[[], None]) -> None:
    """Run `fn` after the outbox's flush of this turn (scheduled earlier, so it runs first)."""
    asyncio.get_running_loop().call_soon(fn)
