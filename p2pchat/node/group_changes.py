"""Group chat in the node: `GroupChanges`, changes to a group's op chain (docs/protocol.md 8.3,
8.5, 8.13): ops from members applied in order (and caught up), forks resolved by the rule of
8.13, our own changes going out, and joining a group from an accepted invitation. Every write
happens in the turn that made it; everything sent goes through the `Outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core import group_forks as forks
from p2pchat.core import groups as core
from p2pchat.core.gap_buffer import held_size
from p2pchat.core.group_errors import ForkBelow
from p2pchat.core.groups import (
    GroupError,
    GroupGossip,
    GroupState,
    OpGap,
    OpReplay,
)
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.member_budget import MemberBudgets
from p2pchat.core.messages import (
    Envelope,
    GroupInvite,
    GroupJoins,
    GroupLeave,
    GroupLostKey,
    GroupOp,
    GroupOpKind,
    encode_record,
)
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.group_catchup import GroupCatchUp
from p2pchat.node.group_links import GroupLinks
from p2pchat.node.group_state import (
    ALL_JOINS_REVISION,
    CHANGES,
    MAX_LOST,
    Group,
    GroupBook,
    after_flush,
    fits,
    head_record,
)
from p2pchat.node.outbox import Outbox
from p2pchat.node.views import Views
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")


class GroupChanges:
    """Applies ops (members', ours, a fork's winner) and joins groups; calls back into the
    records part for what waits on an op: envelopes that came early, keys to ask for, lost keys."""

    def __init__(
        self,
        identity: Identity,
        *,
        book: GroupBook,
        group_links: GroupLinks,
        catch_up: GroupCatchUp,
        store: Callable[[], Store],
        outbox: Outbox,
        conversations: Conversations,
        events: EventBus,
        views: Views,
        budgets: MemberBudgets,
        random: Callable[[int], bytes],
        retake: Callable[[Link, bytes, Envelope], None],
        ask_key: Callable[[Group, int], None],
        keep_lost: Callable[[Group, GroupLostKey, bytes], None],
    ) -> None:
        self._identity = identity
        self._key = identity.public_key
        self._book = book
        self._group_links = group_links
        self._catch_up = catch_up
        self._store = store
        self._outbox = outbox
        self._conversations = conversations
        self._events = events
        self._views = views
        self._budgets = budgets
        self._random = random
        self._retake = retake  # an envelope that overtook its epoch's op, handled again
        self._ask_key = ask_key
        self._keep_lost = keep_lost
        self._moved = asyncio.Event()  # a join marked, an op heard: told_joins looks again
        # (group, inviter) -> the highest op number heard from it, while an accept waits for it
        self._heads: dict[tuple[bytes, bytes], int] = {}

    def on_op(self, link: Link, key: bytes, op: GroupOp) -> None:
        """A member's op: applied in order, caught up on a gap, or a fork resolved (8.13)."""
        g = self._book.get(op.group)
        if g is None or g.left:
            return
        if (op.group, key) in self._heads:  # the inviter's head, after our accept (8.17)
            self._heads[(op.group, key)] = max(self._heads[(op.group, key)], op.number)
        self._moved.set()
        if op.number < g.state.base:  # below our checkpoint: it was away too long (8.14)
            if self._book.active(g):  # a former member too, whose span we no longer hold
                self._catch_up.serve(g, link, key, op.number)
            return
        if key not in g.state.spans:
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
                self.send_op(link, later)  # the peer is behind: the ops after its head
            g.gossip.saw_op(key, op.number)
            return
        except OpGap:
            self.send_head(g, link)
            return
        except GroupError as exc:
            log.warning("refused a group op from %s: %s", self._views.who(key), exc)
            return
        g.gossip.saw_op(key, op.number)
        self._applied(g, before, op, came_from=key)

    def send_op(self, link: Link, op: GroupOp) -> None:
        """`op` on `link`, if its peer can decode it (revision 3 kinds, protocol 12)."""
        if fits(link, op):
            self._outbox.queue(link, op)

    def send_head(self, g: Group, link: Link) -> None:
        """Where our chain stands (our head op, or the checkpoint we hold no op after), so the
        peer sends what follows (protocol 8.8, 8.14)."""
        head = head_record(g)
        if head is not None and fits(link, head):
            self._outbox.queue(link, head)

    def _on_fork(self, g: Group, link: Link, key: bytes, before: GroupState,
                 op: GroupOp) -> None:
        """`op` differs from ours at its number (protocol 8.13): the smaller op hash wins where
        two ops chain to the same op. If its branch parted earlier, we send our chain from op 2
        so the peer finds the first op where we differ; if ours wins, our branch from the fork;
        if theirs wins, we take it and redo our own ops that lost."""
        try:
            won = forks.fork_winner(before, op)
        except ForkBelow:
            g.gossip.forget(key)
            for ours in before.ops:
                self.send_op(link, ours)
            return
        except GroupError as exc:
            log.warning("refused a group op from %s: %s", self._views.who(key), exc)
            return
        if won is None:
            for ours in before.ops_after(op.number - 1) or ():
                self.send_op(link, ours)
            return
        log.info("group %s: a fork at op %d, taking the other branch", g.state.title, op.number)
        lost = before.ops_after(op.number - 1) or ()
        base = before.state_at(op.number - 1)
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
        g.vouches = {at: v for at, v in g.vouches.items() if at[0] < op.number}  # lost branch's
        g.joined &= {k for k, number in won.joined_at.items() if number < op.number}
        g.gossip.saw_op(key, op.number)
        self._applied(g, base, op, came_from=key)
        for record, held in lost_keys[:MAX_LOST - len(g.lost)]:
            self._keep_lost(g, record, held)
        for old in lost:
            change = forks.redo(g.state, self._identity, old, self._random)
            if change is None:
                continue
            self.apply_change(g, change)
            member = change.op.subject
            if change.op.kind == GroupOpKind.ADD and member in g.invites:
                # The invitation we made on the lost branch, made again on this chain.
                conv_log = self._conversations.log_of(g.conv)
                heads = {author: conv_log.head(author) for author in conv_log.vector()}
                g.invites[member] = core.invitation(g.state, heads, conv_log.lamport,
                                                    self._identity)
                db.groups.set_invite(g.conv, member, encode_record(g.invites[member]))

    def _applied(self, g: Group, before: GroupState, op: GroupOp,
                 came_from: bytes | None) -> None:
        """An op is in the chain: store it, cut a departed member's log, pass it on."""
        db = self._store()
        db.groups.add_op(g.conv, op.number, encode_record(op))
        if len(g.state.ops) > checkpoints.COMPACT_AT:  # no lifetime cap: a checkpoint (8.14)
            vouch = self._catch_up.base_for(g)  # a manager's, if we keep one that fits
            if vouch is not None:
                g.state = checkpoints.compact(g.state, g.state.number - vouch.number)
                base = vouch
            else:
                g.state = checkpoints.compact(g.state)
                assert g.state.root is not None
                base = checkpoints.checkpoint(g.state.root, self._identity)
            db.groups.set_base(g.conv, encode_record(base))
            db.groups.drop_ops_to(g.conv, g.state.base)
        by = self._inviter(before, op, came_from)
        # A leave before the member was seen holding the group says no to its invitation.
        declined = op.kind == GroupOpKind.LEAVE and op.subject not in g.joined
        if op.kind in (GroupOpKind.ADD, GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            g.joined.discard(op.subject)  # added (again): invited until seen holding it
            g.seen.discard(op.subject)
        db.groups.add_change(g.conv, op.number, now_ms(), CHANGES[op.kind], op.subject,
                             self._book.member_name(g, op.subject), by)
        if op.kind in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
            g.gossip.regrow()
            self.cut(g, op.subject, op.cut)
            g.leaves.pop(op.subject, None)
            db.groups.drop_leave(g.conv, op.subject)
            if g.invites.pop(op.subject, None) is not None:
                db.groups.set_invite(g.conv, op.subject, None)
        linked = self._book.linked()
        for peer in core.op_targets(before, g.state, linked, came_from):
            self.send_op(linked[peer], op)
        self._catch_up.after_op(g)  # an owner's or admin's signed state, every 32 ops (8.14)
        if g.state.epoch not in g.keys and self._book.active(g):
            self._ask_key(g, g.state.epoch)  # of whoever told us: it may hold the key
        self._outbox.schedule_flush()
        self._events.emit(self._book.change_event(g, op, op.subject, by=by, declined=declined))
        early, g.early = g.early, []
        for link, key, env in early:
            self._conversations.gap_budget.give(held_size(env))
            if not link.closed:
                self._retake(link, key, env)
        self._book.wake_dialer()
        after_flush(self._book.close_unshared)

    def _inviter(self, before: GroupState, op: GroupOp, came_from: bytes | None) -> bytes | None:
        """Who signed an add or a remove (us, the owner or an admin), for its line and its
        event's `by` ("bob was removed from climbing by alice", trial 11, B13); None for other
        kinds."""
        if op.kind not in (GroupOpKind.ADD, GroupOpKind.REMOVE):
            return None
        if came_from is None:
            return self._key
        try:
            return core.signer_of(before, op)
        except GroupError:
            return None

    def mark_joined(self, g: Group, member: bytes, before: int | None = None, *,
                    told: bool = False) -> None:
        """`member` is seen holding the group (its sync, an envelope it wrote in its current
        membership), or a member `told` us so: it accepted its invitation. A line and an event,
        once per membership; `before`: the time of the first message it wrote, which its join
        line goes ahead of."""
        if not g.state.is_member(member):
            return
        number = g.state.joined_at[member]
        earlier = number < g.state.joined_at.get(self._key, number)  # added before us
        if member in g.joined:
            if member in g.seen or not earlier:
                return
            g.seen.add(member)  # taken as joined when we accepted; now seen: ours to tell
            if not told:
                self._tell_joined(g, member)
            return
        g.joined.add(member)
        self._moved.set()
        if earlier:
            g.seen.add(member)
        at = now_ms() if before is None else min(now_ms(), max(before - 1, 0))
        self._store().groups.add_join(g.conv, number, at)
        self._outbox.schedule_lazy_flush()  # lost in a crash: the next sync says it again
        if not (told and earlier):  # a join before ours that we are told of is no news
            self._tell_joined(g, member)
        if number > g.state.joined_at.get(self._key, number):  # we saw it invited: news
            self._events.emit({**self._book.change_event(g, None, member),
                               "sent_at": iso_from_ms(at)})
        else:  # added before us: no news, but one invited fewer (trial 13c, B4: the chat's
            # header said "2 members, 1 invited" for minutes while its Members page said 3)
            self._events.emit({"type": "group_updated", **self._book.view(g)})

    async def told_joins(self, g: Group, inviter: bytes, wait: float) -> None:
        """Wait, at most `wait` seconds, until the inviter told us where the chain stands and
        who accepted: one of revision 6 sends its head op, then every join it saw, once it sees
        ours (8.17), a round trip after our accept. Until then our chain is the invitation's:
        members added after us are missing (trial 13b, B8: "2 members" of 3), those added
        before counted invited (trial 13c, B4: "2 members, 1 invited"). What `group accept`
        answers counts them. Bounded: an earlier invitee may never say yes, an older node
        sends no head."""
        link = self._book.linked().get(inviter)
        if link is None or link.session.peer_revision < ALL_JOINS_REVISION:
            return  # join() took those added before us as joined
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        ours = g.state.joined_at.get(self._key, 0)
        at = (g.conv, inviter)
        self._heads[at] = 0
        try:
            while not self._heads[at] or g.state.number < self._heads[at] \
                    or any(g.state.joined_at.get(k, ours) < ours for k in g.invited()):
                left = deadline - loop.time()
                if left <= 0:
                    return
                self._moved.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._moved.wait(), left)
        finally:
            del self._heads[at]

    def _tell_joined(self, g: Group, member: bytes) -> None:
        news = GroupJoins(group=g.conv, members=(member,))
        for peer, link in self._book.linked_members(g).items():  # at once, not at the tick
            if peer != member and link.session.peer_revision >= GroupJoins.REVISION:
                self._outbox.queue(link, news)  # each member passes a join on once (8.17)
            elif peer == member and link.session.peer_revision >= ALL_JOINS_REVISION:
                # Our head first: the ops that added the others are then in its chain when
                # their joins come, and it knows where the chain stands (8.17, told_joins)
                self.send_head(g, link)
                for told in g.all_joins_for(member, self._key):  # who it cannot know (rev. 6)
                    self._outbox.queue(link, told)

    def wrote(self, g: Group, env: Envelope) -> None:
        """An envelope its author wrote in its current membership (past the cut of an earlier
        one): the author holds the group, it accepted; its join line goes just before it. (A
        vector naming the author says so too, but then its envelopes are on their way.)"""
        author = env.author
        if author in g.joined or not g.state.is_member(author):
            return
        cuts = [span.cut or 0 for span in g.state.spans.get(author, ())[:-1]]
        if env.seq > max(cuts, default=0):
            self.mark_joined(g, author, before=env.sent_at)

    def cut(self, g: Group, author: bytes, cut: int) -> None:
        """The member's log ends at `cut`: drop what we took beyond it (protocol 8.6, Cuts)."""
        if self._conversations.log_of(g.conv).head(author)[0] <= cut:
            return
        self._store().groups.truncate_log(g.conv, author, cut)
        self._budgets.forget(g.conv)
        self._conversations.forget_log(g.conv)
        g.unread = {(a, s) for a, s in g.unread if a != author or s <= cut}

    def declining(self, state: GroupState, invite: GroupInvite) -> GroupLeave:
        """The signed leave that says no to an invitation: its cut is our log's head (as the owner
        holds it, or as we do after an earlier membership), so nothing we wrote is cut."""
        heads = {author: seq for author, seq, _ in invite.heads}
        last = heads.get(self._key, 0)
        if self._book.get(state.group) is not None:
            last = max(last, self._conversations.log_of(state.group).head(self._key)[0])
        return core.request_leave(state, self._identity, last)

    def join(self, inviter: bytes, invite: GroupInvite, state: GroupState,
             since: int | None = None) -> Group:
        """The user accepted: hold the group, from the invitation's chain and heads; `since`
        (unix ms): when the invitation came, the group's place in the screens' lists."""
        db = self._store()
        g = self._book.get(state.group)
        if g is not None:  # left or removed before: back in, with the ops we lack
            g.left = False
            g.leaves.clear()
            db.groups.rejoin(g.conv)
            for op in [o for o in invite.ops if o.number > g.state.number]:
                before = g.state
                try:
                    g.state = core.apply_op(before, op)
                except GroupError as exc:
                    log.warning("an accepted invitation does not extend the chain: %s", exc)
                    break
                self._applied(g, before, op, came_from=inviter)
        else:
            db.groups.create(state.group, state.title, invite.lamport, core.start_heads(invite),
                             since)
            for op in invite.ops:
                db.groups.add_op(state.group, op.number, encode_record(op))
            if invite.checkpoint is not None:  # the chain starts there (8.14)
                db.groups.set_base(state.group, encode_record(invite.checkpoint))
            last = invite.ops[-1]  # the op that added us: the conversation's first line
            db.groups.add_change(state.group, last.number, now_ms(), CHANGES[last.kind],
                                 last.subject, last.name, inviter)
            g = self._book.add(Group(state, {}, GroupGossip(state.group)))
            cp = invite.checkpoint
            if cp is not None and state.root is not None and state.root.is_manager(cp.signer):
                g.vouches[(cp.number, cp.signer)] = cp  # a manager's: ours to hand on (8.14)
            self._conversations.forget_log(state.group)
        # We hold it now: joined. Whether those added before us accepted only their inviter
        # saw: an inviter of revision 6 tells us every join it knows once it sees ours (8.17),
        # so until then they are invited (else a pending invitee's decline read "left", trial
        # 12, B6). From an older one, or one not linked now, we take them as joined, as they
        # were shown before we came; those are not ours to pass on (GroupJoins).
        at = now_ms()
        link = self._book.linked().get(inviter)
        if link is not None and link.session.peer_revision >= ALL_JOINS_REVISION:
            g.joined = {k for k in (self._key, inviter) if g.state.is_member(k)}
            g.seen = g.joined - {self._key}  # it sent us the invitation: it holds the group
        else:
            g.joined = set(g.state.members)
            g.seen = set()
        for number in {g.state.joined_at[k] for k in g.joined}:
            db.groups.add_join(g.conv, number, at)
        self._events.emit({"type": "group_joined", **self._book.view(g),
                           "by": fingerprint(inviter),
                           "by_name": self._views.display_name(inviter),
                           "number": g.state.joined_at[self._key]})  # lines change-N, join-N
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
