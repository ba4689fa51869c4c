"""The store calls and the outbox behaviour the fast message path relies on (issue #13).

Nothing here measures time: the figures come from `python -m bench`."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2pchat.core.messages import (
    Envelope,
    SyncVector,
    decode_record,
    encode_record,
    encode_text,
    envelope_hash,
)
from p2pchat.node.config import CommandError
from p2pchat.node.outbox import Outbox
from p2pchat.storage.store import Store
from tests.aio import turns, until
from tests.unit.test_store import CONV, ME, NOW, PEER, make_log, open_store


@pytest.fixture
def dm(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "p2pchat.db")
    store.conversations.ensure_dm(CONV, PEER)
    store.commit()
    yield store
    store.close()


def committed_peer_seq(path: Path) -> int | None:
    """What another connection sees: only committed writes."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT max(seq) FROM peer_seqs").fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()


def test_envelopes_stop_at_max_bytes_but_return_at_least_one(dm: Store) -> None:
    log = make_log(ME, list(range(1, 11)))
    for env in log:
        dm.conversations.insert_envelope(env, NOW, own=True)
    assert dm.conversations.envelopes(CONV, ME, 1, 10, max_bytes=10**9) == log
    assert dm.conversations.envelopes(CONV, ME, 1, 10, max_bytes=1) == log[:1]
    some = dm.conversations.envelopes(CONV, ME, 1, 10, max_bytes=250)
    assert 1 < len(some) < len(log)
    assert some == log[: len(some)]
    assert dm.conversations.envelopes(CONV, ME, 3, 10, limit=2, max_bytes=10**9) == log[2:4]


def test_hashes_are_the_message_ids_in_seq_order(dm: Store) -> None:
    log = make_log(ME, [1, 2, 3, 4])
    for env in reversed(log):
        dm.conversations.insert_envelope(env, NOW, own=True)
    assert dm.conversations.hashes(CONV, ME, 2, 3) == [envelope_hash(e) for e in log[1:3]]
    assert dm.conversations.hashes(CONV, PEER, 1, 9) == []


def test_an_own_message_can_be_stored_as_sent_in_its_insert(dm: Store) -> None:
    mine = make_log(ME, [1, 2])
    dm.conversations.insert_envelope(mine[0], NOW, own=True, sent=True)
    dm.conversations.insert_envelope(mine[1], NOW, own=True)
    theirs = make_log(PEER, [3])[0]
    # `sent` means nothing for theirs
    dm.conversations.insert_envelope(theirs, NOW, own=False, sent=True)
    statuses = {(m.envelope.author, m.envelope.seq): (m.sent, m.status)
                for m in dm.conversations.history(CONV)}
    assert statuses == {(ME, 1): (True, "sent"), (ME, 2): (False, "queued"),
                        (PEER, 1): (False, None)}


def test_contact_state_alone(dm: Store) -> None:
    assert dm.contacts.state_of(PEER) is None
    dm.contacts.add(PEER, "peer", "request")
    assert dm.contacts.state_of(PEER) == "request"
    dm.contacts.set_state(PEER, "contact")
    assert dm.contacts.state_of(PEER) == "contact"


def test_envelope_hash_memo_never_answers_for_another_envelope() -> None:
    a, b = make_log(ME, [1, 2])
    twin = Envelope(conv=a.conv, author=a.author, seq=a.seq, lamport=a.lamport,
                    sent_at=a.sent_at, prev=a.prev, body=a.body)
    other = Envelope(conv=a.conv, author=a.author, seq=a.seq, lamport=a.lamport,
                     sent_at=a.sent_at, prev=a.prev, body=encode_text("something else"))
    first = envelope_hash(a)
    assert envelope_hash(a) == first
    assert envelope_hash(twin) == first
    assert envelope_hash(other) != first
    assert envelope_hash(b) == long_hash(b)
    assert envelope_hash(a) == first == long_hash(a)


def test_encoding_memo_never_answers_for_another_record() -> None:
    a, b = make_log(ME, [1, 2])
    data = encode_record(a)
    assert encode_record(a) is data  # remembered
    assert decode_record(data) == a
    assert encode_record(b) != data
    assert encode_record(a) == data
    vector = SyncVector(conv=CONV, vector={ME: 1})
    assert decode_record(encode_record(vector)) == vector


def long_hash(env: Envelope) -> bytes:
    """The hash computed the long way, past any memo."""
    return hashlib.blake2b(encode_record(env), digest_size=32, person=b"p2pchat-env-v1").digest()


async def test_a_lazy_write_rides_on_the_next_commit(dm: Store) -> None:
    outbox = Outbox(lambda: dm)
    dm.conversations.set_peer_seq(CONV, PEER, ME, 1)
    outbox.schedule_lazy_flush()
    dm.conversations.insert_envelope(make_log(ME, [1])[0], NOW, own=True)
    await asyncio.wait_for(outbox.durable(), 10)  # a send's commit covers the receipt too
    assert committed_peer_seq(dm.path) == 1


async def test_a_lazy_write_alone_is_committed_soon(dm: Store) -> None:
    outbox = Outbox(lambda: dm)
    dm.conversations.set_peer_seq(CONV, PEER, ME, 2)
    outbox.schedule_lazy_flush()
    outbox.schedule_lazy_flush()  # a second receipt in the meantime adds no second timer
    assert committed_peer_seq(dm.path) is None  # nothing forced an fsync for it
    await until(lambda: committed_peer_seq(dm.path) == 2, 10, "the lazy commit")


class CountingStore:
    """The real store, counting the commits that wrote something."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.commits = 0

    def commit(self) -> bool:
        wrote = self.store.commit()
        self.commits += wrote
        return wrote


def write(store: Store, seq: int) -> None:
    """Something for a commit to carry: one more acknowledged seq."""
    store.conversations.set_peer_seq(CONV, PEER, ME, seq)


def holding(dm: Store, monkeypatch: pytest.MonkeyPatch,
            hold: float) -> tuple[CountingStore, Outbox]:
    """An outbox over the real store whose commits are counted, holding commits `hold` s. What
    it learns of how many commands come together it remembers for an hour, not 20 ms, so a slow
    test run cannot make it forget."""
    monkeypatch.setattr("p2pchat.node.outbox.COMMIT_DELAY", hold)
    monkeypatch.setattr("p2pchat.node.outbox.GROUP_WINDOW", 3600.0)
    counting = CountingStore(dm)
    return counting, Outbox(lambda: counting)  # type: ignore[arg-type, return-value]


async def together(outbox: Outbox, commands: int) -> None:
    """`commands` commands awaiting their commit in one turn (so the outbox learns the size)."""
    await asyncio.wait_for(asyncio.gather(*(outbox.durable() for _ in range(commands))), 10)


async def test_a_lone_command_is_never_held(dm: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counting, outbox = holding(dm, monkeypatch, 3600.0)  # a hold would never end
    for seq in range(1, 4):
        write(dm, seq)
        await asyncio.wait_for(outbox.durable(), 10)
    assert counting.commits == 3
    assert committed_peer_seq(dm.path) == 3


async def test_a_lone_command_after_a_lone_commit_is_committed_without_a_turn(
        dm: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counting, outbox = holding(dm, monkeypatch, 3600.0)
    write(dm, 1)
    await outbox.durable()  # the first: committed at its turn's end
    turned: list[str] = []
    asyncio.get_running_loop().call_soon(turned.append, "a turn")
    write(dm, 2)
    await outbox.durable()  # awaited directly: any yield to the loop would run the callback
    assert turned == []
    assert (counting.commits, committed_peer_seq(dm.path)) == (2, 2)


async def writing(outbox: Outbox, store: Store, seq: int) -> None:
    """A command: it writes, then awaits its commit."""
    write(store, seq)
    await outbox.durable()


@pytest.mark.parametrize("came", [2, 3])
async def test_commands_in_a_lone_commits_turn_share_the_next_and_bring_the_holding_back(
        dm: Store, monkeypatch: pytest.MonkeyPatch, came: int) -> None:
    counting, outbox = holding(dm, monkeypatch, 3600.0)
    await writing(outbox, dm, 1)
    seqs = range(2, 2 + came)
    await asyncio.wait_for(asyncio.gather(*(writing(outbox, dm, seq) for seq in seqs)), 10)
    # The first was committed at once; the others that came in its turn share the turn's commit.
    assert (counting.commits, committed_peer_seq(dm.path)) == (3, seqs[-1])
    # They came together, so the next command waits for as many.
    write(dm, 2 + came)
    first = asyncio.ensure_future(outbox.durable())
    await turns()
    assert not first.done() and committed_peer_seq(dm.path) == seqs[-1]
    others = [outbox.durable() for _ in range(came - 1)]
    await asyncio.wait_for(asyncio.gather(first, *others), 10)
    assert (counting.commits, committed_peer_seq(dm.path)) == (4, 2 + came)


async def test_commands_that_come_together_share_one_commit(
        dm: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counting, outbox = holding(dm, monkeypatch, 3600.0)
    write(dm, 1)
    await together(outbox, 3)
    assert counting.commits == 1
    # Then they come back one at a time: the first two wait for the third.
    write(dm, 2)
    first = asyncio.ensure_future(outbox.durable())
    second = asyncio.ensure_future(outbox.durable())
    await turns()  # no time passes: the hold would last an hour
    assert not first.done() and not second.done()
    assert committed_peer_seq(dm.path) == 1  # held, so not on disk yet, and nobody was told
    await asyncio.wait_for(asyncio.gather(first, second, outbox.durable()), 10)
    assert counting.commits == 2
    assert committed_peer_seq(dm.path) == 2


async def test_a_held_commit_goes_when_the_others_do_not_come(
        dm: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counting, outbox = holding(dm, monkeypatch, 0.01)
    write(dm, 1)
    await together(outbox, 3)
    write(dm, 2)
    await asyncio.wait_for(outbox.durable(), 10)  # alone after all: committed after the hold
    assert committed_peer_seq(dm.path) == 2
    # Having waited once in vain, the outbox expects one command again and holds no more.
    monkeypatch.setattr("p2pchat.node.outbox.COMMIT_DELAY", 3600.0)
    write(dm, 3)
    await asyncio.wait_for(outbox.durable(), 10)
    assert (counting.commits, committed_peer_seq(dm.path)) == (3, 3)


async def test_a_record_a_command_queues_waits_for_its_commit(dm: Store) -> None:
    """`awaited`: the command's durable() makes the commit; nothing is flushed before it."""
    outbox = Outbox(lambda: dm)
    write(dm, 1)
    outbox.queue(object(), SyncVector(conv=CONV), awaited=True)  # type: ignore[arg-type]
    await turns()
    assert committed_peer_seq(dm.path) is None


async def test_closing_commits_and_releases_a_held_command_then_does_nothing_more(
        dm: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counting, outbox = holding(dm, monkeypatch, 3600.0)
    write(dm, 1)
    await together(outbox, 3)
    write(dm, 2)
    held = asyncio.ensure_future(outbox.durable())  # waits for two more that never come
    await turns()
    assert not held.done()
    outbox.close()  # the node stops
    await asyncio.wait_for(held, 10)  # released, its write on disk
    assert (counting.commits, committed_peer_seq(dm.path)) == (2, 2)
    # A timer that fires later (a receipt's wait) finds nothing to do, not a closed store.
    write(dm, 3)
    outbox.schedule_flush()
    outbox.flush()
    await turns()
    assert (counting.commits, committed_peer_seq(dm.path)) == (2, 2)
    with pytest.raises(CommandError, match="stopped"):
        await outbox.durable()
