"""The sans-IO peer session: handshakes, transport, rekey, timers, and hostile input.

Everything is deterministic: identities come from fixed seeds, every session draws its
ephemeral keys from a seeded PRNG, time is a number we pass in, and hypothesis runs
derandomized. `Pair` moves bytes between two sessions the way h11's tests' ConnectionPair does.
"""

from __future__ import annotations

import itertools
import random as pyrandom
import struct
from collections.abc import Callable, Iterable

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import ProtocolError
from p2pchat.core.framing import encode_frame
from p2pchat.core.identity import Identity, x25519_from_ed25519_public
from p2pchat.core.noise import CipherState, HandshakeState
from p2pchat.core.session import (
    IK_PROTOCOL,
    KIND_IK1,
    KIND_RETRY_XX,
    KIND_XX1,
    KIND_XX2,
    MAX_CHUNK,
    MAX_IK_TIMESTAMP,
    PROLOGUE_PREFIX,
    T_DATA_FINAL,
    T_DATA_MORE,
    T_KEEPALIVE,
    XX_PROTOCOL,
    Closed,
    Established,
    Event,
    KeyMismatch,
    LocalProtocolError,
    RecordReceived,
    ReplayGuard,
    Session,
    SessionConfig,
)

ALICE = Identity.from_seed(b"\x01" * 32)
BOB = Identity.from_seed(b"\x02" * 32)
CAROL = Identity.from_seed(b"\x03" * 32)

PROPERTY = settings(
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)


def rng(seed: int) -> Callable[[int], bytes]:
    return pyrandom.Random(seed).randbytes


def initiator(
    remote: Identity | None = None,
    *,
    me: Identity = ALICE,
    ts: int = 1,
    config: SessionConfig | None = None,
    now: float = 0.0,
    seed: int = 1,
) -> Session:
    return Session(
        identity=me,
        initiator=True,
        now=now,
        remote_key=None if remote is None else remote.public_key,
        ik_timestamp=ts,
        config=config or SessionConfig(),
        random=rng(seed),
    )


def responder(
    *,
    me: Identity = BOB,
    guard: ReplayGuard | None = None,
    allow_xx: bool = True,
    config: SessionConfig | None = None,
    now: float = 0.0,
    seed: int = 2,
) -> Session:
    return Session(
        identity=me,
        initiator=False,
        now=now,
        replay_guard=guard,
        allow_xx=allow_xx,
        config=config or SessionConfig(),
        random=rng(seed),
    )


class Pair:
    """Two sessions and the wire between them; events are collected per side."""

    def __init__(self, a: Session, b: Session) -> None:
        self.a, self.b = a, b
        self.a_events: list[Event] = []
        self.b_events: list[Event] = []

    def a_to_b(self, now: float = 0.0) -> bytes:
        data = self.a.data_to_send()
        if data:
            self.b_events += self.b.receive_data(data, now)
        return data

    def b_to_a(self, now: float = 0.0) -> bytes:
        data = self.b.data_to_send()
        if data:
            self.a_events += self.a.receive_data(data, now)
        return data

    def pump(self, now: float = 0.0) -> None:
        for _ in range(100):  # bounded: a correct exchange settles in a few rounds
            if not (self.a_to_b(now) or self.b_to_a(now)):
                return
        raise AssertionError("sessions kept talking")

    def records(self, side: str) -> list[bytes]:
        events = self.a_events if side == "a" else self.b_events
        return [e.record for e in events if isinstance(e, RecordReceived)]


def established_pair(
    remote: Identity | None = None,
    *,
    a_config: SessionConfig | None = None,
    b_config: SessionConfig | None = None,
) -> Pair:
    pair = Pair(initiator(remote, config=a_config), responder(config=b_config))
    pair.pump()
    assert pair.a.established and pair.b.established
    return pair


def split_frames(data: bytes) -> list[bytes]:
    """Cut a byte stream into its frames, each still with its 2-byte length prefix."""
    frames, pos = [], 0
    while pos < len(data):
        (size,) = struct.unpack_from(">H", data, pos)
        frames.append(data[pos : pos + 2 + size])
        pos += 2 + size
    assert pos == len(data)
    return frames


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def closed_reasons(events: Iterable[Event]) -> list[str]:
    return [e.reason for e in events if isinstance(e, Closed)]


# ---------------------------------------------------------------------------------------------
# Handshakes
# ---------------------------------------------------------------------------------------------


def test_initiator_bytes_are_ready_at_once() -> None:
    a = initiator()
    first = a.data_to_send()
    [frame] = split_frames(first)
    assert frame[2] == KIND_XX1 and len(frame) == 2 + 1 + 32 + 1  # e + empty map, in clear
    assert a.data_to_send() == b""
    assert not a.established and not a.closed and a.remote_key is None


@pytest.mark.parametrize(("remote", "pattern"), [(None, "XX"), (BOB, "IK")])
def test_handshake_completes_and_records_flow_both_ways(
    remote: Identity | None, pattern: str
) -> None:
    pair = established_pair(remote)
    [a_est] = pair.a_events
    [b_est] = pair.b_events
    assert isinstance(a_est, Established) and isinstance(b_est, Established)
    assert a_est.remote_key == BOB.public_key and b_est.remote_key == ALICE.public_key
    assert a_est.pattern == b_est.pattern == pattern
    assert a_est.handshake_hash == b_est.handshake_hash == pair.a.handshake_hash
    assert len(a_est.handshake_hash) == 64
    assert pair.a.remote_key == BOB.public_key and pair.b.remote_key == ALICE.public_key

    pair.a.send_record(b"hello bob", 0.0)
    pair.b.send_record(b"hello alice", 0.0)
    pair.b.send_record(b"", 0.0)  # the empty record is a record too
    pair.pump()
    assert pair.records("b") == [b"hello bob"]
    assert pair.records("a") == [b"hello alice", b""]


def test_ik_is_one_round_trip_and_the_responder_waits_for_key_confirmation() -> None:
    pair = Pair(initiator(BOB), responder())
    pair.a_to_b()
    assert not pair.b.established  # an IK1 alone could be a replay
    pair.b_to_a()
    assert pair.a.established  # the initiator is done after one round trip...
    pair.a.send_record(b"early", 0.0)  # ...and may send at once
    pair.a_to_b()  # its key confirmation, then the record
    assert pair.b.established
    assert [type(e) for e in pair.b_events] == [Established, RecordReceived]
    assert pair.records("b") == [b"early"]


def test_a_replayed_ik1_that_the_guard_forgot_never_establishes() -> None:
    # The guard kept nothing (a restart without a store, or an eviction): the replay passes the
    # timestamp check, but the replayer holds no keys, so no transport message ever comes.
    ik1 = initiator(BOB, ts=100).data_to_send()
    fresh = responder(guard=ReplayGuard(), config=SessionConfig(handshake_timeout=5.0))
    assert fresh.receive_data(ik1, 0.0) == []
    assert fresh.data_to_send()  # IK2, to nobody who can read it
    assert not fresh.established
    with pytest.raises(LocalProtocolError):
        fresh.send_record(b"for alice's eyes", 0.0)
    events = fresh.tick(5.0)
    assert [type(e) for e in events] == [Closed] and fresh.closed


def test_ik_to_a_different_key_falls_back_to_xx_and_reports_key_mismatch() -> None:
    # Alice believes Carol lives at this address; Bob answers.
    pair = Pair(initiator(CAROL), responder())
    pair.a_to_b()
    [retry] = split_frames(pair.b.data_to_send())
    assert retry == encode_frame(bytes([KIND_RETRY_XX]))
    pair.a_events += pair.a.receive_data(retry, 0.0)
    pair.pump()
    mismatch, closed = pair.a_events
    assert mismatch == KeyMismatch(expected=CAROL.public_key, presented=BOB.public_key)
    assert isinstance(closed, Closed) and "different key" in closed.reason
    assert pair.a.closed and not pair.a.established and pair.a.remote_key is None
    # Alice stopped before XX's third message: Bob never learnt who dialled him.
    assert not pair.b.established and pair.b.remote_key is None
    assert pair.b.receive_data(b"", 0.0) == [Closed("connection closed by peer during handshake")]


def test_ik_fallback_to_xx_completes_when_the_key_is_right() -> None:
    # The responder refuses the IK message (the timestamp went backwards, e.g. a clock reset);
    # XX then proves the same key, and the link comes up.
    guard = ReplayGuard({ALICE.public_key: 1000})
    pair = Pair(initiator(BOB, ts=5), responder(guard=guard))
    pair.pump()
    assert pair.a.established and pair.b.established
    assert [type(e) for e in pair.a_events] == [Established]
    assert pair.a_events[0] == Established(BOB.public_key, pair.a.handshake_hash or b"", "XX")
    assert guard.latest[ALICE.public_key] == 1000


def test_private_responder_refuses_xx_silently() -> None:
    pair = Pair(initiator(), responder(allow_xx=False))
    pair.a_to_b()
    assert pair.b.closed and pair.b.data_to_send() == b""
    [reason] = closed_reasons(pair.b_events)
    assert "XX handshake refused" in reason
    assert pair.a.receive_data(b"", 0.0) == [Closed("connection closed by peer during handshake")]


def test_private_responder_refuses_ik_fallback_but_takes_good_ik() -> None:
    wrong = Pair(initiator(CAROL), responder(allow_xx=False))
    wrong.a_to_b()
    assert wrong.b.closed and wrong.b.data_to_send() == b""  # no retry offered
    assert "XX not allowed" in closed_reasons(wrong.b_events)[0]

    right = Pair(initiator(BOB), responder(allow_xx=False))
    right.pump()
    assert right.a.established and right.b.established


@pytest.mark.parametrize("allow_xx", [True, False])
def test_replayed_or_older_ik_first_message_is_refused(allow_xx: bool) -> None:
    guard = ReplayGuard()
    first = initiator(BOB, ts=100)
    ik1 = first.data_to_send()
    original = responder(guard=guard, allow_xx=allow_xx)
    assert original.receive_data(ik1, 0.0) == []  # established on key confirmation only
    assert guard.latest == {ALICE.public_key: 100}

    expected_answer = encode_frame(bytes([KIND_RETRY_XX])) if allow_xx else b""
    for attempt in (ik1, initiator(BOB, ts=99, seed=7).data_to_send()):
        fresh = responder(guard=guard, allow_xx=allow_xx, seed=9)
        events = fresh.receive_data(attempt, 0.0)
        assert not any(isinstance(e, Established) for e in events)
        assert fresh.data_to_send() == expected_answer
        assert fresh.closed is not allow_xx
    assert guard.latest == {ALICE.public_key: 100}

    newer = Pair(initiator(BOB, ts=101, seed=11), responder(guard=guard, allow_xx=allow_xx))
    newer.pump()
    assert newer.a.established and newer.b.established
    assert guard.latest == {ALICE.public_key: 101}


def _hand_rolled_ik1(ts: int) -> bytes:
    """Alice's IK first message to Bob carrying any timestamp, even one Session won't write."""
    hs = HandshakeState(IK_PROTOCOL, True, PROLOGUE_PREFIX + IK_PROTOCOL.encode(),
                        s=ALICE.x25519_private, rs=x25519_from_ed25519_public(BOB.public_key),
                        random=rng(5))
    payload = msgpack.packb({"ed25519": ALICE.public_key, "ts": ts, "rekey": 10})
    return encode_frame(bytes([KIND_IK1]) + hs.write_message(payload))


@pytest.mark.parametrize("ts", [MAX_IK_TIMESTAMP + 1, 2**64 - 1])
def test_ik_timestamp_beyond_signed_64_bits_is_refused(ts: int) -> None:
    # The store keeps the guard in an SQLite INTEGER: 2**63 would raise OverflowError there.
    guard = ReplayGuard()
    fresh = responder(guard=guard)
    events = fresh.receive_data(_hand_rolled_ik1(ts), 0.0)
    assert not any(isinstance(e, Established) for e in events)
    assert fresh.data_to_send() == encode_frame(bytes([KIND_RETRY_XX]))
    assert guard.latest == {}
    edge = responder(guard=guard)
    assert edge.receive_data(_hand_rolled_ik1(MAX_IK_TIMESTAMP), 0.0) == []  # IK2 sent, waiting
    assert not edge.closed and edge.data_to_send() != encode_frame(bytes([KIND_RETRY_XX]))
    assert guard.latest == {ALICE.public_key: MAX_IK_TIMESTAMP}
    with pytest.raises(ValueError):
        initiator(BOB, ts=MAX_IK_TIMESTAMP + 1)


def test_replay_guard_bounds_and_persists() -> None:
    guard = ReplayGuard({b"a": 5, b"b": 7}, max_peers=2)
    assert not guard.check_and_update(b"a", 5)
    assert guard.check_and_update(b"a", 6)  # a is now the most recently updated
    assert guard.check_and_update(b"c", 1)  # evicts b, the stalest
    assert guard.latest == {b"a": 6, b"c": 1}
    assert guard.check_and_update(b"b", 0)
    with pytest.raises(ValueError):
        ReplayGuard(max_peers=0)


def test_replay_guard_never_forgets_a_pinned_contact() -> None:
    contact = b"c" * 32
    guard = ReplayGuard({contact: 50}, pinned=[contact], max_peers=100)
    for n in range(1000):  # a flood of throwaway keys
        assert guard.check_and_update(n.to_bytes(32, "big"), 1)
    assert len(guard.latest) == 101
    assert not guard.check_and_update(contact, 50)  # the contact's replay is still refused
    assert guard.pinned_latest() == {contact: 50}
    guard.unpin(contact)  # removed: now an ordinary key, forgotten when it is the stalest
    assert len(guard.latest) == 100
    for n in range(100):
        guard.check_and_update((5000 + n).to_bytes(32, "big"), 1)
    assert contact not in guard.latest and len(guard.latest) == 100


def test_payload_key_must_match_the_noise_static() -> None:
    # A hand-rolled XX responder that proves Bob's static key but claims Carol's Ed25519 key.
    a = initiator()
    fake = HandshakeState(
        XX_PROTOCOL,
        False,
        PROLOGUE_PREFIX + XX_PROTOCOL.encode(),
        s=BOB.x25519_private,
        random=rng(3),
    )
    fake.read_message(split_frames(a.data_to_send())[0][3:])
    payload = msgpack.packb({"ed25519": CAROL.public_key, "rekey": 10})
    reply = encode_frame(bytes([KIND_XX2]) + fake.write_message(payload))
    [closed] = a.receive_data(reply, 0.0)
    assert isinstance(closed, Closed) and "does not match" in closed.reason
    assert not a.established


def test_handshake_frames_out_of_order_are_refused() -> None:
    a = initiator()
    xx1 = a.data_to_send()
    # An initiator never receives an XX1; a responder never receives a retry.
    assert isinstance(initiator().receive_data(xx1, 0.0)[0], Closed)
    retry = encode_frame(bytes([KIND_RETRY_XX]))
    assert isinstance(responder().receive_data(retry, 0.0)[0], Closed)
    # An XX initiator does not accept a retry (fallback happens at most once, from IK).
    assert isinstance(a.receive_data(retry, 0.0)[0], Closed)


def test_local_misuse_raises() -> None:
    a = initiator()
    with pytest.raises(LocalProtocolError):
        a.send_record(b"too early", 0.0)
    with pytest.raises(LocalProtocolError):
        a.rekey_now(0.0)
    with pytest.raises(ValueError):
        Session(identity=BOB, initiator=False, now=0.0, remote_key=ALICE.public_key)
    with pytest.raises(ValueError):
        initiator(BOB, ts=-1)
    with pytest.raises(ValueError):
        initiator(BOB, ts=2**64)
    with pytest.raises(ValueError):  # not an Ed25519 point: caught before anything is sent
        Session(identity=ALICE, initiator=True, now=0.0, remote_key=b"\x02" * 32)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rekey_every": 0},
        {"max_record": -1},
        {"idle_timeout": 0},
        {"keepalive_interval": -1.0},
        {"max_record": 1 << 20, "max_send_buffer": 1 << 20},
    ],
)
def test_config_is_validated(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        SessionConfig(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Hostile and damaged input
# ---------------------------------------------------------------------------------------------


@PROPERTY
@given(
    records=st.lists(st.binary(max_size=200), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20),
    ik=st.booleans(),
)
def test_any_split_of_the_stream_gives_the_same_records(
    records: list[bytes], cuts: list[int], ik: bool
) -> None:
    # The initiator's whole output (handshake end, then records) is fed to the responder in
    # arbitrary pieces; what comes out must not depend on the pieces.
    a = initiator(BOB if ik else None)
    b = responder()
    b.receive_data(a.data_to_send(), 0.0)
    a.receive_data(b.data_to_send(), 0.0)
    for record in records:
        a.send_record(record, 0.0)
    stream = a.data_to_send()
    events: list[Event] = []
    points = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    for start, end in itertools.pairwise(points):
        events += b.receive_data(stream[start:end], 0.0)
    assert [e.record for e in events if isinstance(e, RecordReceived)] == records
    assert not b.closed and b.established


@PROPERTY
@given(
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(0, 600), max_size=5),
    who=st.sampled_from(["responder", "private responder", "XX initiator", "IK initiator"]),
)
def test_random_bytes_to_a_fresh_session_only_ever_close(
    data: bytes, cuts: list[int], who: str
) -> None:
    makers: dict[str, Callable[[], Session]] = {
        "responder": responder,
        "private responder": lambda: responder(allow_xx=False),
        "XX initiator": initiator,
        "IK initiator": lambda: initiator(BOB),
    }
    b = makers[who]()
    events: list[Event] = []
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    for start, end in itertools.pairwise(points):
        events += b.receive_data(data[start:end], 0.0)  # never raises
    events += b.receive_data(b"", 0.0)
    assert all(isinstance(e, Closed) for e in events)
    assert len(events) == 1 and b.closed and not b.established


@PROPERTY
@given(garbage=st.binary(min_size=1, max_size=300))
def test_random_frames_after_established_close_the_link(garbage: bytes) -> None:
    pair = established_pair()
    events = pair.b.receive_data(encode_frame(garbage), 0.0)
    assert len(events) == 1 and isinstance(events[0], Closed)
    # The responder told Alice why, under the still-valid keys.
    pair.b_to_a()
    assert closed_reasons(pair.a_events) == [f"closed by peer: {events[0].reason}"]


def _run_handshake_with_flip(remote: Identity | None, index: int, bit: int, allow_xx: bool) -> Pair:
    """Run a handshake frame by frame, flipping one bit of the `index`-th frame sent."""
    pair = Pair(initiator(remote), responder(allow_xx=allow_xx))
    sent = 0
    for _ in range(10):
        moved = False
        for src, dst, sink in (
            (pair.a, pair.b, pair.b_events),
            (pair.b, pair.a, pair.a_events),
        ):
            for frame in split_frames(src.data_to_send()):
                moved = True
                if sent == index:
                    frame = flip(frame, bit % (8 * len(frame)))
                sent += 1
                sink += dst.receive_data(frame, 0.0)
        if not moved:
            break
    return pair


@PROPERTY
@given(
    ik=st.booleans(),
    allow_xx=st.booleans(),
    index=st.integers(0, 2),
    bit=st.integers(0, 10_000),
)
def test_a_flipped_bit_in_any_handshake_frame_is_detected(
    ik: bool, allow_xx: bool, index: int, bit: int
) -> None:
    if not ik and not allow_xx:
        allow_xx = True  # a private responder takes no XX at all: nothing to damage
    index %= 2 if ik else 3  # IK has two messages, XX three
    pair = _run_handshake_with_flip(BOB if ik else None, index, bit, allow_xx)
    if pair.a.established and pair.b.established:
        # The one way both may end up linked: the damaged IK message was refused and a fresh
        # XX (undamaged) proved both keys instead.
        assert ik and index == 0 and allow_xx
        assert pair.a.pattern == pair.b.pattern == "XX"
        assert pair.a.handshake_hash == pair.b.handshake_hash
        return
    # Otherwise a side that has not finished is closed already, or waits for bytes that will
    # not come (a longer length prefix): the handshake timeout closes it.
    for side, events in ((pair.a, pair.a_events), (pair.b, pair.b_events)):
        if not side.established:
            events += side.tick(10.0)
            assert side.closed
    assert closed_reasons(pair.a_events + pair.b_events)
    assert not [e for e in pair.a_events + pair.b_events if isinstance(e, RecordReceived)]


@PROPERTY
@given(
    sizes=st.lists(st.integers(0, 70_000), min_size=3, max_size=6),
    which=st.integers(0, 100),
    bit=st.integers(0, 10**7),
)
def test_a_flipped_bit_in_any_transport_frame_is_detected(
    sizes: list[int], which: int, bit: int
) -> None:
    pair = established_pair()
    records = [bytes([i]) * size for i, size in enumerate(sizes)]
    for record in records:
        pair.a.send_record(record, 0.0)
    frames = split_frames(pair.a.data_to_send())
    which %= len(frames)
    frames[which] = flip(frames[which], bit % (8 * len(frames[which])))
    # Records complete before the damaged frame: only those may come out.
    intact = 0
    total = 0
    for record in records:
        total += max(1, -(-len(record) // MAX_CHUNK))
        if total <= which:
            intact += 1
    events: list[Event] = []
    for frame in frames:
        events += pair.b.receive_data(frame, 0.0)
    events += pair.b.receive_data(b"", 0.0)
    got = [e.record for e in events if isinstance(e, RecordReceived)]
    assert got == records[:intact]
    assert pair.b.closed and len(closed_reasons(events)) == 1


@pytest.mark.parametrize("schedule", [[0, 2], [0, 0], [1, 0], [0, 1, 1], [2, 1, 0]], ids=str)
def test_dropped_replayed_or_reordered_transport_frames_are_refused(schedule: list[int]) -> None:
    pair = established_pair()
    for i in range(3):
        pair.a.send_record(b"record %d" % i, 0.0)
    frames = split_frames(pair.a.data_to_send())
    events: list[Event] = []
    for i in schedule:
        events += pair.b.receive_data(frames[i], 0.0)
    good = 0
    while good < len(schedule) and schedule[good] == good:
        good += 1
    assert [e.record for e in events if isinstance(e, RecordReceived)] == [
        b"record %d" % i for i in range(good)
    ]
    assert pair.b.closed and "decryption failed" in closed_reasons(events)[0]


def test_unknown_inner_type_and_empty_chunk_close() -> None:
    for plaintext in (b"\x7f", b"", bytes([T_DATA_MORE])):
        pair = established_pair()
        send = pair.a._transport._send
        assert isinstance(send, CipherState)
        frame = encode_frame(send.encrypt_with_ad(b"", plaintext))
        [closed] = pair.b.receive_data(frame, 0.0)
        assert isinstance(closed, Closed)


def test_control_messages_between_chunks_are_fine() -> None:
    pair = established_pair()
    pair.a._send_transport(T_DATA_MORE, b"one ")
    pair.a._send_transport(T_KEEPALIVE, b"padding is ignored")
    pair.a._send_transport(T_DATA_MORE, b"two ")
    pair.a._send_transport(T_DATA_FINAL, b"three")
    pair.pump()
    assert pair.records("b") == [b"one two three"]


# ---------------------------------------------------------------------------------------------
# Records: chunking and limits
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 2 * MAX_CHUNK, 300 * 1024, 1 << 20]
)
def test_large_records_are_chunked_and_rejoined(size: int) -> None:
    pair = established_pair()
    record = bytes(pyrandom.Random(size).randbytes(size))
    pair.a.send_record(record, 0.0)
    frames = split_frames(pair.a.data_to_send())
    assert len(frames) == max(1, -(-size // MAX_CHUNK))
    assert all(len(f) <= 2 + 65535 for f in frames)
    for frame in frames:
        pair.b_events += pair.b.receive_data(frame, 0.0)
    pair.b.send_record(record, 0.0)
    pair.b_to_a()
    assert pair.records("b") == [record] and pair.records("a") == [record]


def test_records_one_after_another_are_rejoined_whatever_their_sizes() -> None:
    # The reassembly buffer is kept between records: a shorter record after a longer one
    # must not carry any of the longer one's bytes.
    pair = established_pair()
    rng = pyrandom.Random(7)
    records = [rng.randbytes(n) for n in (300 * 1024, 1, 2 * MAX_CHUNK + 5, 70_000, 0,
                                          1 << 20, MAX_CHUNK + 1)]
    for record in records:
        pair.a.send_record(record, 0.0)
    for frame in split_frames(pair.a.data_to_send()):
        pair.b_events += pair.b.receive_data(frame, 0.0)
    assert pair.records("b") == records


def test_over_limit_records_are_refused_on_both_ends() -> None:
    small = SessionConfig(max_record=100_000)
    pair = established_pair(b_config=small)
    with pytest.raises(ValueError):
        pair.b.send_record(b"x" * 100_001, 0.0)
    with pytest.raises(ValueError):
        pair.a.send_record(b"x" * ((1 << 20) + 1), 0.0)
    assert pair.a.pending_send_bytes == pair.b.pending_send_bytes == 0  # nothing half-queued
    pair.b.send_record(b"x" * 100_000, 0.0)  # exactly at the limit is fine
    pair.a.send_record(b"y" * 100_000, 0.0)
    pair.a.send_record(b"z" * 200_000, 0.0)  # Alice's limit allows it, Bob's does not
    pair.pump()
    assert pair.records("b") == [b"y" * 100_000]
    assert pair.records("a") == [b"x" * 100_000]
    assert pair.b.closed and "over the limit" in closed_reasons(pair.b_events)[0]
    assert pair.a.closed and closed_reasons(pair.a_events)[0].startswith("closed by peer: record")


def test_send_buffer_is_bounded() -> None:
    config = SessionConfig(max_record=70_000, max_send_buffer=200_000)
    pair = established_pair(a_config=config)
    pair.a.send_record(b"x" * 70_000, 0.0)
    pair.a.send_record(b"x" * 70_000, 0.0)
    assert pair.a.pending_send_bytes > 140_000
    with pytest.raises(LocalProtocolError, match="send buffer full"):
        pair.a.send_record(b"x" * 70_000, 0.0)
    pair.a_to_b()
    pair.a.send_record(b"x" * 70_000, 0.0)  # room again once drained
    pair.a_to_b()
    assert len(pair.records("b")) == 3


# ---------------------------------------------------------------------------------------------
# Rekey
# ---------------------------------------------------------------------------------------------


def _keys(s: Session) -> tuple[bytes | None, bytes | None]:
    assert s._transport is not None  # the established transport holds the keys
    return s._transport._send.k, s._transport._recv.k


def test_automatic_rekey_every_n_messages_keeps_working() -> None:
    # Different settings on each side: each receiver follows what its sender announced.
    pair = established_pair(
        a_config=SessionConfig(rekey_every=7), b_config=SessionConfig(rekey_every=3)
    )
    start_a, start_b = _keys(pair.a), _keys(pair.b)
    expected_a, expected_b = [], []
    for i in range(3000):
        pair.a.send_record(b"a%d" % i, 0.0)
        expected_b.append(b"a%d" % i)
        if i % 3 == 0:
            for j in range(i % 5):
                pair.b.send_record(b"b%d.%d" % (i, j), 0.0)
                expected_a.append(b"b%d.%d" % (i, j))
        if i % 11 == 0:
            pair.pump()
    pair.pump()
    assert pair.records("b") == expected_b and pair.records("a") == expected_a
    assert not pair.a.closed and not pair.b.closed
    a_send, a_recv = _keys(pair.a)
    b_send, b_recv = _keys(pair.b)
    assert a_send == b_recv and b_send == a_recv
    assert a_send != start_a[0] and b_send != start_b[0]


def test_automatic_rekey_happens_exactly_on_schedule() -> None:
    pair = established_pair(a_config=SessionConfig(rekey_every=4))
    key0 = _keys(pair.a)[0]
    for i in range(3):
        pair.a.send_record(b"%d" % i, 0.0)
    assert _keys(pair.a)[0] == key0
    pair.a.send_record(b"3", 0.0)
    key1 = _keys(pair.a)[0]
    assert key1 != key0
    pair.pump()
    assert _keys(pair.b)[1] == key1


def test_rekey_now_changes_every_key_and_loses_nothing() -> None:
    pair = established_pair()
    before = set(_keys(pair.a) + _keys(pair.b))

    pair.a.rekey_now(0.0)
    pair.a.send_record(b"a1", 0.0)
    pair.b.send_record(b"b1", 0.0)
    pair.pump()
    pair.a.send_record(b"a2", 0.0)
    pair.b.send_record(b"b2", 0.0)
    pair.pump()
    assert pair.records("b") == [b"a1", b"a2"] and pair.records("a") == [b"b1", b"b2"]
    after_a, after_b = _keys(pair.a), _keys(pair.b)
    assert after_a[0] == after_b[1] and after_b[0] == after_a[1]
    assert not before & set(after_a + after_b)
    assert pair.a.handshake_hash == pair.b.handshake_hash  # channel binding is not changed
    assert pair.a._transport._rekey_hs is None and pair.b._transport._rekey_recv is None

    # A frame under the new key, tried with each old key at the very same nonce: only the new
    # key opens it.
    pair.a.send_record(b"secret", 0.0)
    [frame] = split_frames(pair.a.data_to_send())
    assert pair.a._transport._send is not None
    nonce = pair.a._transport._send.n - 1
    for old_key in before:
        old = CipherState(old_key)
        old.n = nonce
        with pytest.raises(ProtocolError):
            old.decrypt_with_ad(b"", frame[2:])
    new = CipherState(after_a[0])
    new.n = nonce
    assert new.decrypt_with_ad(b"", frame[2:]) == bytes([T_DATA_FINAL]) + b"secret"


@pytest.mark.parametrize("first", ["a", "b"])
def test_both_sides_rekey_at_once(first: str) -> None:
    pair = established_pair()
    before = set(_keys(pair.a) + _keys(pair.b))
    sides = [pair.a, pair.b] if first == "a" else [pair.b, pair.a]
    for side in sides:
        side.rekey_now(0.0)
    pair.a.send_record(b"a1", 0.0)
    pair.b.send_record(b"b1", 0.0)
    # Both INITs cross on the wire before either side sees the other's.
    pair.a_to_b()
    pair.b_to_a()
    pair.a.send_record(b"a2", 0.0)
    pair.b.send_record(b"b2", 0.0)
    pair.pump()
    assert pair.records("b") == [b"a1", b"a2"] and pair.records("a") == [b"b1", b"b2"]
    after_a, after_b = _keys(pair.a), _keys(pair.b)
    assert after_a[0] == after_b[1] and after_b[0] == after_a[1]
    assert not before & set(after_a + after_b)
    assert not any(t._rekey_hs or t._rekey_recv for t in (pair.a._transport, pair.b._transport))
    # And the next rekey, by either side, works as usual.
    pair.b.rekey_now(0.0)
    pair.pump()
    assert not set(after_a) & set(_keys(pair.a))
    assert not (pair.a.closed or pair.b.closed)


_OPS = st.sampled_from(["send_a", "send_b", "rekey_a", "rekey_b", "a_to_b", "b_to_a", "half"])


@PROPERTY
@given(ops=st.lists(_OPS, max_size=40), rekey_every=st.integers(1, 6))
def test_rekeys_interleaved_with_traffic_lose_nothing(ops: list[str], rekey_every: int) -> None:
    config = SessionConfig(rekey_every=rekey_every)
    pair = established_pair(a_config=config, b_config=config)
    sent_a: list[bytes] = []
    sent_b: list[bytes] = []
    held = b""  # Alice's bytes delivered in two halves, to cut frames mid-way
    for i, op in enumerate(ops):
        if op == "send_a":
            sent_a.append(b"a%d" % i)
            pair.a.send_record(sent_a[-1], 0.0)
        elif op == "send_b":
            sent_b.append(b"b%d" % i)
            pair.b.send_record(sent_b[-1], 0.0)
        elif op == "rekey_a":
            pair.a.rekey_now(0.0)
        elif op == "rekey_b":
            pair.b.rekey_now(0.0)
        elif op == "a_to_b":
            data = held + pair.a.data_to_send()
            if data:  # b"" would mean EOF
                pair.b_events += pair.b.receive_data(data, 0.0)
            held = b""
        elif op == "b_to_a":
            pair.b_to_a()
        else:
            data = held + pair.a.data_to_send()
            cut = len(data) // 2
            if cut:
                pair.b_events += pair.b.receive_data(data[:cut], 0.0)
            held = data[cut:]
    if held:
        pair.b_events += pair.b.receive_data(held, 0.0)
    pair.pump()
    assert pair.records("b") == sent_a and pair.records("a") == sent_b
    assert not (pair.a.closed or pair.b.closed)
    assert _keys(pair.a) == _keys(pair.b)[::-1]


def test_rekey_reply_or_switch_out_of_turn_closes() -> None:
    from p2pchat.core.session import T_REKEY_REPLY, T_REKEY_SWITCH

    for inner in (T_REKEY_REPLY, T_REKEY_SWITCH):
        pair = established_pair()
        pair.a._send_transport(inner, b"")
        pair.a_to_b()
        assert pair.b.closed and "without a rekey in progress" in closed_reasons(pair.b_events)[0]


def test_unanswered_rekey_times_out() -> None:
    slow = SessionConfig(keepalive_interval=10.0, idle_timeout=30.0)
    pair = established_pair(a_config=slow, b_config=slow)
    pair.a.rekey_now(1.0)
    pair.a.data_to_send()  # lost: Bob never sees it, but keeps the link alive
    for now in (4.0, 8.0):
        pair.b.tick(now)
        pair.b_to_a(now)
    assert pair.a.tick(10.9) == []
    [closed] = pair.a.tick(11.0)
    assert closed == Closed("rekey timed out")


# ---------------------------------------------------------------------------------------------
# Timers and closing
# ---------------------------------------------------------------------------------------------


def test_default_timers_notice_a_silent_link_within_seconds() -> None:
    # A stalled path (half-open TCP, a frozen peer) must not hold a contact for half a minute.
    pair = established_pair()
    assert pair.a.tick(1.9) == [] and pair.a.data_to_send() == b""
    pair.a.tick(2.0)
    assert len(split_frames(pair.a.data_to_send())) == 1  # a keepalive every 2 s
    assert pair.a.tick(6.9) == []
    [closed] = pair.a.tick(7.0)
    assert closed == Closed("idle timeout: nothing received for 7 s")


def test_keepalive_after_the_interval_and_idle_timeout() -> None:
    slow = SessionConfig(keepalive_interval=10.0, idle_timeout=30.0)
    pair = established_pair(a_config=slow, b_config=slow)
    assert pair.a.tick(9.9) == [] and pair.a.data_to_send() == b""
    assert pair.a.tick(10.0) == []
    keepalive = pair.a.data_to_send()
    assert len(split_frames(keepalive)) == 1
    assert pair.b.receive_data(keepalive, 10.0) == []  # resets Bob's idle timer, no event
    pair.a.send_record(b"x", 15.0)
    pair.a_to_b(15.0)
    assert pair.a.tick(24.9) == [] and pair.a.data_to_send() == b""  # sent at 15: not yet
    pair.a.tick(25.0)
    pair.b.receive_data(pair.a.data_to_send(), 25.0)
    # Bob's own keepalives are never delivered: Alice last heard from him at 0.
    assert pair.a.tick(29.9) == []
    [closed] = pair.a.tick(30.0)
    assert closed == Closed("idle timeout: nothing received for 30 s")
    assert pair.a.closed and not pair.a.established
    assert pair.a.tick(100.0) == []
    # Bob heard from Alice at 25 and learns why she left.
    assert pair.b.tick(54.9) == []
    pair.b.data_to_send()
    pair.a_to_b(55.0)
    assert closed_reasons(pair.b_events) == [
        "closed by peer: idle timeout: nothing received for 30 s"
    ]


def test_handshake_timeout() -> None:
    a = initiator(now=100.0)
    b = responder(now=100.0)
    b.receive_data(a.data_to_send(), 101.0)
    assert a.tick(104.9) == [] and b.tick(104.9) == []  # default: 5 s
    assert a.tick(105.0) == [Closed("handshake timed out")]
    assert b.tick(105.0) == [Closed("handshake timed out")]
    assert a.closed and b.closed


def test_close_sends_a_reason_and_stops_everything() -> None:
    pair = established_pair()
    pair.b.send_record(b"in flight", 0.0)
    pair.a.close("bye \x00 now")
    assert pair.a.closed and not pair.a.established
    pair.a.close("twice is fine")
    pair.pump()
    assert pair.b.closed
    assert pair.b_events[1:] == [Closed("closed by peer: bye ? now")]
    assert pair.records("a") == []  # input after close is ignored
    with pytest.raises(LocalProtocolError):
        pair.a.send_record(b"x", 0.0)
    with pytest.raises(LocalProtocolError):
        pair.a.rekey_now(0.0)


def test_close_reason_is_bounded() -> None:
    pair = established_pair()
    pair.a.close("é" * 1000)
    pair.a_to_b()
    [reason] = closed_reasons(pair.b_events)
    assert reason == "closed by peer: " + "é" * 100


def test_eof_reasons() -> None:
    pair = established_pair()
    assert pair.b.receive_data(b"", 0.0) == [
        Closed("connection closed by peer without a close message")
    ]
    pair = established_pair()
    pair.a.send_record(b"x", 0.0)
    pair.b.receive_data(pair.a.data_to_send()[:3], 0.0)
    assert pair.b.receive_data(b"", 0.0) == [
        Closed("connection closed by peer in the middle of a frame")
    ]


def test_closing_before_the_handshake_sends_nothing_more() -> None:
    a = initiator()
    a.close("changed my mind")
    assert a.closed and a.receive_data(b"\x00\x01\x02", 0.0) == []
