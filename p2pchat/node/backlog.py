"""What each link is still to be sent from the logs: envelopes pushed as they are written, and
the ranges a peer lacks, served lazily within a per-link budget.

A vector or a request from a peer must never make the node build a large reply in memory
(docs/protocol.md, "Serving what a peer lacks"). So a range a peer lacks is only noted (at most
one per log per link, merged with what was noted before), and one task per link loads and sends
it a batch at a time, and only once the link has drained what it was handed before. What a link
was already handed is remembered, so an acknowledgement that lags behind what is in flight asks
for nothing twice. Vectors and requests themselves are rate-limited per link: a peer that floods
them loses the link instead of costing us anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from p2pchat.core.messages import Envelope, encode_record
from p2pchat.core.ratelimit import TokenBucket
from p2pchat.node.config import CommandError
from p2pchat.node.links import Spawn
from p2pchat.node.outbox import Outbox
from p2pchat.node.peer_state import PeerLink
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")

# Envelopes loaded per step, sent in one socket write and followed by one commit: a catch-up of
# 10,000 chat lines is 10 steps, not 625. BATCH_BYTES (sealed sizes) bounds a step of large
# messages: what a step holds in memory stays near 1 MiB, far under the link's write-buffer limit.
BATCH = 1024
BATCH_BYTES = 1 << 20
SYNC_RATE = 256.0  # vectors and requests a peer may send per second, sustained...
SYNC_BURST = 512.0  # ...and at once (acknowledgements of a burst of our messages)

LogId = tuple[bytes, bytes]  # (conversation, author)


@dataclass
class _LinkSending:
    budget: TokenBucket
    # Per log, the seq up to which the peer holds or was handed everything on this link (no
    # hole below it: a vector that lags skips only what is really in flight).
    handed: dict[LogId, int] = field(default_factory=dict)
    wanted: dict[LogId, list[int]] = field(default_factory=dict)  # [next, last] still to send
    task: asyncio.Task[None] | None = None


class Backlog:
    def __init__(self, key: bytes, *, store: Callable[[], Store], outbox: Outbox,
                 spawn: Spawn) -> None:
        self._key = key
        self._store = store
        self._outbox = outbox
        self._spawn = spawn
        self._links: dict[PeerLink, _LinkSending] = {}

    def _state(self, link: PeerLink) -> _LinkSending:
        state = self._links.get(link)
        if state is None:
            now = asyncio.get_running_loop().time()
            state = self._links[link] = _LinkSending(TokenBucket(SYNC_RATE, SYNC_BURST, now))
        return state

    def admit_sync(self, link: PeerLink) -> bool:
        """Charge one vector or request to the link's budget; False: it is flooding us."""
        return self._state(link).budget.take(asyncio.get_running_loop().time())

    def push(self, link: PeerLink, env: Envelope) -> None:
        """Send a newly written envelope after the commit (it is the next in its log). For a
        command that awaits `Outbox.durable()` next."""
        state = self._state(link)
        self._outbox.queue(link, env, awaited=True)
        _handed(state, (env.conv, env.author), env.seq, env.seq)

    def forward(self, link: PeerLink, env: Envelope) -> None:
        """Pass on someone else's group envelope at once, ahead of our own commit: it depends on
        no write of ours (its author signed and committed it), and a member that misses it
        because we crash fetches it again by sync. Waiting for our commit would add one disk
        flush per hop to every message's way through a group."""
        state = self._state(link)
        try:
            link.send_record(encode_record(env))
        except Exception as exc:
            log.warning("closing a link: cannot send: %s", exc)
            link.close(f"cannot send: {exc}")
            return
        _handed(state, (env.conv, env.author), env.seq, env.seq)

    def serve(self, link: PeerLink, conv: bytes, author: bytes, first: int, last: int, *,
              asked: bool = False) -> None:
        """The peer lacks `first..last` of a log: send it, lazily.

        From a vector (`asked` False) what the link was already handed is skipped: it is in
        flight. An explicit request (`asked`) is served again from `first`.
        """
        state = self._state(link)
        log_id = (conv, author)
        if not asked:
            # The peer holds what comes before `first`: a push above a hole joins up with it.
            _handed(state, log_id, 1, first - 1)
            first = max(first, state.handed.get(log_id, 0) + 1)
        if first > last:
            return
        span = state.wanted.get(log_id)
        if span is None:
            state.wanted[log_id] = [first, last]
        else:
            span[0], span[1] = min(span[0], first), max(span[1], last)
        if state.task is None:
            state.task = self._spawn(self._pump(link, state), "sync-sender")

    def forget(self, link: PeerLink) -> None:
        """A link ended: drop what it was still owed (its task stops with it)."""
        state = self._links.pop(link, None)
        if state is not None and state.task is not None:
            state.task.cancel()

    async def _pump(self, link: PeerLink, state: _LinkSending) -> None:
        try:
            while state.wanted and await link.drained():
                log_id, span = next(iter(state.wanted.items()))
                conv, author = log_id
                first, last = span
                db = self._store()
                envelopes = db.conversations.envelopes(
                    conv, author, first, min(last, first + BATCH - 1), max_bytes=BATCH_BYTES)
                if not envelopes:
                    del state.wanted[log_id]
                    continue
                for env in envelopes:
                    self._outbox.queue(link, env)
                top = envelopes[-1].seq
                _handed(state, log_id, envelopes[0].seq, top)
                if author == self._key:
                    db.conversations.mark_sent(conv, author, top)
                if top >= span[1]:
                    del state.wanted[log_id]
                else:
                    span[0] = top + 1
                await self._outbox.durable()  # this batch leaves before the next is loaded
        except CommandError as exc:  # storage failed: the peer asks again on its next vector
            log.warning("stopped serving a peer: %s", exc)
        finally:
            state.task = None


def _handed(state: _LinkSending, log_id: LogId, first: int, last: int) -> None:
    """`first..last` of a log went to the link (or the peer said it holds them): the mark
    moves only when the range joins it, never over a hole. A push of a new message at link
    start, before the peer's vector says what it lacks, must not hide the messages between
    (the peer would wait for them for as long as the link lasts)."""
    if first <= state.handed.get(log_id, 0) + 1:
        state.handed[log_id] = max(state.handed.get(log_id, 0), last)
