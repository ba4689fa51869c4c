"""Durability: the writes of one event-loop turn are committed together, and nothing that depends
on them leaves before the commit.

Parts of the node write to the store freely during a turn and hand records for peers to
`queue`; a command that must not answer before its writes are on disk awaits `durable`. At the end
of the turn `flush` commits once and only then releases the waiters and writes the queued
records to their links (in the next step, after the answers the waiters give). So a
message acknowledged to the user or to a peer is on disk, and a crash at any instant can lose
only what nobody was told about.

A commit can fail (disk full, I/O error, a locked database). Then the turn is undone as a whole:
the transaction is rolled back, the records that waited on it are dropped (an acknowledgement of
what is not on disk must never leave), waiters get a "storage" error, and `on_failed` lets the
node rebuild what it holds in memory from the store and watch for the disk to heal.

Writes that nobody is told about (a peer's acknowledgement of our messages) need no fsync of
their own: `schedule_lazy_flush` lets them ride on the next commit that is made anyway, or
commits them within LAZY_COMMIT_S when none comes. A group envelope received from another member
(`GroupRecords._accept`) schedules no commit at all: it rides on the next commit made for any
reason, at the latest the group's anti-entropy round, which queues vectors (group_sync_interval).
That is safe because it is acknowledged only by a vector, which leaves after a commit that holds
it; lost in a crash before, it is fetched again by sync (docs/architecture.md).
Records queued for one link in a turn leave in one socket write. When the node stops, `close`
makes the last commit and releases whoever waits on it; a timer that fires after that finds
nothing to do.

Commands that arrive together share a commit. Several clients each sending one message at a
time come back one or two per turn, so committing at every turn's end would cost each message
its own fsync. So when recent commits were shared by more commands than are waiting now, the
commit is held until as many are waiting, or for COMMIT_DELAY at most (PostgreSQL's
`commit_delay` idea). A lone client is never held: its commits carry one command each. Once a
commit has carried one command alone, the next lone command is committed inside `durable()`, a
loop turn sooner; a turn in which a second command comes shows that others are about, and the
holding takes over again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from p2pchat.core.messages import Record, encode_record
from p2pchat.core.record_revisions import REVISION_4
from p2pchat.net.addresses import format_addr
from p2pchat.node.config import CommandError
from p2pchat.node.peer_state import PeerLink
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

Older = Callable[[PeerLink, Record, int], Record | None]

LAZY_COMMIT_S = 0.05  # at most this long before a lazy write is committed
COMMIT_DELAY = 0.001  # at most this long a command's commit waits for others to share it
GROUP_WINDOW = 0.02  # how long the size of a shared commit is remembered


class Outbox:
    def __init__(self, store: Callable[[], Store], *,
                 on_failed: Callable[[Exception], None] | None = None,
                 on_committed: Callable[[], None] | None = None) -> None:
        self._store = store
        self._older: Older | None = None  # see `send_older_as`
        self._on_failed = on_failed
        self._on_committed = on_committed
        self._queued: list[tuple[PeerLink, bytes]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        self._lazy: asyncio.TimerHandle | None = None
        self._held: asyncio.TimerHandle | None = None
        # The most commands one commit carried lately, and until when that is remembered.
        self._peak = 1
        self._peak_until = 0.0
        # Whether the last commit that released commands released exactly one, and how many
        # commands have come in the current loop turn.
        self._alone = False
        self._in_turn = 0
        self._closed = False  # the node stopped: its store is closed

    def queue(self, link: PeerLink, record: Record, *, awaited: bool = False) -> None:
        """Send `record` on `link` once the current turn's writes are committed. `awaited`: a
        command queues it and awaits `durable()` next, which decides when that commit is made.
        A record the peer's revision cannot decode is dropped here (`older`)."""
        data = encode_record(record)
        if self._older is not None and link.session.peer_revision < REVISION_4:
            fitting = self._older(link, record, len(data))
            if fitting is None:
                log.debug("not sent to a revision-%d peer: %s", link.session.peer_revision,
                          type(record).__name__)
                return
            if fitting is not record:
                data = encode_record(fitting)
        self._queued.append((link, data))
        if not awaited:
            self.schedule_flush()

    def send_now(self, link: PeerLink, record: Record) -> None:
        """Send a record that depends on no write of ours (a gossip hint) at once, without
        waiting for, or asking for, a commit: in a large group every first message of an author
        makes prunes on many links, and a commit (a disk flush) for each dominated the load."""
        try:
            link.send_record(encode_record(record))
        except Exception as exc:  # the send buffer is full: the link is not keeping up
            log.warning("closing a link: cannot send: %s", exc)
            link.close(f"cannot send: {exc}")

    def send_older_as(self, older: Older) -> None:
        """For a peer that announced an older revision, `older` gives the form of a record (of
        that many bytes) it decodes, or None when it cannot take it (protocol 12); the groups
        part, which knows the limits, installs it."""
        self._older = older

    def schedule_flush(self) -> None:
        """Commit at the end of this turn (for writes that no record or waiter depends on)."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def schedule_lazy_flush(self) -> None:
        """Commit with the next flush, or within LAZY_COMMIT_S: for writes nobody waits on,
        whose loss in a crash costs nothing a peer does not send again (acknowledgements)."""
        if not self._scheduled and self._lazy is None and not self._closed:
            self._lazy = asyncio.get_running_loop().call_later(LAZY_COMMIT_S, self.flush)

    async def durable(self) -> None:
        """Wait until every write made so far is committed; CommandError("storage") if not."""
        if self._closed:
            raise CommandError("storage", "could not save: the node has stopped")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._in_turn += 1
        if self._in_turn == 1:
            loop.call_soon(self._turn_ended)
        expected = self._peak if loop.time() < self._peak_until else 1
        if len(self._waiters) >= expected:
            if self._alone and self._in_turn == 1 and len(self._waiters) == 1:
                self.flush()  # one command at a time: commit now, not at the turn's end
            else:
                self.schedule_flush()
        elif self._held is None:
            self._held = loop.call_later(COMMIT_DELAY, self._hold_ended)
        await waiter

    def _turn_ended(self) -> None:
        # Commands of one turn came together even when the first was committed on its own.
        if self._in_turn > 1:
            self._note_shared(self._in_turn)
        self._in_turn = 0

    def _hold_ended(self) -> None:
        self._held = None
        # Fewer came than lately: expect as many as are here from now on.
        self._peak = max(1, len(self._waiters))
        self._peak_until = asyncio.get_running_loop().time() + GROUP_WINDOW
        self.schedule_flush()

    def commit(self) -> None:
        """Commit the turn's writes now (lazy and held ones included)."""
        if self._lazy is not None:  # this commit covers the lazy writes too
            self._lazy.cancel()
            self._lazy = None
        if self._held is not None:  # and the held ones
            self._held.cancel()
            self._held = None
        if self._store().commit() and self._on_committed is not None:
            self._on_committed()

    def close(self) -> None:
        """The node stops: commit what is pending and release whoever waits on it, then do
        nothing more (a timer that fires after the store is closed, a receipt's wait say, finds
        nothing to do). StoreError if that last commit fails; its waiters are told so."""
        self._closed = True
        waiters, self._waiters = self._waiters, []
        self._queued = []  # the links are closed: their peers sync again on the next link
        try:
            self.commit()
        except StoreError as exc:
            _release(waiters, exc)
            raise
        _release(waiters)

    def flush(self) -> None:
        """End of a turn: commit, release the waiters, then send what waited on the commit."""
        self._scheduled = False
        if self._closed:
            return
        if self._waiters:
            self._note_shared(len(self._waiters))
            self._alone = len(self._waiters) == 1
        try:
            self.commit()
        except Exception as exc:
            self.fail(exc)
            return
        waiters, self._waiters = self._waiters, []
        queued, self._queued = self._queued, []
        _release(waiters)  # committed: released whatever a link does from here on
        if queued:
            # After the steps that set_result just scheduled: a command's answer leaves first,
            # and its client turns round while the records are encrypted and written.
            asyncio.get_running_loop().call_soon(self._send, queued)

    def _note_shared(self, commands: int) -> None:
        now = asyncio.get_running_loop().time()
        if commands >= self._peak or now >= self._peak_until:
            self._peak, self._peak_until = commands, now + GROUP_WINDOW

    @staticmethod
    def _send(queued: list[tuple[PeerLink, bytes]]) -> None:
        by_link: dict[PeerLink, list[bytes]] = {}
        for link, record in queued:
            by_link.setdefault(link, []).append(record)
        for link, records in by_link.items():
            try:
                link.send_records(records)
            except Exception as exc:
                log.warning("closing link to %s: cannot send: %s",
                            format_addr(link.address), exc)
                link.close(f"cannot send: {exc}")

    def fail(self, exc: Exception) -> None:
        """A write or the commit failed: undo this turn, tell its waiters, drop its records."""
        # StorageHealth says it loudly once; every failed turn after that is detail.
        log.debug("could not commit to the database: %s", exc)
        waiters, self._waiters = self._waiters, []
        dropped, self._queued = len(self._queued), []
        try:
            self._store().rollback()
        except StoreError as rollback_exc:
            log.error("could not roll back either: %s", rollback_exc)
        if dropped:
            log.debug("dropped %d records that depended on the failed commit", dropped)
        _release(waiters, exc)
        if self._on_failed is not None:
            self._on_failed(exc)


def _release(waiters: list[asyncio.Future[None]], failed: Exception | None = None) -> None:
    """Tell commands awaiting `durable()` that their commit is made, or that it `failed`."""
    for waiter in waiters:
        if waiter.done():
            continue
        if failed is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(CommandError("storage", f"could not save: {failed}"))
