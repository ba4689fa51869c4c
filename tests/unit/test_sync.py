"""Per-author logs and vector sync: unit cases plus a convergence property over a lossy network."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core.messages import (
    MAX_REQUEST_SPAN,
    ZERO_HASH,
    Envelope,
    SyncRequest,
    decode_record,
    encode_record,
    envelope_hash,
)
from p2pchat.core.sync import (
    ACK_DELAY,
    ACK_DELAY_MAX,
    AckWait,
    ConversationLog,
    DeliveryState,
    delivery_state,
    display_key,
)

CONV = b"c" * 16
ALICE = b"A" * 32
BOB = b"B" * 32
CAROL = b"C" * 32


def chain(author: bytes, n: int, conv: bytes = CONV) -> list[Envelope]:
    """n envelopes of one author, written by a throwaway log."""
    log = ConversationLog(conv, {}, 0)
    return [log.append_local(author, f"m{i}".encode(), 1000 + i) for i in range(1, n + 1)]


# --- local append -------------------------------------------------------------------------------


def test_append_local_chains_and_ticks() -> None:
    log = ConversationLog(CONV, {}, 0)
    first = log.append_local(ALICE, b"one", 10)
    second = log.append_local(ALICE, b"two", 11)
    assert (first.seq, first.lamport, first.prev) == (1, 1, ZERO_HASH)
    assert (second.seq, second.lamport, second.prev) == (2, 2, envelope_hash(first))
    assert log.vector() == {ALICE: 2}
    assert log.head(ALICE) == (2, envelope_hash(second))
    assert log.lamport == 2


def test_log_resumes_from_stored_heads() -> None:
    envs = chain(ALICE, 3)
    log = ConversationLog(CONV, {ALICE: (3, envelope_hash(envs[-1]))}, lamport=7)
    nxt = log.append_local(ALICE, b"four", 0)
    assert (nxt.seq, nxt.lamport, nxt.prev) == (4, 8, envelope_hash(envs[-1]))


def test_lamport_follows_received_messages() -> None:
    log = ConversationLog(CONV, {}, 0)
    bob = ConversationLog(CONV, {}, 40)
    incoming = bob.append_local(BOB, b"hi", 0)
    assert incoming.lamport == 41
    assert log.receive(incoming).accepted == [incoming]
    mine = log.append_local(ALICE, b"reply", 0)
    assert mine.lamport == 42
    assert display_key(incoming) < display_key(mine)


# --- receive ------------------------------------------------------------------------------------


def test_in_order_receive_and_duplicates() -> None:
    envs = chain(BOB, 2)
    log = ConversationLog(CONV, {}, 0)
    r = log.receive(envs[0])
    assert r.accepted == [envs[0]] and not r.duplicate and r.error is None and not r.requests
    r = log.receive(envs[0])
    assert r.duplicate and not r.accepted and r.error is None
    assert log.receive(envs[1]).accepted == [envs[1]]
    r = log.receive(envs[0])  # below the head
    assert r.duplicate and not r.accepted


def test_gap_is_buffered_requested_once_then_filled() -> None:
    envs = chain(BOB, 6)
    log = ConversationLog(CONV, {}, 0)
    r = log.receive(envs[3])  # seq 4
    assert r.buffered and not r.accepted
    assert r.requests == [SyncRequest(CONV, BOB, 1, 3)]
    r = log.receive(envs[4])  # seq 5: gap 1..3 already asked for
    assert r.buffered and r.requests == []
    r = log.receive(envs[4])
    assert r.duplicate and not r.buffered
    assert log.vector() == {}
    assert log.receive(envs[1]).requests == []  # seq 2, still covered by the first request
    r = log.receive(envs[0])
    assert r.accepted == envs[0:2]
    r = log.receive(envs[2])
    assert r.accepted == envs[2:5]
    assert log.vector() == {BOB: 5}
    assert log.pending_count == 0
    assert log.receive(envs[5]).accepted == [envs[5]]


def test_outstanding_gaps_are_asked_again_only_on_repair() -> None:
    envs = chain(BOB, 5)
    log = ConversationLog(CONV, {}, 0)
    assert log.receive(envs[3]).requests == [SyncRequest(CONV, BOB, 1, 3)]
    assert log.receive(envs[4]).requests == []  # 1..3 still outstanding
    # A vector exchange is the repair path: it asks again, for what that peer holds.
    assert log.wanted_from({BOB: 2}) == [SyncRequest(CONV, BOB, 1, 2)]
    assert log.wanted_from({BOB: 5}) == [SyncRequest(CONV, BOB, 1, 3)]


def test_forget_outstanding_lets_receive_ask_again() -> None:
    envs = chain(BOB, 6)
    log = ConversationLog(CONV, {}, 0)
    assert log.receive(envs[3]).requests == [SyncRequest(CONV, BOB, 1, 3)]
    log.forget_outstanding()  # the link that carried the request closed
    assert log.receive(envs[5]).requests == [
        SyncRequest(CONV, BOB, 1, 3),
        SyncRequest(CONV, BOB, 5, 5),
    ]


def test_forged_prev_hash_is_refused() -> None:
    envs = chain(BOB, 3)
    log = ConversationLog(CONV, {}, 0)
    log.receive(envs[0])
    forged = Envelope(CONV, BOB, 2, 2, 0, b"\x66" * 32, b"evil")
    r = log.receive(forged)
    assert r.error is not None and "prev" in r.error
    assert not r.accepted and log.vector() == {BOB: 1}
    # The real one is still welcome.
    assert log.receive(envs[1]).accepted == [envs[1]]


def test_forged_prev_hash_in_buffer_is_refused_on_drain() -> None:
    envs = chain(BOB, 4)
    log = ConversationLog(CONV, {}, 0)
    forged = Envelope(CONV, BOB, 2, 2, 0, b"\x66" * 32, b"evil")
    log.receive(forged)
    log.receive(envs[2])
    r = log.receive(envs[0])
    assert r.accepted == [envs[0]]
    assert r.error is not None and "prev" in r.error
    assert r.requests == [SyncRequest(CONV, BOB, 2, 2)]  # ask for the real seq 2
    r = log.receive(envs[1])
    assert r.accepted == envs[1:3] and r.error is None
    assert log.vector() == {BOB: 3}


def test_fork_at_head_is_reported() -> None:
    envs = chain(BOB, 1)
    log = ConversationLog(CONV, {}, 0)
    log.receive(envs[0])
    other = Envelope(CONV, BOB, 1, 1, 0, ZERO_HASH, b"other body")
    r = log.receive(other)
    assert not r.duplicate and r.error is not None and "fork" in r.error


def test_conflicting_buffered_envelope_is_reported() -> None:
    envs = chain(BOB, 3)
    log = ConversationLog(CONV, {}, 0)
    log.receive(envs[2])
    r = log.receive(Envelope(CONV, BOB, 3, 3, 0, b"\x01" * 32, b"x"))
    assert r.error is not None and "fork" in r.error
    assert log.pending_count == 1


def test_wrong_conversation_and_huge_lamport_are_refused() -> None:
    log = ConversationLog(CONV, {}, 0)
    other = chain(BOB, 1, conv=b"x" * 16)[0]
    assert log.receive(other).error is not None
    huge = Envelope(CONV, BOB, 1, 2**62, 0, ZERO_HASH, b"")
    assert log.receive(huge).error is not None
    assert log.vector() == {} and log.lamport == 0


def test_buffering_is_bounded() -> None:
    bob, carol = chain(BOB, 30), chain(CAROL, 30)
    log = ConversationLog(CONV, {}, 0, max_pending=4)
    # One author: only a window (max_pending seqs past the head) is buffered.
    buffered = [log.receive(e).buffered for e in bob[1:]]
    assert buffered == [True] * 3 + [False] * 26
    # Across authors the total is capped.
    buffered = [log.receive(e).buffered for e in carol[1:4]]
    assert buffered == [True, False, False]
    assert log.pending_count == 4
    r = log.receive(bob[0])
    assert r.accepted == bob[:4]
    assert log.pending_count == 1
    # The dropped ones are asked for again, a window at a time, and then accepted.
    assert r.requests == [SyncRequest(CONV, BOB, 5, 8)]
    for env in bob[4:8]:
        assert log.receive(env).accepted == [env]
    assert log.vector() == {BOB: 8}
    r = log.receive(carol[0])
    assert r.accepted == carol[:2]
    assert r.requests == [SyncRequest(CONV, CAROL, 3, 4)]


def test_far_future_envelope_is_not_buffered_but_remembered() -> None:
    envs = chain(BOB, 2000)
    log = ConversationLog(CONV, {}, 0)
    r = log.receive(envs[-1])
    assert not r.buffered and log.pending_count == 0
    assert r.requests == [SyncRequest(CONV, BOB, 1, MAX_REQUEST_SPAN)]


def test_pipelined_catch_up_makes_few_requests() -> None:
    envs = chain(BOB, 3000)
    log = ConversationLog(CONV, {}, 0)
    requests = log.wanted_from({BOB: 3000})
    assert requests == [SyncRequest(CONV, BOB, 1, 1024)]
    for env in envs:
        r = log.receive(env)
        assert r.accepted == [env]
        requests.extend(r.requests)
    assert log.vector() == {BOB: 3000}
    covered = [seq for req in requests for seq in range(req.first, req.last + 1)]
    assert covered == list(range(1, 3001))  # every seq asked for exactly once
    assert len(requests) <= 8


def test_missing_for_wanted_from_and_clip() -> None:
    a = ConversationLog(CONV, {}, 0)
    for _ in range(3):
        a.append_local(ALICE, b"a", 0)
    a.append_local(CAROL, b"c", 0)
    assert a.missing_for({ALICE: 1, BOB: 9}) == [(ALICE, 2, 3), (CAROL, 1, 1)]
    assert a.missing_for({ALICE: 5, CAROL: 1}) == []
    assert a.wanted_from({ALICE: 3, BOB: 2}) == [SyncRequest(CONV, BOB, 1, 2)]
    assert a.clip_request(SyncRequest(CONV, ALICE, 2, 10)) == (2, 3)
    assert a.clip_request(SyncRequest(CONV, ALICE, 4, 10)) is None
    assert a.clip_request(SyncRequest(CONV, BOB, 1, 1)) is None
    assert a.clip_request(SyncRequest(b"z" * 16, ALICE, 1, 1)) is None


def test_delivery_state_from_vectors() -> None:
    log = ConversationLog(CONV, {}, 0)
    for _ in range(3):
        log.append_local(ALICE, b"x", 0)
    assert log.delivered_upto({ALICE: 2}, ALICE) == 2
    assert log.delivered_upto({ALICE: 99}, ALICE) == 3  # a bogus claim is clamped
    assert log.delivered_upto({}, ALICE) == 0
    assert delivery_state(1, sent=True, delivered_upto=2) is DeliveryState.DELIVERED
    assert delivery_state(3, sent=True, delivered_upto=2) is DeliveryState.SENT
    assert delivery_state(3, sent=False, delivered_upto=2) is DeliveryState.QUEUED


def test_bad_max_pending() -> None:
    with pytest.raises(ValueError):
        ConversationLog(CONV, {}, 0, max_pending=-1)


# --- convergence property -----------------------------------------------------------------------


@dataclass
class Replica:
    """One node: its log plus the store the node would keep (what receive/append handed it)."""

    author: bytes
    log: ConversationLog
    store: dict[tuple[bytes, int], Envelope] = field(default_factory=dict)
    shown: list[Envelope] = field(default_factory=list)

    def keep(self, envs: list[Envelope]) -> None:
        for env in envs:
            key = (env.author, env.seq)
            assert key not in self.store, "an envelope was accepted twice"
            # Per-author order: each accepted envelope is the next of its author.
            assert env.seq == 1 or (env.author, env.seq - 1) in self.store
            self.store[key] = env
            self.shown.append(env)

    def serve(self, req: SyncRequest) -> list[Envelope]:
        span = self.log.clip_request(req)
        if span is None:
            return []
        return [self.store[(req.author, seq)] for seq in range(span[0], span[1] + 1)]

    def range(self, author: bytes, first: int, last: int) -> list[Envelope]:
        return [self.store[(author, seq)] for seq in range(first, last + 1)]


# In flight: (destination, source, payload) where the payload is an envelope or a request.
Packet = tuple[int, int, Envelope | SyncRequest]


def _wire(env: Envelope) -> Envelope:
    """Envelopes cross the network as bytes; make sure the codec is part of the loop."""
    out = decode_record(encode_record(env))
    assert isinstance(out, Envelope)
    return out


def _deliver(replicas: list[Replica], packet: Packet, net: list[Packet]) -> None:
    dst, src, payload = packet
    node = replicas[dst]
    if isinstance(payload, SyncRequest):
        net.extend((src, dst, env) for env in node.serve(payload))
        return
    result = node.log.receive(_wire(payload))
    assert result.error is None, result.error
    node.keep(result.accepted)
    net.extend((src, dst, req) for req in result.requests)


def _repair(replicas: list[Replica], push: bool) -> None:
    """Reliable anti-entropy: every pair swaps vectors and fills in, until quiet.

    With push, a node also sends what missing_for says the other lacks; without it, everything
    must come through wanted_from and the follow-up requests receive returns (pull only)."""
    for node in replicas:
        node.log.forget_outstanding()  # links were lossy: whatever was asked is gone
    for _ in range(20):
        net: list[Packet] = []
        for i, a in enumerate(replicas):
            for j, b in enumerate(replicas):
                if i == j:
                    continue
                vec_b = b.log.vector()
                for author, first, last in a.log.missing_for(vec_b) if push else []:
                    net.extend((j, i, env) for env in a.range(author, first, last))
                # b asks a: the request travels from j to i.
                net.extend((i, j, req) for req in b.log.wanted_from(a.log.vector()))
        if not net:
            return
        steps = 0
        while net:
            steps += 1
            assert steps < 100_000
            _deliver(replicas, net.pop(0), net)
    raise AssertionError("repair did not converge")


@settings(derandomize=True, deadline=None, database=None, max_examples=200)
@given(
    st.integers(min_value=2, max_value=3),
    st.integers(min_value=1, max_value=6),
    st.booleans(),
    st.data(),
)
def test_replicas_converge_despite_loss_duplication_and_reordering(
    n: int, max_pending: int, push: bool, data: st.DataObject
) -> None:
    authors = [bytes([65 + i]) * 32 for i in range(n)]
    replicas = [Replica(a, ConversationLog(CONV, {}, 0, max_pending=max_pending)) for a in authors]
    net: list[Packet] = []
    appended = 0
    steps = data.draw(st.integers(min_value=0, max_value=80))
    for _ in range(steps):
        action = data.draw(st.sampled_from(["append", "gossip", "deliver", "dup", "drop"]))
        if action == "append":
            i = data.draw(st.integers(0, n - 1))
            env = replicas[i].log.append_local(authors[i], b"x%d" % len(net), 0)
            replicas[i].keep([env])
            appended += 1
            # Push to everyone else (each copy may later be lost, duplicated or reordered).
            net.extend((j, i, env) for j in range(n) if j != i)
        elif action == "gossip":
            # Any node forwards something it holds, as group members do.
            i = data.draw(st.integers(0, n - 1))
            j = data.draw(st.integers(0, n - 1))
            if i != j and replicas[i].store:
                key = data.draw(st.sampled_from(sorted(replicas[i].store)))
                net.append((j, i, replicas[i].store[key]))
        elif net:
            k = data.draw(st.integers(0, len(net) - 1))
            if action == "deliver":
                _deliver(replicas, net.pop(k), net)
            elif action == "dup":
                _deliver(replicas, net[k], net)
            else:
                net.pop(k)
    _repair(replicas, push)

    stores = [r.store for r in replicas]
    assert all(s == stores[0] for s in stores)
    vectors = [r.log.vector() for r in replicas]
    assert all(v == vectors[0] for v in vectors)
    for replica in replicas:
        assert replica.log.pending_count <= max_pending
        # Every author's log is a contiguous hash chain.
        for author, head in replica.log.vector().items():
            prev = ZERO_HASH
            for seq in range(1, head + 1):
                env = replica.store[(author, seq)]
                assert env.prev == prev
                prev = envelope_hash(env)
            assert replica.log.head(author) == (head, prev)
        # Same display order everywhere.
        assert sorted(replica.shown, key=display_key) == sorted(replicas[0].shown, key=display_key)
    assert len(stores[0]) == appended  # nothing lost


# --- when a receiver acknowledges ---------------------------------------------------------------


def ack_time(arrivals: list[float]) -> float:
    """When the vector for a burst goes, the first envelope accepted at arrivals[0]: each wait
    ends ACK_DELAY after the last one began, as the node's timer does."""
    wait = AckWait(started=arrivals[0])
    pending = sorted(arrivals[1:])
    end = arrivals[0] + ACK_DELAY
    for _ in range(10_000):  # bounded: a wait is renewed at most ACK_DELAY_MAX / ACK_DELAY times
        while pending and pending[0] <= end:
            pending.pop(0)
            wait.more += 1
        if not wait.again(end):
            return end
        end += ACK_DELAY
    raise AssertionError("the wait never ended")


def test_a_lone_envelope_is_acknowledged_after_one_wait() -> None:
    assert ack_time([10.0]) == 10.0 + ACK_DELAY


def test_a_burst_that_stops_is_acknowledged_one_wait_after_its_last_envelope() -> None:
    # Three envelopes inside the first wait, one inside the second: the third wait finds none.
    arrivals = [10.0, 10.001, 10.002, 10.0 + ACK_DELAY * 1.5]
    assert ack_time(arrivals) == pytest.approx(10.0 + 3 * ACK_DELAY)


def test_a_stream_is_acknowledged_once_per_longest_wait() -> None:
    arrivals = [10.0 + i * ACK_DELAY / 4 for i in range(1000)]  # never a quiet wait
    assert 10.0 + ACK_DELAY_MAX - ACK_DELAY < ack_time(arrivals) <= 10.0 + ACK_DELAY_MAX + 1e-9


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60))
def test_the_vector_waits_for_a_quiet_wait_or_the_longest_wait(offsets: list[float]) -> None:
    arrivals = [100.0] + [100.0 + offset for offset in offsets]
    sent = ack_time(arrivals)
    assert 100.0 + ACK_DELAY <= sent <= 100.0 + ACK_DELAY_MAX + 1e-9
    # It went because the last wait was quiet, or because another would pass the longest wait.
    quiet = not any(sent - ACK_DELAY < t <= sent for t in arrivals[1:])
    assert quiet or sent + ACK_DELAY > 100.0 + ACK_DELAY_MAX - 1e-9
