"""Per-author append-only logs and version-vector sync, for 1:1 chats and groups alike.

A conversation is a set of logs, one per author. Each log is a hash chain (``Envelope.prev``) with
contiguous seqs starting at 1. A node's state for a conversation is, per author, the highest
contiguous seq it holds — its version vector. Two nodes that meet swap vectors; each sends what
the other lacks (``missing_for``) and asks for what it lacks (``wanted_from``). Envelopes that
arrive early are buffered (bounded) and the gap is asked for once (``Received.requests``).

``ConversationLog`` is a pure in-memory view: it is built from what the store holds, tells the
node what to store, show and send, and never does I/O itself. Envelopes it accepts must be
persisted by the node before they are acknowledged (a vector sent) to anyone.

Not this module's job: authorisation. Whether ``env.author`` may write in ``env.conv`` (the peer
itself in a 1:1 chat, a current member in a group), and verifying group signatures, happen in the
node before ``receive`` is called. ``receive`` checks only the log's own consistency.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace

from p2pchat.core.errors import ProtocolError
from p2pchat.core.gap_buffer import (
    GAP_BYTES_PER_CONVERSATION,
    GAP_HOLD,
    GapBudget,
    Held,
    held_size,
)
from p2pchat.core.messages import (
    MAX_REQUEST_SPAN,
    ZERO_HASH,
    Envelope,
    SyncRequest,
    envelope_hash,
)

__all__ = [
    "ACK_DELAY",
    "ACK_DELAY_MAX",
    "GROUP_ACK_DELAY",
    "GROUP_ACK_DELAY_MAX",
    "MAX_ACCEPTED_LAMPORT",
    "AckWait",
    "ConversationLog",
    "DeliveryState",
    "Received",
    "VersionVector",
    "delivery_state",
    "display_key",
]

VersionVector = dict[bytes, int]

# A received lamport must stay below this, so a peer that sends a huge clock cannot push our own
# next lamport (max seen + 1) past the 2**63-1 the codec and the store allow.
MAX_ACCEPTED_LAMPORT = 2**62
# Floors an author's vectors set beyond what we hold of their log (see `add_floor`); more only
# loosens the check for a window of their log, never refuses an honest envelope.
MAX_FLOORS = 32


# A receiver holds its vector back so that envelopes arriving together share one vector and one
# commit: ACK_DELAY after the first, renewed while more keep coming, ACK_DELAY_MAX at most. A lone
# message is acknowledged within ACK_DELAY; a stream costs one commit per ACK_DELAY_MAX, not one
# per ACK_DELAY (docs/performance.md, "Sixth round").
ACK_DELAY = 0.005
ACK_DELAY_MAX = 0.05
# A group member's receipt to an envelope's author (the reference node's choice, protocol 8.8):
# longer, as a group's vector names every author and each linked member sends one; a member
# receiving a stream sends its author one vector a second at most, a lone message's within 0.2 s.
GROUP_ACK_DELAY = 0.2
GROUP_ACK_DELAY_MAX = 1.0


@dataclass
class AckWait:
    """One conversation's held-back vector on one link (times in seconds, from the caller)."""

    started: float  # when the first envelope it acknowledges was accepted
    more: int = 0  # envelopes accepted since the current wait began
    delay: float = ACK_DELAY  # one wait
    most: float = ACK_DELAY_MAX  # all the waits of one vector

    def again(self, now: float) -> bool:
        """At the end of a wait: True to wait `delay` once more (envelopes kept coming, and
        that wait still ends by `most` after the first), False to send the vector now."""
        if self.more and now + self.delay <= self.started + self.most:
            self.more = 0
            return True
        return False


@dataclass
class Received:
    """What ``ConversationLog.receive`` made of one envelope."""

    # Now contiguous, in seq order: store and show these (may include earlier buffered ones).
    accepted: list[Envelope] = field(default_factory=list)
    # Already held (seq at or below the head, or the same envelope already buffered).
    duplicate: bool = False
    # Held back until the gap before it is filled.
    buffered: bool = False
    # Gaps to ask the sender for (never a range already asked for and still outstanding).
    requests: list[SyncRequest] = field(default_factory=list)
    # Set when something was refused (fork, prev-hash mismatch, wrong conversation, ...).
    error: str | None = None


class DeliveryState(enum.Enum):
    QUEUED = "queued"  # written locally, not yet handed to any link
    SENT = "sent"  # written to a link, peer has not acknowledged it
    DELIVERED = "delivered"  # the peer's vector covers it


def delivery_state(seq: int, sent: bool, delivered_upto: int) -> DeliveryState:
    """State of one of our own messages, from ``ConversationLog.delivered_upto``."""
    if seq <= delivered_upto:
        return DeliveryState.DELIVERED
    return DeliveryState.SENT if sent else DeliveryState.QUEUED


def display_key(env: Envelope) -> tuple[int, bytes, int]:
    """Display order: Lamport clock, then author, then seq. Same on every replica."""
    return (env.lamport, env.author, env.seq)


class ConversationLog:
    """One conversation's logs on this node: heads, clock, buffered early envelopes."""

    def __init__(
        self,
        conv: bytes,
        heads: Mapping[bytes, tuple[int, bytes]],
        lamport: int,
        max_pending: int = 1024,
        head_lamports: Mapping[bytes, int] | None = None,
        *,
        max_pending_bytes: int = GAP_BYTES_PER_CONVERSATION,
        budget: GapBudget | None = None,
    ) -> None:
        """``heads``: author -> (last contiguous seq, envelope_hash of it), as stored.
        ``lamport``: the highest lamport seen in this conversation (0 when empty).
        ``head_lamports``: author -> lamport of that head envelope, so an author's next
        envelope must come after it (the backdating rule, see ``floor``).
        ``max_pending_bytes`` bounds the early envelopes held for this conversation, and
        ``budget`` (shared by every log of a node) those of the whole node (core.gap_buffer)."""
        if max_pending < 0 or max_pending_bytes < 0:
            raise ValueError("max_pending and max_pending_bytes must be >= 0")
        self.conv = conv
        self._heads: dict[bytes, tuple[int, bytes]] = {
            author: (seq, digest) for author, (seq, digest) in heads.items() if seq > 0
        }
        self._lamport = lamport
        self._max_pending = max_pending
        # How far ahead of a head we buffer or ask: one SyncRequest's worth, or less.
        self._window = max(1, min(max_pending, MAX_REQUEST_SPAN))
        self._pending: dict[bytes, dict[int, Envelope]] = {}
        self._pending_count = 0
        # What each early envelope is charged, and to which link (see core.gap_buffer).
        self._held: dict[tuple[bytes, int], Held] = {}
        self._pending_bytes = 0
        self._max_pending_bytes = max_pending_bytes
        self._budget = budget if budget is not None else GapBudget()
        # Highest seq per author we know exists somewhere (from envelopes and peer vectors).
        self._known: dict[bytes, int] = {}
        # Highest seq per author already asked for: the outstanding-request watermark.
        self._asked: dict[bytes, int] = {}
        # The backdating rule: a lamport an author's next envelopes must exceed, whatever their
        # seq (`_base`), and (after_seq, lamport) pairs for seqs beyond what we hold.
        self._base: dict[bytes, int] = dict(head_lamports or {})
        self._floors: dict[bytes, list[tuple[int, int]]] = {}

    # --- views ----------------------------------------------------------------------------------

    @property
    def lamport(self) -> int:
        return self._lamport

    @property
    def pending_count(self) -> int:
        return self._pending_count

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def head(self, author: bytes) -> tuple[int, bytes]:
        """(last contiguous seq, its hash); (0, ZERO_HASH) for an author we have nothing of."""
        return self._heads.get(author, (0, ZERO_HASH))

    def vector(self) -> VersionVector:
        return {author: seq for author, (seq, _) in sorted(self._heads.items())}

    def floor(self, author: bytes, seq: int) -> int:
        """The lamport that `author`'s envelope at `seq` must exceed.

        An author's lamports strictly increase along their log, and a message can never be
        placed before what its author had acknowledged when writing it: once the author's
        vector said it held another author's message of lamport L while its own log stood at
        s, each of its envelopes after s must have a lamport above L. An honest author's clock
        already ensures both; a hostile one cannot backdate past them.
        """
        floor = self._base.get(author, 0)
        for after_seq, lamport in self._floors.get(author, ()):
            if after_seq < seq:
                floor = max(floor, lamport)
        return floor

    def add_floor(self, author: bytes, after_seq: int, lamport: int) -> None:
        """`author` had seen lamport `lamport` while its own log stood at `after_seq`."""
        if after_seq <= self.head(author)[0]:  # binds every envelope still to come
            self._base[author] = max(self._base.get(author, 0), lamport)
            return
        floors = self._floors.setdefault(author, [])
        if any(s <= after_seq and low >= lamport for s, low in floors):
            return  # an earlier, higher floor already binds these seqs
        kept = [(s, low) for s, low in floors if not (s >= after_seq and low <= lamport)]
        floors[:] = sorted([*kept, (after_seq, lamport)])
        del floors[:-MAX_FLOORS]  # keep the latest: dropping one only loosens the check

    def delivered_upto(self, peer_vector: Mapping[bytes, int], author: bytes) -> int:
        """Highest seq of ``author`` the peer holds, per its vector (clamped to what exists)."""
        return max(0, min(peer_vector.get(author, 0), self.head(author)[0]))

    # --- writing --------------------------------------------------------------------------------

    def append_local(
        self,
        author: bytes,
        body: bytes,
        sent_at: int,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> Envelope:
        """Our own next envelope: next seq, lamport one past everything seen, chained to head.

        ``sign`` (groups) signs ``signing_bytes()``; it must happen here, before the head hash
        is taken, because the hash covers the signature.
        Raises ProtocolError for a body over the limit (from Envelope's validation)."""
        seq, prev = self.head(author)
        env = Envelope(
            conv=self.conv,
            author=author,
            seq=seq + 1,
            lamport=self._lamport + 1,
            sent_at=sent_at,
            prev=prev,
            body=body,
        )
        if sign is not None:
            env = replace(env, sig=sign(env.signing_bytes()))
        self._advance(env)
        return env

    def receive(self, env: Envelope, *, origin: Hashable | None = None,
                now: float = 0.0) -> Received:
        """Take one envelope from a peer (already authorised by the node). ``origin`` names
        the link that brought it and ``now`` is the caller's clock: an early envelope is
        charged to that link and held until ``release(origin)`` or ``expire``."""
        result = Received()
        if env.conv != self.conv:
            result.error = "envelope for another conversation"
            return result
        if env.lamport >= MAX_ACCEPTED_LAMPORT:
            result.error = f"lamport {env.lamport} is implausibly large"
            return result
        author = env.author
        head_seq, head_hash = self.head(author)
        self._known[author] = max(self._known.get(author, 0), env.seq)

        if env.seq <= head_seq:
            # The head is the only hash we keep; at that seq we can tell a fork from a copy.
            if env.seq == head_seq and envelope_hash(env) != head_hash:
                result.error = f"fork: a different envelope at seq {env.seq} of this author"
            else:
                result.duplicate = True
            return result

        if env.seq == head_seq + 1:
            if env.prev != head_hash:
                result.error = f"prev-hash mismatch at seq {env.seq}: refused"
                # Let a fresh copy be asked for: the one we got was not it.
                self._asked[author] = min(self._asked.get(author, 0), head_seq)
                return result
            backdated = self._backdated(env)
            if backdated:
                result.error = backdated
                return result
            self._advance(env)
            result.accepted.append(env)
            result.error = self._drain(author, result.accepted)
        else:
            self._buffer(env, result, origin, now)

        result.requests = self._gap_requests(author)
        return result

    def was_asked(self, author: bytes, seq: int) -> bool:
        """Whether `seq` of `author` is within what we asked for (an answer, not a push)."""
        return seq <= self._asked.get(author, 0)

    def forget_outstanding(self) -> None:
        """Forget which gaps were asked for, so the next receive/wanted_from asks again.

        Call it when a link closes (its answers died with it) and on a periodic anti-entropy
        tick (in a group a request may have gone to a member that turned out not to hold it)."""
        self._asked.clear()

    def release(self, origin: Hashable) -> int:
        """The link ``origin`` closed: drop the early envelopes only it brought (they are asked
        for again). Returns how many were dropped."""
        return self._drop_where(lambda held: held.origin == origin)

    def expire(self, now: float) -> int:
        """Drop early envelopes that waited GAP_HOLD seconds or more for their gap."""
        return self._drop_where(lambda held: now - held.since >= GAP_HOLD)

    def clear_pending(self) -> None:
        """Drop every early envelope (before this log object is discarded)."""
        self._drop_where(lambda held: True)

    # --- sync planning --------------------------------------------------------------------------

    def missing_for(self, peer_vector: Mapping[bytes, int]) -> list[tuple[bytes, int, int]]:
        """(author, first, last) ranges we hold and the peer lacks; the node sends them in order.

        Only contiguous, stored envelopes count: buffered ones are not ours to vouch for yet."""
        ranges: list[tuple[bytes, int, int]] = []
        for author, (seq, _) in sorted(self._heads.items()):
            theirs = max(0, peer_vector.get(author, 0))
            if seq > theirs:
                ranges.append((author, theirs + 1, seq))
        return ranges

    def wanted_from(
        self, peer_vector: Mapping[bytes, int], *, again: bool = True
    ) -> list[SyncRequest]:
        """Requests for what the peer holds and we lack: call on every SyncVector from a peer.

        This is the repair path, so it asks again from head+1 even if that was asked before
        (the earlier request may have gone to a member that lacked it, or died with a link;
        a duplicate answer costs little and is dropped). ``again=False`` (groups, where
        several members announce the same envelopes) asks each range once until
        ``forget_outstanding``, so a catch-up is fetched once, not once per member linked.
        It asks only for seqs this peer claims, at most one window per author; as answers
        arrive, ``receive`` asks for the next window itself, so a long catch-up is pipelined,
        not one huge burst."""
        requests: list[SyncRequest] = []
        for author, seq in sorted(peer_vector.items()):
            if seq > self.head(author)[0]:
                self._known[author] = max(self._known.get(author, 0), seq)
                requests.extend(self._gap_requests(author, upto=seq, again=again))
        return requests

    def clip_request(self, request: SyncRequest) -> tuple[int, int] | None:
        """The part of a peer's SyncRequest we can serve from the store, or None."""
        if request.conv != self.conv:
            return None
        last = min(request.last, self.head(request.author)[0])
        return (request.first, last) if request.first <= last else None

    # --- internals ------------------------------------------------------------------------------

    def _backdated(self, env: Envelope) -> str | None:
        floor = self.floor(env.author, env.seq)
        if env.lamport > floor:
            return None
        return (f"backdated: lamport {env.lamport} at seq {env.seq} does not come after"
                f" {floor}, which its author had already seen")

    def _advance(self, env: Envelope) -> None:
        author = env.author
        self._heads[author] = (env.seq, envelope_hash(env))
        self._lamport = max(self._lamport, env.lamport)
        base = max(self._base.get(author, 0), env.lamport)
        floors = self._floors.get(author)
        if floors:  # floors the head has passed now bind every envelope still to come
            base = max([base] + [lamport for after, lamport in floors if after <= env.seq])
            floors[:] = [(after, lamport) for after, lamport in floors if after > env.seq]
        self._base[author] = base

    def _drain(self, author: bytes, accepted: list[Envelope]) -> str | None:
        """Accept buffered envelopes that the new head made contiguous."""
        pending = self._pending.get(author)
        while pending:
            seq, head_hash = self.head(author)
            nxt = pending.pop(seq + 1, None)
            if nxt is None:
                break
            self._pending_count -= 1
            self._unhold(author, nxt.seq)
            if nxt.prev != head_hash:
                # Buffered before we could check it; now we can, and it does not chain.
                self._asked[author] = min(self._asked.get(author, 0), seq)
                self._drop_pending_if_empty(author)
                return f"prev-hash mismatch at seq {nxt.seq}: buffered envelope refused"
            backdated = self._backdated(nxt)
            if backdated:  # what was buffered behind it can't chain any more either
                self._pending_count -= len(pending)
                for later in pending:
                    self._unhold(author, later)
                pending.clear()
                self._drop_pending_if_empty(author)
                return backdated
            self._advance(nxt)
            accepted.append(nxt)
        self._drop_pending_if_empty(author)
        return None

    def _drop_pending_if_empty(self, author: bytes) -> None:
        # Keep _pending free of empty per-author maps so its size tracks real buffering.
        if author in self._pending and not self._pending[author]:
            del self._pending[author]

    def _unhold(self, author: bytes, seq: int) -> None:
        held = self._held.pop((author, seq), None)
        if held is not None:
            self._pending_bytes -= held.size
            self._budget.give(held.size)

    def _drop_where(self, doomed: Callable[[Held], bool]) -> int:
        dropped = [key for key, held in self._held.items() if doomed(held)]
        for author, seq in dropped:
            pending = self._pending.get(author, {})
            if pending.pop(seq, None) is not None:
                self._pending_count -= 1
            self._unhold(author, seq)
            # Asked for again by the next receive or vector, from whoever holds it.
            self._asked[author] = min(self._asked.get(author, 0), seq - 1)
            self._drop_pending_if_empty(author)
        return len(dropped)

    def _buffer(self, env: Envelope, result: Received, origin: Hashable | None,
                now: float) -> None:
        pending = self._pending.setdefault(env.author, {})
        held = pending.get(env.seq)
        size = held_size(env)
        if held is not None:
            if held == env:
                result.duplicate = True
            else:
                result.error = f"fork: a different envelope already buffered at seq {env.seq}"
        elif (
            self._pending_count < self._max_pending
            and self._pending_bytes + size <= self._max_pending_bytes
            and env.seq <= self.head(env.author)[0] + self._window
            and self._budget.take(size)
        ):
            pending[env.seq] = env
            self._pending_count += 1
            self._pending_bytes += size
            self._held[(env.author, env.seq)] = Held(size, origin, now)
            result.buffered = True
        else:
            # Dropped: the buffer is full or it is too far ahead. _known remembers it exists;
            # lowering the watermark lets _gap_requests ask for it again once there is room.
            self._asked[env.author] = min(self._asked.get(env.author, 0), env.seq - 1)
        self._drop_pending_if_empty(env.author)

    def _gap_requests(
        self, author: bytes, *, upto: int | None = None, again: bool = False
    ) -> list[SyncRequest]:
        """Ask for missing seqs in (head, known], one window ahead at most.

        Normally never twice: only seqs above the outstanding watermark, and nothing new while
        more than half a window is still outstanding, so a catch-up makes a few big requests
        rather than one per received envelope. ``again`` (the repair path) starts from head+1
        regardless; ``upto`` caps the range at what the asked peer holds. Seqs dropped for lack
        of buffer room are asked for again (see _buffer), but only once answers can be kept."""
        head = self.head(author)[0]
        known = self._known.get(author, 0) if upto is None else upto
        previously = max(self._asked.get(author, 0), head)
        asked = head if again else previously
        if asked - head > self._window // 2:
            return []
        first, last = asked + 1, min(known, head + self._window)
        if first > last:
            return []
        if first > head + 1 and (self._pending_count >= self._max_pending
                                 or self._pending_bytes >= self._max_pending_bytes):
            # The answers would need buffering and there is no room: they would be dropped and
            # asked for again, forever. A range starting at head+1 is always fine (every answer
            # extends the head directly), so wait for that.
            return []
        self._asked[author] = max(previously, last)
        pending = self._pending.get(author, {})
        requests: list[SyncRequest] = []
        start: int | None = None
        for seq in range(first, last + 2):  # one past the end closes the final run
            if seq <= last and seq not in pending:
                if start is None:
                    start = seq
            elif start is not None:
                requests.append(self._request(author, start, seq - 1))
                start = None
        return requests

    def _request(self, author: bytes, first: int, last: int) -> SyncRequest:
        try:
            return SyncRequest(conv=self.conv, author=author, first=first, last=last)
        except ProtocolError as exc:  # pragma: no cover - window <= MAX_REQUEST_SPAN
            raise AssertionError(f"bug: invalid gap request: {exc}") from exc
