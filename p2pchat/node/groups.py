"""Groups: the node's part for group chat, between the pure core (core/groups.py), the store, the
links and the one sync driver (`Conversations`). `Groups` holds the commands and composes the
parts, each built with what it needs: `GroupBook` (node/group_state.py: the groups, lookups,
names, views), `GroupLinks` (node/group_links.py: what each link to a member is told and when),
`GroupRecords` (node/group_records.py: what members send, and changes to a chain),
`Invitations` (pending invitations) and `Equivocations` (node/equivocations.py).

A group's content is an ordinary conversation: its envelopes go through the same
`ConversationLog` (`Conversations.log_of`), the same store tables and the same `Backlog` as a dm.
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

import logging
import os
from collections.abc import Callable
from typing import Any

from p2pchat.core import groups as core
from p2pchat.core.gap_buffer import held_size
from p2pchat.core.group_words import NotAContact, invitees
from p2pchat.core.groups import (
    GroupError,
    GroupGossip,
    MissingKey,
)
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.member_budget import MemberBudgets
from p2pchat.core.messages import (
    Envelope,
    Record,
    SyncRequest,
    SyncVector,
    dm_conversation_id,
    encode_record,
    encode_text,
)
from p2pchat.core.text import BadName, valid_name
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.backlog import Backlog
from p2pchat.node.config import CommandError, NodeConfig
from p2pchat.node.conversations import Conversations, now_ms, text_body
from p2pchat.node.equivocations import Equivocations, NameOf, notices
from p2pchat.node.group_catchup import GroupCatchUp
from p2pchat.node.group_changes import GroupChanges
from p2pchat.node.group_invitations import Invitations
from p2pchat.node.group_lines import change_lines
from p2pchat.node.group_links import GroupLinks
from p2pchat.node.group_records import GroupRecords
from p2pchat.node.group_state import (
    GROUP_RECORDS,
    MAX_GROUPS,
    NO_KEY_YET,
    Group,
    GroupBook,
    added_name,
    checked_change,
)
from p2pchat.node.links import LinkTable
from p2pchat.node.outbox import Outbox
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

# How long an accept that asks to `wait` waits for its inviter to say who accepted before us
# (a round trip on a working link; an invitee that never says yes must not hold it up long).
JOINS_WAIT = 1.5


class Groups:
    """The node's part for group chat: the group commands, over the composed group parts."""

    def __init__(
        self,
        identity: Identity,
        name: str,
        config: NodeConfig,
        *,
        store: Callable[[], Store],
        outbox: Outbox,
        sender: Backlog,
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
        self._store = store
        self._outbox = outbox
        self._sender = sender
        self._conversations = conversations
        self._events = events
        self._views = views
        self._contact_state = contact_state
        self._contact_key = contact_key
        self._random = random
        self._book = GroupBook(
            identity, name, store=store, views=views, links=links, contact_state=contact_state,
            release_held=lambda env: conversations.gap_budget.give(held_size(env)))
        outbox.send_older_as(self.older)  # what a revision-3 peer can decode (protocol 12)
        self._budgets = MemberBudgets(lambda conv: store().groups.author_bytes(conv))
        self._invitations = Invitations(self._key, store=store, events=events,
                                        name_of=views.display_name)
        self._equivocations = Equivocations(
            store=store, outbox=outbox, sender=sender, conversations=conversations,
            events=events, name_of=self._book.member_name)
        self._group_links = GroupLinks(
            self._key, config.group_sync_interval, book=self._book, outbox=outbox,
            conversations=conversations, equivocations=self._equivocations,
            invitations=self._invitations)
        self._catch_up = GroupCatchUp(
            identity, config.group_sync_interval, book=self._book, store=store, outbox=outbox,
            events=events, views=views,
            cut=lambda g, author, cut: self._changes.cut(g, author, cut),
            ask_key=lambda g, epoch: self._records.ask_key(g, epoch))
        self._changes = GroupChanges(
            identity, book=self._book, group_links=self._group_links, catch_up=self._catch_up,
            store=store, outbox=outbox,
            conversations=conversations, events=events, views=views, budgets=self._budgets,
            random=random, retake=lambda link, key, env: self._records.on_envelope(link, key, env),
            ask_key=lambda g, epoch: self._records.ask_key(g, epoch),
            keep_lost=lambda g, record, key: self._records.keep_lost(g, record, key))
        self._records = GroupRecords(
            identity, book=self._book, changes=self._changes, catch_up=self._catch_up,
            store=store, outbox=outbox,
            sender=sender, conversations=conversations, events=events, views=views,
            invitations=self._invitations, equivocations=self._equivocations,
            budgets=self._budgets, contact_state=contact_state, random=random)

    @property
    def on_body(self) -> Callable[[bytes, Envelope, bytes], None] | None:
        """Told of every group message opened (files look for offers in them)."""
        return self._records.on_body

    @on_body.setter
    def on_body(self, hook: Callable[[bytes, Envelope, bytes], None] | None) -> None:
        """Set who is told of every group message opened."""
        self._records.on_body = hook

    # ------------------------------------------------------------ the node's calls

    def load(self) -> None:
        """At start: every group's state from its stored op chain, keys and pending records."""
        self._book.load()
        self._invitations.load()

    def reload(self) -> None:
        """A commit failed: rebuild every group from what the store really holds (ops and keys
        that were rolled back come again from the members)."""
        self._book.clear()
        try:
            self.load()
        except StoreError as exc:  # still failing: the next reload (or restart) tries again
            log.error("groups cannot be reloaded: %s", exc)

    def is_group_peer(self, key: bytes) -> bool:
        """Whether `key` may hold a group-only link: a current member of a group we are in."""
        return self._book.is_group_peer(key)

    def claims(self, record: Record, peer: bytes) -> bool:
        """Whether `record` from `peer` is this part's: a group record, or sync for any
        conversation but our dm with `peer`. A group we have not joined yet (its invitation is
        still on its way while members already count us in) is ignored, not a broken rule."""
        if isinstance(record, GROUP_RECORDS):
            return True
        return isinstance(record, (Envelope, SyncVector, SyncRequest)) and (
            self._book.get(record.conv) is not None
            or record.conv != dm_conversation_id(self._key, peer))

    def on_record(self, link: Link, key: bytes, record: Record) -> None:
        """A record this part claims, from `key` on `link`."""
        self._records.on_record(link, key, record)

    def start_sync(self, link: Link, key: bytes) -> None:
        """A link is up: per shared group, what we hold and where the chain stands."""
        self._group_links.start_sync(link, key)

    def forget(self, link: Link) -> None:
        """A link closed: its gossip marks and the requests it was to answer die with it."""
        self._group_links.forget(link)
        if link.remote_key is not None:
            self._catch_up.forget(link.remote_key)

    def tick(self, now: float) -> None:
        """Anti-entropy: every interval, vectors, head ops and pending leaves on every link."""
        self._group_links.tick(now)
        self._catch_up.tick(now)

    def ids(self) -> list[bytes]:
        """Every group we hold, left ones too (their history stays)."""
        return self._book.ids()

    def names(self, which: str) -> bool:
        """Whether `which` names one of our groups (by title or id)."""
        return self._book.names(which)

    def find(self, which: str) -> Group:
        """A group by its id (hex) or its title, or a clean `CommandError`."""
        return self._book.find(which)

    def older(self, link: Link, record: Record, size: int) -> Record | None:
        """What of ``record`` goes to ``link``'s peer of an older revision (protocol 12)."""
        return self._book.older(record, size)

    def view(self, g: Group) -> dict[str, Any]:
        """How a group looks from outside (docs/api.md)."""
        return self._book.view(g)

    # ------------------------------------------------------------ commands

    async def create(self, title: str, invite: list[str] | None = None) -> dict[str, Any]:
        """Create a group we own, with us as its only member (protocol 8.5); then invite
        each contact `invite` names, all checked first: one that is not, and nothing is
        created (the chat's /group create rule, core/group_words.py)."""
        try:
            title = valid_name(title)
        except BadName as exc:
            raise CommandError("bad_name", str(exc)) from None
        if len(invite or []) >= core.MAX_GROUP_MEMBERS:
            raise CommandError("bad_request", f"a group has at most {core.MAX_GROUP_MEMBERS}"
                                              " members")
        try:
            wanted = invitees(invite or [], self._invitable, self._views.now_called)
        except NotAContact as exc:
            raise CommandError("unknown_contact", str(exc)) from None
        g = await self._create(title)
        for key in wanted:
            await self._invite(g, key)
        invited = [self._views.display_name(key) for key in wanted]
        return self.view(g) | {"invitees": invited} | self._namesake_note(title)

    def _invitable(self, who: str) -> bytes | None:
        """The key of the contact `who` names, or None (not one, or not a contact now)."""
        try:
            key = self._contact_key(who)
        except CommandError:
            return None
        return key if self._contact_state(key) == "contact" else None

    async def _create(self, title: str) -> Group:
        change = core.create(self._identity, title, self._name, self._random)
        assert change.key is not None
        conv = change.state.group
        db = self._store()
        db.groups.create(conv, title, 0, {})
        db.groups.add_op(conv, 1, encode_record(change.op))
        db.groups.put_key(conv, 1, change.key)
        db.groups.add_join(conv, 1, now_ms())
        g = self._book.add(Group(change.state, {1: change.key}, GroupGossip(conv),
                                 joined={self._key}))
        await self._outbox.durable()
        self._events.emit({"type": "group_created", **self.view(g)})  # for open chats too
        return g

    def _namesake_note(self, title: str) -> dict[str, Any]:
        """A group named like a contact: a bare name then fits both (trial 2, B15)."""
        try:
            self._contact_key(title)
        except CommandError:
            return {}
        return {"note": f"you also have a contact named {title}: write #{title} for the group"
                        f" and @{title} for the contact where a name is asked for"}

    async def invite(self, which: str, who: str) -> dict[str, Any]:
        """Add a contact to a group we own: a new epoch, and its invitation (8.5)."""
        g = self._book.managed(which)
        member = self._contact_key(who)
        if self._contact_state(member) != "contact":
            raise CommandError("unknown_contact", f"{who!r} is not a contact")
        return await self._invite(g, member)

    async def _invite(self, g: Group, member: bytes) -> dict[str, Any]:
        if g.state.is_member(member):
            raise CommandError("exists", "already a member of this group")
        name = self._views.display_name(member)
        change = checked_change(lambda: core.invite(g.state, self._identity, member, name,
                                                  self._random))
        # The invitee starts at the log's heads of this moment: what is written from now on
        # is in the new epoch, which it can read, so it must not start past any of it.
        conv_log = self._conversations.log_of(g.conv)
        heads = {author: conv_log.head(author) for author in conv_log.vector()}
        g.invites[member] = core.invitation(change.state, heads, conv_log.lamport,
                                            self._identity)
        self._store().groups.set_invite(g.conv, member, encode_record(g.invites[member]))
        self._changes.apply_change(g, change)
        link = self._book.linked().get(member)
        if link is not None:
            self._group_links.hand_invitation(g, link, g.invites[member])
        await self._outbox.durable()
        return self.view(g)

    async def remove(self, which: str, who: str) -> dict[str, Any]:
        """Remove a member of a group we own: a new epoch it never gets (8.5)."""
        g = self._book.managed(which)
        member = self._book.member_key(g, who)
        if member == self._key:
            raise CommandError("bad_request", "you cannot remove yourself: leave instead")
        if member == g.state.owner:
            raise CommandError("not_owner", "nobody removes the group's owner")
        if member in g.state.admins and g.state.owner != self._key:
            raise CommandError("not_owner", "only the owner removes an admin")
        cut = self._conversations.log_of(g.conv).head(member)[0]
        self._group_links.tell_holders(g, member)  # before the op on its link (8.16)
        self._changes.apply_change(g, checked_change(
            lambda: core.remove(g.state, self._identity, member, cut, self._random)))
        await self._outbox.durable()
        return self.view(g)

    async def admin(self, which: str, who: str) -> dict[str, Any]:
        """Make a member an admin (owner only): it may then invite and remove (protocol 8.13)."""
        g = self._book.owned(which)
        member = self._book.member_key(g, who)
        if member == self._key or member in g.state.admins:
            raise CommandError("exists", "already the owner or an admin")
        self._changes.apply_change(g, checked_change(
            lambda: core.admin(g.state, self._identity, member)))
        await self._outbox.durable()
        return self.view(g)

    async def unadmin(self, which: str, who: str) -> dict[str, Any]:
        """Make an admin an ordinary member again (owner only)."""
        g = self._book.owned(which)
        member = self._book.member_key(g, who)
        if member not in g.state.admins:
            raise CommandError("unknown_member", "not an admin of this group")
        self._changes.apply_change(g, checked_change(
            lambda: core.unadmin(g.state, self._identity, member)))
        await self._outbox.durable()
        return self.view(g)

    async def transfer(self, which: str, who: str) -> dict[str, Any]:
        """Hand ownership to another member (owner only); we stay in as an ordinary member."""
        g = self._book.owned(which)
        member = self._book.member_key(g, who)
        if member == self._key:
            raise CommandError("exists", "you own it already")
        self._changes.apply_change(g, checked_change(
            lambda: core.transfer(g.state, self._identity, member)))
        await self._outbox.durable()
        return self.view(g)

    async def leave(self, which: str) -> dict[str, Any]:
        """Leave a group: our signed leave goes to the members for the owner to enact."""
        g = self.find(which)
        if not self._book.active(g):
            raise CommandError("not_member", "you are no longer in this group")
        db = self._store()
        if g.state.owner == self._key:
            if len(g.state.members) > 1:
                raise CommandError("owner", "you own this group: hand it on first"
                                            " ('group transfer GROUP MEMBER'),"
                                            " or remove the others")
            leave = None
        else:
            head = self._conversations.log_of(g.conv).head(self._key)[0]
            leave = core.request_leave(g.state, self._identity, head)
        linked = self._book.linked_members(g)
        # The keys of the epochs we were in stay: what we held is ours to read (our own words
        # too). We stop here: nothing sent, forwarded or taken from now on (member_group and
        # _on_key ignore a left group), so no later epoch's key ever reaches us.
        g.left = True
        g.unread.clear()
        db.groups.set_left(g.conv)
        db.groups.add_change(g.conv, g.state.number + 1, now_ms(), "leave",
                             self._key, self._book.member_name(g, self._key))
        if leave is not None:
            g.leaves = {self._key: leave}
            db.groups.put_leave(g.conv, self._key, encode_record(leave))
            for link in linked.values():
                self._outbox.queue(link, leave)
        await self._outbox.durable()
        self._book.dial_members()
        self._book.close_unshared()
        return self.view(g)

    async def send(self, which: str, texts: list[str],
                   bodies: list[bytes] | None = None) -> list[dict[str, Any]]:
        """Each text a message, in order, all in one commit; a bad text sends none. `bodies`:
        message bodies made elsewhere instead (a file offer, node/files.py)."""
        g = self.find(which)
        if not self._book.active(g):
            raise CommandError("not_member", "you are no longer in this group")
        if bodies is None:
            bodies = [text_body(text) for text in texts]
        conv_log = self._conversations.log_of(g.conv)
        linked = self._book.linked_members(g)
        # Our own tree's root: if every member link was pruned, that tree is broken (its eager
        # path went with a member): push to all, duplicates prune it back.
        targets = g.gossip.push_targets(g.state, linked, None, self._key) or sorted(linked)
        sent = []
        for body in bodies:
            try:
                env = core.seal_group_envelope(g.state, g.keys, self._identity, conv_log, body,
                                               now_ms(), self._random)
            except MissingKey:
                raise CommandError("no_key", "the group's key has not arrived yet") from None
            self._store().conversations.insert_envelope(env, env.sent_at, own=True,
                                                        sent=bool(targets))
            for peer in targets:
                self._sender.push(linked[peer], env)
            sent.append((env, body))
        await self._outbox.durable()
        status = "sent" if targets else "queued"
        recipients = len(g.recipients(g.state.epoch, self._key))
        events = [{**self._views.message(env, own=True, status=status, body=body,
                                         group=g.state.title),
                   "delivered_to": [], "recipients": recipients}
                  for env, body in sent]
        for event in events:
            self._events.emit(event)
        if not recipients:  # said to the sender only, not part of the event others get
            events = [{**event, "note": NO_MEMBERS_YET} for event in events]
        return events

    async def accept(self, which: str, wait: bool = False) -> dict[str, Any]:
        """Join a group we were invited to (protocol 8.5, "Consent"); `wait`: answer once the
        inviter said who accepted before us (at most JOINS_WAIT seconds), so the counts hold."""
        pending = self._invitations.get(which)
        active = self._book.count_active()
        if active >= MAX_GROUPS:
            raise CommandError("group_limit", f"you are in {MAX_GROUPS} groups already:"
                                              " leave one first")
        self._invitations.drop(pending.conv, "accepted")
        g = self._changes.join(pending.inviter, pending.invite, pending.state,
                               pending.received_at)  # its place in the lists (trial 14a, B16)
        await self._outbox.durable()
        if wait:
            await self._changes.told_joins(g, pending.inviter, JOINS_WAIT)
        view = self.view(g)  # a contact of the same name: the hint writes #NAME (trial 4, B17)
        return view | self._namesake_note(str(view.get("title", "")))

    async def decline(self, which: str) -> dict[str, Any]:
        """Say no: the invitation goes, and the owner (if linked now) gets our signed leave,
        so it does not count us in (protocol 8.5)."""
        pending = self._invitations.get(which)
        view = {**self._invitations.view(pending), "role": "declined"}
        self._invitations.decline(pending)
        inviter = self._book.linked().get(pending.inviter)  # the owner or an admin
        if inviter is not None and pending.inviter != self._key:
            self._outbox.queue(inviter, self._changes.declining(pending.state, pending.invite))
        await self._outbox.durable()
        return view

    async def forget_group(self, which: str) -> dict[str, Any]:
        """Remove a group we left (or were removed from) and all its history, for good."""
        g = self.find(which)
        if self._book.active(g):
            raise CommandError("not_left", f"you are still in {g.state.title}: leave it first")
        view = {**self.view(g), "role": "forgotten"}
        self._store().groups.forget(g.conv)
        self._book.drop(g.conv)
        self._conversations.forget_log(g.conv)
        self._budgets.forget(g.conv)
        self._equivocations.forget(g.conv)
        await self._outbox.durable()
        self._events.emit({"type": "group_forgotten", **view})  # open chats drop it too
        return view

    def history(self, which: str, limit: int | None = None, *,
                changes: bool = False) -> list[dict[str, Any]]:
        """A group's messages and notices as `log` shows them; `changes`: its membership
        changes as lines too (joins, leaves, removals, admins), in order."""
        return group_history(self._views, self._store(), self.find(which), limit,
                             self._book.member_name, me=self._key if changes else None,
                             changes=changes)

    def listing(self) -> list[dict[str, Any]]:
        """Our groups, then the invitations waiting for a yes or no (role "invited")."""
        return [self.view(g) for g in self._book.all()] + \
            [self._invitations.view(p) for p in self._invitations.pending()]

    def members(self, which: str) -> list[dict[str, Any]]:
        """A group's members as `group members` shows them, by name."""
        g = self.find(which)
        linked = self._book.linked()
        return [{
            "fingerprint": fingerprint(key),
            "name": self._book.member_name(g, key),
            "owner": key == g.state.owner,
            "admin": key in g.state.admins,
            "you": key == self._key,
            # added, not seen to accept yet (still counted in the group's `members`)
            "invited": key != self._key and key not in g.joined,
            "online": key == self._key or key in linked,
            "contact": self._book.is_contact(key),
            "equivocated": key in self._equivocations.marked(g.conv),
        } for key in sorted(g.state.members, key=lambda k: self._book.member_name(g, k).casefold())]


# What a message to a group of one says. It is kept, but for us alone: a member invited later
# starts at the invitation's heads with the keys of its own epochs (protocol 8.5), so it never
# reads what came before it.
NO_MEMBERS_YET = ("no other members yet: kept, for you alone (whoever you invite sees only what is"
                  " sent after they join)")


def group_history(views: Views, db: Store, g: Group, limit: int | None,
                  name_of: NameOf | None = None, me: bytes | None = None,
                  changes: bool = False) -> list[dict[str, Any]]:
    """A group's messages as `log` shows them, opened with the keys we hold (for the node and
    for reading a home without it, offline.py)."""
    out = []
    for stored in db.conversations.history(g.conv, limit):
        env, body, readable = stored.envelope, None, stored.readable
        if readable:
            try:
                body = core.open_group_envelope(g.state, g.keys, env, g.stale_keys)
            except MissingKey:
                body = encode_text(NO_KEY_YET)
            except GroupError:
                readable = False
        message = views.message(
            env, own=stored.own, status=stored.status if stored.own else None,
            stored_hash=stored.hash, readable=readable, body=body, group=g.state.title)
        if stored.own:  # who is known to hold it, from their vectors (protocol 8.8)
            recipients = g.recipients(core.envelope_epoch(env), env.author)
            delivered = g.delivered_to(env.seq, recipients)
            message["delivered_to"] = [fingerprint(k) for k in delivered]
            message["recipients"] = len(recipients)
            if recipients and len(delivered) == len(recipients):  # as the delivery event says
                message["status"] = "delivered"
            message["sent_to"] = [fingerprint(k) for k in recipients]  # who it was for
        else:  # a member who is not a contact: named as the chat names it, unverified
            contact = db.contacts.state_of(env.author) == "contact"
            message["author_contact"] = contact
            if not contact:
                message["author_name"] = name_of(g, env.author) if name_of is not None else \
                    added_name(g, env.author) or message["author_name"]
        out.append(message)
    if changes:
        out += change_lines(db, g, limit, me, name_of)
        out.sort(key=lambda m: m["sent_at"])  # stable: messages keep their order
        if limit is not None:
            out = out[-limit:] if limit else []
    return out + notices(db, g, name_of) if name_of is not None else out
