"""A deterministic, pure simulation of group replicas gossiping over a sparse topology.

Each replica runs what a node's group part would: ``check_group_envelope`` before
``ConversationLog.receive``, ``GroupGossip`` to pick push targets, vector anti-entropy by pull
(``wanted_from(again=False)``), op flooding with head-op catch-up, and direct (pairwise) key
delivery. Records travel as real encoded bytes through one FIFO queue, popped in an order drawn
from a seeded random; there is no asyncio, no clock and no unseeded randomness.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field

from p2pchat.core import groups
from p2pchat.core.groups import GroupError, GroupGossip, GroupState, MissingKey, OpReplay
from p2pchat.core.identity import Identity
from p2pchat.core.messages import (
    Envelope,
    GroupKey,
    GroupLeave,
    GroupOp,
    GroupPrune,
    Record,
    SyncRequest,
    SyncVector,
    decode_record,
    encode_record,
    encode_text,
    envelope_hash,
)
from p2pchat.core.sync import ConversationLog

MAX_STEPS = 2_000_000  # every run loop is bounded


@dataclass
class Replica:
    identity: Identity
    state: GroupState
    keys: dict[int, bytes]
    log: ConversationLog
    gossip: GroupGossip
    links: set[bytes] = field(default_factory=set)
    store: dict[tuple[bytes, int], Envelope] = field(default_factory=dict)
    shown: Counter[bytes] = field(default_factory=Counter)  # envelope hash -> times displayed
    unread: set[bytes] = field(default_factory=set)  # stored, key missing
    refused: list[str] = field(default_factory=list)
    pending_leaves: dict[bytes, GroupLeave] = field(default_factory=dict)
    left: bool = False  # asked to leave: stopped locally, whatever the owner does

    @property
    def key(self) -> bytes:
        return self.identity.public_key


class Sim:
    def __init__(self, n: int, seed: int, degree: int = 3) -> None:
        self.rng = random.Random(seed)
        self.identities = [Identity.from_seed(self.rng.randbytes(32)) for _ in range(n)]
        owner = self.identities[0]
        change = groups.create(owner, "sim", "owner", self.rng.randbytes)
        keys = {1: change.key}
        state = change.state
        for i, ident in enumerate(self.identities[1:], start=1):
            change = groups.invite(state, owner, ident.public_key, f"m{i}", self.rng.randbytes)
            assert change.key is not None
            state, keys[change.state.epoch] = change.state, change.key
        invite = decode_record(encode_record(groups.invitation(state, {}, 0)))
        assert isinstance(invite, groups.GroupInvite)
        self.replicas: dict[bytes, Replica] = {}
        for ident in self.identities:
            joined = groups.join(invite, ident.public_key, owner.public_key)
            self.replicas[ident.public_key] = Replica(
                identity=ident,
                state=joined,
                keys={joined.epoch: keys[joined.epoch]},
                log=ConversationLog(joined.group, groups.start_heads(invite), invite.lamport),
                gossip=GroupGossip(joined.group),
            )
        self.group = state.group
        self.order = [ident.public_key for ident in self.identities]
        self._topology(degree)
        self.queue: deque[tuple[bytes, bytes, bytes]] = deque()
        self.envelope_sends = 0
        self.other_sends: Counter[str] = Counter()
        self.messages: list[Envelope] = []

    # --- topology -------------------------------------------------------------------------------

    def _topology(self, degree: int) -> None:
        """A random spanning tree (connected) plus random extra links up to ~degree on average."""
        nodes = list(self.order)
        self.rng.shuffle(nodes)
        edges: set[frozenset[bytes]] = set()
        for i in range(1, len(nodes)):
            edges.add(frozenset((nodes[i], nodes[self.rng.randrange(i)])))
        target = len(nodes) * degree // 2
        for _ in range(100 * target):
            if len(edges) >= target:
                break
            a, b = self.rng.sample(nodes, 2)
            edges.add(frozenset((a, b)))
        for edge in edges:
            a, b = tuple(edge)
            self.link(a, b)

    def link(self, a: bytes, b: bytes) -> None:
        self.replicas[a].links.add(b)
        self.replicas[b].links.add(a)

    def unlink(self, a: bytes, b: bytes) -> None:
        for x, y in ((a, b), (b, a)):
            self.replicas[x].links.discard(y)
            self.replicas[x].gossip.forget(y)
            self.replicas[x].log.forget_outstanding()  # its answers died with the link

    def edges(self) -> set[frozenset[bytes]]:
        return {frozenset((k, p)) for k, r in self.replicas.items() for p in r.links}

    # --- sending --------------------------------------------------------------------------------

    def send(self, src: bytes, dst: bytes, record: Record) -> None:
        if dst not in self.replicas[src].links:
            return
        if isinstance(record, Envelope):
            self.envelope_sends += 1
        else:
            self.other_sends[type(record).__name__] += 1
        self.queue.append((src, dst, encode_record(record)))

    def say(self, author: bytes, text: str) -> Envelope:
        rep = self.replicas[author]
        env = groups.seal_group_envelope(
            rep.state, rep.keys, rep.identity, rep.log, encode_text(text), 0, self.rng.randbytes
        )
        rep.store[(author, env.seq)] = env
        rep.shown[envelope_hash(env)] += 1
        self.messages.append(env)
        for peer in rep.gossip.push_targets(rep.state, rep.links, None, author):
            self.send(author, peer, env)
        return env

    def leave(self, member: bytes) -> GroupLeave:
        """``member`` leaves: stops at once, tells its links, then closes them."""
        rep = self.replicas[member]
        leave = groups.request_leave(rep.state, rep.identity, rep.log.head(member)[0])
        rep.left = True
        rep.keys.clear()
        for peer in sorted(rep.links):
            self.send(member, peer, leave)
        self.run()
        for peer in sorted(rep.links):
            self.unlink(member, peer)
        return leave

    def apply_owner_change(self, by: bytes, change: groups.Change) -> None:
        """The owner ``by`` made ``change``: keep its key, flood the op, deliver keys pairwise."""
        owner = self.replicas[by]
        before = owner.state
        owner.state = change.state
        if change.key is not None:
            owner.keys[change.state.epoch] = change.key
        self._after_op(owner, before, change.op, None)
        for member, record in change.deliveries:
            # The owner's pairwise session with each member (a node dials it: contacts or group
            # links), modelled as direct. The op goes first on it, so the key's epoch is known.
            self.other_sends["GroupOp"] += 1
            self._deliver(owner.key, member, encode_record(change.op))
            self.other_sends["GroupKey"] += 1
            self._deliver(owner.key, member, encode_record(record))

    # --- running --------------------------------------------------------------------------------

    def run(self, steps: int | None = None) -> None:
        """Deliver queued records, oldest first (all of them, or ``steps``)."""
        budget = MAX_STEPS if steps is None else steps
        while self.queue and budget > 0:
            budget -= 1
            src, dst, data = self.queue.popleft()
            if src in self.replicas[dst].links:  # a link cut in flight loses what was on it
                self._deliver(src, dst, data)
        assert budget > 0 or steps is not None, "simulation did not settle"

    def anti_entropy(self) -> None:
        """Every replica sends its vector and its head op on every link, then the queue runs."""
        for key in self.order:
            rep = self.replicas[key]
            rep.log.forget_outstanding()
            for peer in sorted(rep.links):
                self.send(key, peer, SyncVector(conv=self.group, vector=rep.log.vector()))
                self.send(key, peer, rep.state.ops[-1])
                for leave in rep.pending_leaves.values():
                    self.send(key, peer, leave)
        self.run()

    def settle(self, rounds: int = 20) -> int:
        """Run and repeat anti-entropy until nothing changes; returns the rounds it took."""
        self.run()
        for done in range(rounds):
            before = {k: r.log.vector() for k, r in self.replicas.items()}
            self.anti_entropy()
            if before == {k: r.log.vector() for k, r in self.replicas.items()}:
                return done
        raise AssertionError("no convergence")

    # --- receiving ------------------------------------------------------------------------------

    def _deliver(self, src: bytes, dst: bytes, data: bytes) -> None:
        rep = self.replicas[dst]
        record = decode_record(data)
        if isinstance(record, Envelope):
            self._on_envelope(rep, src, record)
        elif isinstance(record, SyncVector):
            for request in rep.log.wanted_from(record.vector, again=False):
                rep.gossip.on_request(src, request.author)
                self.send(dst, src, request)
        elif isinstance(record, SyncRequest):
            rep.gossip.on_request(src, record.author)
            span = rep.log.clip_request(record)
            if span is not None:
                for seq in range(span[0], span[1] + 1):
                    env = rep.store.get((record.author, seq))
                    if env is not None:
                        self.send(dst, src, env)
        elif isinstance(record, GroupPrune):
            rep.gossip.on_prune(src, record.author)
        elif isinstance(record, GroupOp):
            self._on_op(rep, src, record)
        elif isinstance(record, GroupKey):
            self._on_key(rep, record)
        elif isinstance(record, GroupLeave):
            self._on_leave(rep, src, record)
        else:  # pragma: no cover - the simulation sends nothing else
            raise AssertionError(record)

    def _on_leave(self, rep: Replica, src: bytes, leave: GroupLeave) -> None:
        if rep.left or leave.member in rep.pending_leaves:
            return
        try:
            groups.check_leave(rep.state, leave)
        except GroupError as exc:
            rep.refused.append(str(exc))
            return
        if rep.key == rep.state.owner:
            change = groups.enact_leave(rep.state, rep.identity, leave, self.rng.randbytes)
            self.apply_owner_change(rep.key, change)
            return
        rep.pending_leaves[leave.member] = leave
        for peer in sorted(rep.links):
            if peer != src and peer in rep.state.members:
                self.send(rep.key, peer, leave)

    def _on_envelope(self, rep: Replica, src: bytes, env: Envelope) -> None:
        if rep.left or rep.key not in rep.state.members:
            return  # left or removed: reads and forwards nothing of the group
        try:
            groups.check_group_envelope(rep.state, env)
        except groups.UnknownEpoch:
            # We lack ops: show the sender our head so it sends them; the envelope comes back
            # by anti-entropy once we can place it.
            self.send(rep.key, src, rep.state.ops[-1])
            return
        except GroupError as exc:
            rep.refused.append(str(exc))
            return
        received = rep.log.receive(env)
        assert received.error is None, received.error
        if received.duplicate:
            prune = rep.gossip.on_duplicate(src, env.author)
            if prune is not None:
                self.send(rep.key, src, prune)
        for accepted in received.accepted:
            rep.store[(accepted.author, accepted.seq)] = accepted
            self._show(rep, accepted)
            for peer in rep.gossip.push_targets(rep.state, rep.links, src, accepted.author):
                self.send(rep.key, peer, accepted)
        for request in received.requests:
            rep.gossip.on_request(src, request.author)
            self.send(rep.key, src, request)

    def _show(self, rep: Replica, env: Envelope) -> None:
        try:
            groups.open_group_envelope(rep.state, rep.keys, env)
        except MissingKey:
            rep.unread.add(envelope_hash(env))
            return
        rep.shown[envelope_hash(env)] += 1

    def _on_op(self, rep: Replica, src: bytes, op: GroupOp) -> None:
        before = rep.state
        try:
            rep.state = groups.apply_op(before, op)
        except OpReplay as exc:
            if not exc.same:
                rep.refused.append(str(exc))
            else:  # the sender may be behind: send it what follows, once
                for later in rep.gossip.ops_behind(before, src, op.number):
                    self.send(rep.key, src, later)
            rep.gossip.saw_op(src, op.number)
            return
        except groups.OpGap:
            self.send(rep.key, src, before.ops[-1])  # it answers with the ops we lack
            return
        except GroupError as exc:
            rep.refused.append(str(exc))
            return
        rep.gossip.saw_op(src, op.number)
        self._after_op(rep, before, op, src)

    def _after_op(self, rep: Replica, before: GroupState, op: GroupOp, src: bytes | None) -> None:
        if op.kind in (3, 4):  # remove, leave: the subject's log ends at the cut
            self._truncate(rep, op.subject, op.cut)
            rep.pending_leaves.pop(op.subject, None)
        for peer in groups.op_targets(before, rep.state, rep.links, src):
            self.send(rep.key, peer, op)

    def _truncate(self, rep: Replica, author: bytes, cut: int) -> None:
        if rep.log.head(author)[0] <= cut:
            return
        for seq in [s for (a, s) in rep.store if a == author and s > cut]:
            del rep.store[(author, seq)]
        heads = {a: rep.log.head(a) for a in rep.log.vector()}
        heads[author] = (cut, envelope_hash(rep.store[(author, cut)])) if cut else (0, b"")
        rep.log = ConversationLog(rep.log.conv, heads, rep.log.lamport)

    def _on_key(self, rep: Replica, record: GroupKey) -> None:
        rep.keys[record.epoch] = groups.accept_key(rep.state, record, rep.key)
        for digest in sorted(rep.unread):
            env = next(e for e in rep.store.values() if envelope_hash(e) == digest)
            rep.unread.discard(digest)
            self._show(rep, env)

    # --- views ----------------------------------------------------------------------------------

    def members(self) -> list[Replica]:
        owner_state = self.replicas[self.order[0]].state
        return [self.replicas[k] for k in self.order if k in owner_state.members]
