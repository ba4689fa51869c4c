"""Group chat in the node: `GroupCatchUp`, catching up across a checkpoint (docs/protocol.md 8.14).

Members keep only their last ops, so one that was away longer than its peers keep ops cannot
catch up op by op. Owners and admins therefore sign the state at every VOUCH_EVERY-th op (a
*vouch*, a `GroupCheckpoint`); every member checks one against its own chain, keeps the highest
few, passes them on and starts its own chain at one when it drops old ops (so it still holds
one after a restart). A member that meets a peer whose head is below its checkpoint
hands it those vouches and the ops after them; the peer takes one signed by an owner or admin it
knows (as of its own last op) and goes on from there, or learns it was removed meanwhile. What a
peer can make us do is bounded: a forged checkpoint costs its link every later one (one warning),
one we cannot verify yet costs one signature-free check (one warning per group if we are still
behind an anti-entropy interval later, until the chain moves), and we keep at most MAX_VOUCHES
per group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core.group_errors import GroupError, NotOurChain, Unverifiable
from p2pchat.core.groups import GroupState
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import GroupCheckpoint, encode_record
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.conversations import now_ms
from p2pchat.node.group_state import Group, GroupBook, after_flush, fits
from p2pchat.node.outbox import Outbox
from p2pchat.node.views import Views
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")


class GroupCatchUp:
    """Vouches: signing ours, checking, keeping and passing on others', handing them to a member
    who is behind, and taking one when we are."""

    def __init__(
        self,
        identity: Identity,
        interval: float,
        *,
        book: GroupBook,
        store: Callable[[], Store],
        outbox: Outbox,
        events: EventBus,
        views: Views,
        cut: Callable[[Group, bytes, int], None],
        ask_key: Callable[[Group, int], None],
    ) -> None:
        self._identity = identity
        self._key = identity.public_key
        self._book = book
        self._store = store
        self._outbox = outbox
        self._events = events
        self._views = views
        self._cut = cut  # a departed member's log ends at its cut (protocol 8.6)
        self._ask_key = ask_key
        # Peers that sent a forged checkpoint: their later ones are ignored until the link
        # closes (each costs a signature check and a replay of our ops).
        self._refused: set[bytes] = set()
        # Groups we could not catch up in, since when (loop time): told once, an interval on
        # (a later checkpoint of the same batch, or the ops after it, often settle it first).
        self._interval = interval
        self._stuck_since: dict[bytes, float] = {}
        self._told: set[bytes] = set()

    def after_op(self, g: Group) -> None:
        """An op is in `g`'s chain: sign the state if it is our turn (8.14) and pass it on."""
        self._unstuck(g)
        if self._book.active(g) and checkpoints.vouch_due(g.state, self._key):
            self._keep(g, checkpoints.vouch(g.state, self._identity), came_from=None)

    def on_checkpoint(self, link: Link, key: bytes, record: GroupCheckpoint) -> None:
        """A checkpoint from `key`: ahead of our chain (we were away: take it if we may),
        below our checkpoint (the peer was: hand it ours), or at an op we hold (check it
        against our chain, keep it and pass it on, and send the peer the ops after it)."""
        g = self._book.get(record.group)
        if key in self._refused or g is None or not self._book.active(g):
            return
        if record.number > g.state.number:
            self._take(g, key, record)
            return
        if record.number < g.state.base:
            self.serve(g, link, key, record.number)
            return
        if (record.number, record.signer) not in g.vouches and self._room(g, record.number):
            try:
                checkpoints.check_vouch(g.state, record)
            except NotOurChain:
                return  # a fork's other branch, or older than we hold: the ops sort it out
            except GroupError as exc:
                self._refuse(g, key, exc)
                return
            self._keep(g, record, came_from=key)
        for op in g.gossip.ops_behind(g.state, key, record.number):  # as for its head op
            if fits(link, op):
                self._outbox.queue(link, op)

    def serve(self, g: Group, link: Link, key: bytes, number: int) -> None:
        """`key` is at op `number`, below our checkpoint: ops cannot bring it here. Hand it the
        vouches we keep that are ahead of it, oldest first, then (to a member) the ops after the
        oldest of them we still hold ops after; once per link, unless it shows us a head above
        what we sent."""
        ahead = sorted((v for v in g.vouches.values() if v.number > number),
                       key=lambda v: v.number)
        if not ahead or not g.gossip.serving(key, number, g.state.number):
            return
        for record in ahead:
            if fits(link, record):
                self._outbox.queue(link, record)
        start = min((v.number for v in ahead if v.number >= g.state.base), default=None)
        if not g.state.is_member(key):
            start = None  # a former member learns from a checkpoint that it is out: no more
        for op in (g.state.ops_after(start) or ()) if start is not None else ():
            if fits(link, op):
                self._outbox.queue(link, op)
        log.info("group %s: %s is at op %d, below our checkpoint: sent %d signed checkpoint(s)",
                 g.state.title, self._views.who(key), number, len(ahead))

    def forget(self, key: bytes) -> None:
        """The peer's link closed: a new one starts trusted again."""
        self._refused.discard(key)

    def tick(self, now: float) -> None:
        """Say once (a warning) that we cannot catch up in a group, if we still cannot an
        interval after we were first offered a checkpoint we cannot verify."""
        for conv, since in list(self._stuck_since.items()):
            g = self._book.get(conv)
            if g is None or g.stuck is None:
                self._unstuck_conv(conv)
            elif now - since >= self._interval and conv not in self._told:
                self._told.add(conv)
                log.warning("group %s: cannot catch up: we were away longer than the members "
                            "we meet keep changes, and %s; waiting (or ask a manager to remove "
                            "and invite us again)", g.state.title, g.stuck)

    # ------------------------------------------------------------ inside

    def base_for(self, g: Group) -> GroupCheckpoint | None:
        """The vouch to start our chain at when we drop old ops (protocol 8.14): the highest we
        keep that leaves us KEEP_OPS ops or more and is still of our chain (a fork may have
        replaced it). Stored as our checkpoint, it is ours to hand on after a restart too."""
        last = g.state.number - checkpoints.KEEP_OPS
        fit = [v for (n, _), v in g.vouches.items() if g.state.base < n <= last
               and g.state.hash_at(n) == v.head]
        return max(fit, key=lambda v: v.number, default=None)

    @staticmethod
    def _room(g: Group, number: int) -> bool:
        """Whether a vouch at `number` would be kept: one below all we keep is not even
        checked (a copy of an old one costs nothing)."""
        return len(g.vouches) < checkpoints.MAX_VOUCHES or number > min(n for n, _ in g.vouches)

    def _keep(self, g: Group, record: GroupCheckpoint, came_from: bytes | None,
              forward: bool = True) -> None:
        """A checked vouch: kept with the MAX_VOUCHES highest (the lowest go), passed on to
        every linked member once (a flood, as ops are)."""
        at = (record.number, record.signer)
        if at in g.vouches or not self._room(g, record.number):
            return
        g.vouches[at] = record
        while len(g.vouches) > checkpoints.MAX_VOUCHES:
            del g.vouches[min(g.vouches)]
        for peer, link in self._book.linked_members(g).items() if forward else ():
            if peer != came_from and fits(link, record):
                self._outbox.queue(link, record)
        self._outbox.schedule_flush()

    def _take(self, g: Group, key: bytes, record: GroupCheckpoint) -> None:
        """A checkpoint ahead of our chain: jump to it if its signer is a manager we know."""
        try:
            state = checkpoints.take(g.state, record)
        except Unverifiable as exc:
            log.info("group %s: %s offered %s", g.state.title, self._views.who(key), exc)
            g.stuck = (f"offered a checkpoint at op {record.number} we cannot verify: waiting "
                       "for one signed by the owner or an admin we know")
            self._stuck_since.setdefault(g.conv, asyncio.get_running_loop().time())
            return
        except NotOurChain:
            return
        except GroupError as exc:
            self._refuse(g, key, exc)
            return
        self._jump(g, record, state, key)

    def _jump(self, g: Group, record: GroupCheckpoint, state: GroupState, came_from: bytes) -> None:
        """Our chain starts at `record` now: every op we held is below it and goes."""
        before = g.state
        db = self._store()
        db.groups.set_base(g.conv, encode_record(record))
        db.groups.drop_ops_to(g.conv, record.number)
        g.state = state
        self._unstuck(g)
        g.gossip.saw_op(came_from, record.number)
        log.info("group %s: caught up from op %d to op %d by a checkpoint signed by %s",
                 state.title, before.number, record.number, self._views.who(record.signer))
        for author, spans in state.spans.items():  # whoever left meanwhile: its log's end
            last = spans[-1]
            if last.cut is not None:
                self._cut(g, author, last.cut)
        for leaver in [k for k in g.leaves if k not in state.members]:
            del g.leaves[leaver]
            db.groups.drop_leave(g.conv, leaver)
        for invitee in [k for k in g.invites if k not in state.members]:
            del g.invites[invitee]
            db.groups.set_invite(g.conv, invitee, None)
        self._keep(g, record, came_from=came_from, forward=state.is_member(self._key))
        if not state.is_member(self._key):  # removed while we were away: we learn it now
            name = self._book.member_name(g, self._key)
            db.groups.add_change(g.conv, record.number, now_ms(), "remove", self._key, name)
            self._events.emit({"type": "group_changed", **self._book.view(g),
                               "change": "remove", "member": fingerprint(self._key),
                               "member_name": name, "you": True})
        elif state.epoch not in g.keys:
            self._ask_key(g, state.epoch)
        self._outbox.schedule_flush()
        self._book.wake_dialer()
        after_flush(self._book.close_unshared)

    def _unstuck(self, g: Group) -> None:
        g.stuck = None
        self._unstuck_conv(g.conv)

    def _unstuck_conv(self, conv: bytes) -> None:
        self._stuck_since.pop(conv, None)
        self._told.discard(conv)

    def _refuse(self, g: Group, key: bytes, exc: GroupError) -> None:
        self._refused.add(key)
        log.warning("group %s: refused a checkpoint from %s: %s (its later ones are ignored "
                    "until its link closes)", g.state.title, self._views.who(key), exc)
