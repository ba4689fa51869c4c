"""Group chat in the node: `GroupLinks`, what a link to a fellow member is told and when.

When a link comes up, on every anti-entropy tick and when we join a group, each shared group's
vector, digest, head op, pending leaves and (if we lack it) a request for the current epoch's key
go out; the owner hands a member its invitation on link start. A link that closes takes its
gossip marks and held early envelopes with it. docs/protocol.md sections 8.8 and 8.9.
"""

from __future__ import annotations

from p2pchat.core.gap_buffer import held_size
from p2pchat.core.messages import (
    GroupDigest,
    GroupHolders,
    GroupInvite,
    GroupJoins,
    GroupKey,
    GroupKeyRequest,
    SyncVector,
)
from p2pchat.net.link import Link
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.equivocations import Equivocations
from p2pchat.node.group_invitations import Invitations
from p2pchat.node.group_state import ALL_JOINS_REVISION, Group, GroupBook, fits, head_record
from p2pchat.node.outbox import Outbox


class GroupLinks:
    """Greets fellow members on each link, every interval, and forgets what a closed link held."""

    def __init__(
        self,
        own_key: bytes,
        interval: float,
        *,
        book: GroupBook,
        outbox: Outbox,
        conversations: Conversations,
        equivocations: Equivocations,
        invitations: Invitations,
    ) -> None:
        self._key = own_key
        self._interval = interval
        self._book = book
        self._outbox = outbox
        self._conversations = conversations
        self._equivocations = equivocations
        self._invitations = invitations
        self._last_tick = 0.0

    def start_sync(self, link: Link, key: bytes) -> None:
        """A link is up: per shared group, what we hold and where the chain stands."""
        for g in self._book.all():
            if g.left:
                own = g.leaves.get(self._key)
                if own is not None and g.state.is_member(key):
                    self._outbox.queue(link, own)  # until the owner enacts it
            elif self._book.active(g) and g.state.is_member(key):
                self.greet(g, link, key)

    def hand_invitation(self, g: Group, link: Link, invite: GroupInvite) -> None:
        """The invitation, then the keys of every epoch since the member's add (the later ops
        reach it by the head-op exchange once it holds the group)."""
        if not fits(link, invite):
            return  # it holds an admin op a revision-2 peer cannot decode: it waits
        self._outbox.queue(link, invite)
        for epoch in range(invite.ops[-1].epoch, g.state.epoch + 1):
            key = g.keys.get(epoch)
            if key is not None:
                self._outbox.queue(link, GroupKey(group=g.conv, epoch=epoch, key=key))

    def greet(self, g: Group, link: Link, key: bytes, *, invite: bool = True) -> None:
        """What a fellow member is told about `g` (protocol 8.8): vector, digest, head op,
        pending leaves, and a request for the current key if we lack it."""
        if invite and key in g.invites:  # we added it (owner or admin)
            self.hand_invitation(g, link, g.invites[key])  # on link start only: it may be large
        conv_log = self._conversations.log_of(g.conv)
        self._outbox.queue(link, SyncVector(conv=g.conv, vector=conv_log.vector()))
        if link.session.peer_revision >= GroupDigest.REVISION:  # older peers close on it (12)
            self._outbox.queue(link, self._equivocations.digest(g.conv))
            holders = g.holders_for(key, self._key)  # for a member it has no link to (8.16)
            if holders is not None and link.session.peer_revision >= GroupHolders.REVISION:
                self._outbox.queue(link, holders)
            if invite and link.session.peer_revision >= ALL_JOINS_REVISION:
                for told in g.all_joins_for(key, self._key):  # on link start (8.17, rev. 6)
                    self._outbox.queue(link, told)
            else:
                joins = g.joins_for(key, self._key)  # who said yes beyond its links (8.17)
                if joins is not None and link.session.peer_revision >= GroupJoins.REVISION:
                    self._outbox.queue(link, joins)
        head = head_record(g)  # our head op, or the checkpoint we just caught up from
        if head is not None and fits(link, head):
            self._outbox.queue(link, head)
        for leave in g.leaves.values():
            self._outbox.queue(link, leave)
        for lost in g.lost.values():  # a lost fork branch's keys (8.13)
            if fits(link, lost):
                self._outbox.queue(link, lost)
        if g.state.epoch not in g.keys:
            self._outbox.queue(link, GroupKeyRequest(group=g.conv, epoch=g.state.epoch))

    def tell_holders(self, g: Group, member: bytes) -> None:
        """What we heard others hold of `member`'s log (8.16), now: queued before its removal
        op, it is the last it hears, taken while it is still a member (trial 10, B5: its "✓
        1/2" stayed for ever though both others held the message)."""
        link = self._book.linked().get(member)
        holders = g.holders_for(member, self._key)
        if link is not None and holders is not None \
                and link.session.peer_revision >= GroupHolders.REVISION:
            self._outbox.queue(link, holders)

    def greet_all(self, g: Group) -> None:
        """Greet every linked member of `g` (we just joined it)."""
        for peer, other in self._book.linked_members(g).items():
            self.greet(g, other, peer)

    def forget(self, link: Link) -> None:
        """A link closed: its gossip marks and the requests it was to answer die with it."""
        for g in self._book.all():  # envelopes only it brought, waiting for their op
            kept = [entry for entry in g.early if entry[0] is not link]
            for entry in g.early:
                if entry[0] is link:
                    self._conversations.gap_budget.give(held_size(entry[2]))
            g.early = kept
        key = link.remote_key
        if key is None:
            return
        for g in self._book.all():
            g.gossip.forget(key)
            if g.state.is_member(key):
                self._conversations.log_of(g.conv).forget_outstanding()

    def tick(self, now: float) -> None:
        """Anti-entropy: every interval, vectors, head ops and pending leaves on every link."""
        if now - self._last_tick < self._interval:
            return
        self._last_tick = now
        self._invitations.expire(now_ms())
        for g in self._book.all():
            if not self._book.active(g):
                continue
            self._conversations.log_of(g.conv).forget_outstanding()
            g.key_asked.clear()
            for key, link in self._book.linked_members(g).items():
                self.greet(g, link, key, invite=False)
