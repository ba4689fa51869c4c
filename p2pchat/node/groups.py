"""Groups: the node's part for group chat, between the pure core (core/groups.py), the store, the
links and the one sync driver (`Conversations`). Built in three layers, one job a file:
node/group_state.py (the groups, their links, lookups), node/group_records.py (what members
send), and this file, the commands.

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

from typing import Any

from p2pchat.core import groups as core
from p2pchat.core.groups import (
    GroupError,
    GroupGossip,
    MissingKey,
)
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import (
    encode_record,
    encode_text,
)
from p2pchat.core.text import BadName, valid_name
from p2pchat.node.config import CommandError
from p2pchat.node.conversations import now_ms, text_body
from p2pchat.node.equivocations import NameOf, notices
from p2pchat.node.group_records import GroupRecords
from p2pchat.node.group_state import MAX_GROUPS, NO_KEY_YET, Group
from p2pchat.node.views import Views
from p2pchat.storage.store import Store


class Groups(GroupRecords):
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
        db.groups.create(conv, title, 0, {})
        db.groups.add_op(conv, 1, encode_record(change.op))
        db.groups.put_key(conv, 1, change.key)
        g = self._groups[conv] = Group(change.state, {1: change.key}, GroupGossip(conv))
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
        self._store().groups.set_invite(g.conv, member, encode_record(g.invites[member]))
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
        db.groups.set_left(g.conv)
        if leave is not None:
            g.leaves = {self._key: leave}
            db.groups.put_leave(g.conv, self._key, encode_record(leave))
            for link in linked.values():
                self._outbox.queue(link, leave)
        await self._outbox.durable()
        self._dial_members()
        self._close_unshared()
        return self.view(g)

    async def send(self, which: str, texts: list[str],
                   bodies: list[bytes] | None = None) -> list[dict[str, Any]]:
        """Each text a message, in order, all in one commit; a bad text sends none. `bodies`:
        message bodies made elsewhere instead (a file offer, node/files.py)."""
        g = self.find(which)
        if not self._active(g):
            raise CommandError("not_member", "you are no longer in this group")
        if bodies is None:
            bodies = [text_body(text) for text in texts]
        conv_log = self._conversations.log_of(g.conv)
        linked = self._linked_members(g)
        targets = g.gossip.push_targets(g.state, linked, None, self._key)
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
        events = [self._views.message(env, own=True, status=status, body=body,
                                      group=g.state.title) for env, body in sent]
        for event in events:
            self._events.emit(event)
        return events

    async def accept(self, which: str) -> dict[str, Any]:
        """Join a group we were invited to (protocol 8.5, "Consent")."""
        pending = self._invitations.get(which)
        active = sum(1 for g in self._groups.values() if self._active(g))
        if active >= MAX_GROUPS:
            raise CommandError("group_limit", f"you are in {MAX_GROUPS} groups already:"
                                              " leave one first")
        self._invitations.drop(pending.conv, "accepted")
        g = self._join(pending.inviter, pending.invite, pending.state)
        await self._outbox.durable()
        return self.view(g)

    async def decline(self, which: str) -> dict[str, Any]:
        """Say no: the invitation goes, and the owner (if linked now) gets our signed leave,
        so it does not count us in (protocol 8.5)."""
        pending = self._invitations.get(which)
        view = {**self._invitations.view(pending), "role": "declined"}
        self._invitations.decline(pending)
        owner = self._linked().get(pending.state.owner)
        if owner is not None and pending.state.owner != self._key:
            self._outbox.queue(owner, self._declining(pending.state, pending.invite))
        await self._outbox.durable()
        return view

    async def forget_group(self, which: str) -> dict[str, Any]:
        """Remove a group we left (or were removed from) and all its history, for good."""
        g = self.find(which)
        if self._active(g):
            raise CommandError("not_left", f"you are still in {g.state.title}: leave it first")
        view = {**self.view(g), "role": "forgotten"}
        self._store().groups.forget(g.conv)
        del self._groups[g.conv]
        self._conversations.forget_log(g.conv)
        self._budgets.forget(g.conv)
        self._equivocations.forget(g.conv)
        await self._outbox.durable()
        return view

    def history(self, which: str, limit: int | None = None) -> list[dict[str, Any]]:
        return group_history(self._views, self._store(), self.find(which), limit,
                             self._member_name)

    def listing(self) -> list[dict[str, Any]]:
        """Our groups, then the invitations waiting for a yes or no (role "invited")."""
        return [self.view(g) for g in self._groups.values()] + \
            [self._invitations.view(p) for p in self._invitations.pending()]

    def members(self, which: str) -> list[dict[str, Any]]:
        g = self.find(which)
        linked = self._linked()
        return [{
            "fingerprint": fingerprint(key),
            "name": self._member_name(g, key),
            "owner": key == g.state.owner,
            "you": key == self._key,
            "online": key == self._key or key in linked,
            "equivocated": key in self._equivocations.marked(g.conv),
        } for key in sorted(g.state.members, key=lambda k: self._member_name(g, k).casefold())]


def group_history(views: Views, db: Store, g: Group, limit: int | None,
                  name_of: NameOf | None = None) -> list[dict[str, Any]]:
    """A group's messages as `log` shows them, opened with the keys we hold (for the node and
    for reading a home without it, offline.py)."""
    out = []
    for stored in db.conversations.history(g.conv, limit):
        env, body, readable = stored.envelope, None, stored.readable
        if readable:
            try:
                body = core.open_group_envelope(g.state, g.keys, env)
            except MissingKey:
                body = encode_text(NO_KEY_YET)
            except GroupError:
                readable = False
        out.append(views.message(
            env, own=stored.own, status=stored.status if stored.own else None,
            stored_hash=stored.hash, readable=readable, body=body, group=g.state.title))
    return out + notices(db, g, name_of) if name_of is not None else out
