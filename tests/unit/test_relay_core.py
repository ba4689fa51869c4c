"""The relay's routing state: budgets, attach, routing, queues, rates, timeouts (time passed in)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pchat.core.errors import ProtocolError
from p2pchat.core.relay import (
    REFUSALS,
    Accepted,
    Forward,
    NotAttached,
    QueueFull,
    RelayLimits,
    RelayState,
    Replaced,
    TokenBucket,
)
from p2pchat.core.relay_messages import wire_cost

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def opened(state: RelayState, host: str, now: float = 0.0) -> int:
    conn, evicted = state.open(host, now)
    assert evicted == []
    return conn


def attached(state: RelayState, key: bytes, host: str = "10.0.0.1", now: float = 0.0) -> int:
    conn = opened(state, host, now)
    assert isinstance(state.attach(conn, key, now), Accepted)
    return conn


def test_frames_go_to_the_attached_key_or_are_not_here() -> None:
    state = RelayState(RelayLimits())
    a, b = attached(state, A), attached(state, B)
    assert state.route(a, B, 100) == Forward(b)
    assert state.route(b, A, 5) == Forward(a)
    assert state.route(a, C, 5) == NotAttached()
    snap = state.snapshot()
    assert (snap["frames_forwarded"], snap["bytes_forwarded"], snap["not_here"]) == (2, 105, 1)
    state.close(b)
    assert state.route(a, B, 5) == NotAttached()
    assert state.key_of(a) == A and state.key_of(b) is None


def test_send_before_attach_and_attach_twice_are_protocol_errors() -> None:
    state = RelayState(RelayLimits())
    conn = opened(state, "h", 0)
    with pytest.raises(ProtocolError, match="before Attach"):
        state.route(conn, A, 1)
    state.attach(conn, A, 0)
    with pytest.raises(ProtocolError, match="twice"):
        state.attach(conn, A, 0)


def test_frame_over_max_data_is_a_protocol_error() -> None:
    state = RelayState(RelayLimits(max_data=100))
    a = attached(state, A)
    attached(state, B)
    assert isinstance(state.route(a, B, 100), Forward)
    with pytest.raises(ProtocolError, match="over the limit"):
        state.route(a, B, 101)


def test_pending_budgets_are_separate_from_client_slots_and_evict_the_stalled() -> None:
    state = RelayState(RelayLimits(max_clients=2, max_pending=3, max_pending_per_host=2))
    a, b = attached(state, A), attached(state, B)
    first, second = opened(state, "6.6.6.6", 0), opened(state, "6.6.6.6", 1)
    # Per host: a third from that address takes the place of its oldest.
    third, evicted = state.open("6.6.6.6", 2)
    assert evicted == [first]
    other = opened(state, "7.7.7.7", 3)
    # All pending places taken: a newcomer evicts the oldest of the busiest address.
    newcomer, evicted = state.open("8.8.8.8", 4)
    assert evicted == [second]
    assert state.client_count == 2 and state.pending_count == 3
    assert state.route(a, B, 1) == Forward(b)  # clients are untouched by all this
    refusals = state.snapshot()["refusals"]
    assert isinstance(refusals, dict)
    assert (refusals["pending_per_host"], refusals["pending_full"]) == (1, 1)
    # A handshake that completes still finds the clients' slots full.
    assert state.attach(other, C, 5) == "relay_full"
    assert {third, newcomer} <= set(state._pending)


def test_eviction_spares_completed_handshakes_and_quiet_addresses() -> None:
    state = RelayState(RelayLimits(max_pending=4, max_pending_per_host=3))
    honest = opened(state, "10.0.0.1", 0)  # the oldest of all, from a quiet address
    proven = opened(state, "6.6.6.6", 1)
    state.handshaken(proven)  # older than the next one, but it proved a key
    stalled = [opened(state, "6.6.6.6", 2)]
    stalled.append(opened(state, "7.7.7.7", 3))
    latest, evicted = state.open("6.6.6.6", 4)  # at its cap: its own stalled one goes first
    assert evicted == [stalled[0]]
    _, evicted = state.open("8.8.8.8", 5)  # all full: the busiest address gives way
    assert evicted == [latest]  # newer than `proven`, but it proved nothing
    assert honest in state._pending and proven in state._pending


def test_pending_connections_expire_at_the_attach_deadline() -> None:
    state = RelayState(RelayLimits(attach_timeout=10))
    early, late = opened(state, "h", 0), opened(state, "h", 5)
    assert state.expired(9.9) == []
    assert state.expired(10) == [early]
    assert state.expired(15) == [late]
    assert state.pending_count == 0
    snap = state.snapshot()["refusals"]
    assert isinstance(snap, dict) and snap["attach_timeout"] == 2
    attached(state, A, now=20)
    assert state.expired(1000) == []  # attached clients are not pending


def test_allow_list() -> None:
    state = RelayState(RelayLimits(), allow=frozenset({A}))
    assert state.admits(A) and not state.admits(B)
    conn = opened(state, "h", 0)
    assert state.attach(conn, B, 0) == "not_allowed"
    attached(state, A)


def test_the_same_key_attaching_again_replaces_its_old_connection() -> None:
    state = RelayState(RelayLimits(max_clients=1))
    old = attached(state, A)
    new = opened(state, "h", 1)
    assert state.attach(new, A, 1) == Replaced(old)  # even with the relay full
    assert state.client_count == 1
    assert state.route(new, A, 1) == Forward(new)
    state.close(old)  # the server closes the old socket afterwards: the new one stays
    assert state.route(new, A, 1) == Forward(new)


def test_a_full_queue_refuses_frames_and_answers() -> None:
    limits = RelayLimits(max_queue=3 * wire_cost(1000), high_water=wire_cost(1000))
    state = RelayState(limits)
    a, b = attached(state, A), attached(state, B)
    assert [state.route(a, B, 1000) for _ in range(3)] == [Forward(b)] * 3
    assert state.over_high_water(b)
    assert state.route(a, B, 1000) == QueueFull()
    assert state.route(a, B, 1) == QueueFull()  # small frames are padded too: still too much
    state.set_backlog(b, 0)  # the socket drained
    assert not state.over_high_water(b)
    assert state.route(a, B, 1000) == Forward(b)
    assert state.may_answer(a)
    state.set_backlog(a, limits.max_queue)
    assert not state.may_answer(a)
    snap = state.snapshot()
    assert snap["dropped_queue_full"] == 2


def test_rates_throttle_and_recover() -> None:
    state = RelayState(RelayLimits(byte_rate=1000, frame_rate=10, burst_seconds=1))
    a = attached(state, A)
    assert state.charge(a, 1000, 1, now=0) == 0  # the burst
    assert state.charge(a, 500, 1, now=0) == pytest.approx(0.5)  # 500 bytes of debt at 1000/s
    assert state.charge(a, 0, 0, now=0.5) == 0  # paid back
    assert state.charge(a, 0, 20, now=0.5) == pytest.approx(1.0)  # 10 frames over at 10/s
    assert state.snapshot()["throttled"] == 2


@given(st.lists(st.tuples(st.floats(0, 2), st.integers(0, 5000)), max_size=60))
def test_token_bucket_never_admits_more_than_burst_plus_rate(
    steps: list[tuple[float, int]],
) -> None:
    """A sender that always waits as told gets at most capacity + rate * elapsed + one debit."""
    rate, capacity = 1000.0, 2000.0
    bucket = TokenBucket(rate, capacity, now=0.0)
    now, total, largest = 0.0, 0, 0
    for gap, amount in steps:
        now += gap
        total += amount
        largest = max(largest, amount)
        now += bucket.debit(amount, now)  # obey: wait the time it says
    assert total <= capacity + rate * now + largest + 1e-6


@given(st.lists(st.sampled_from(["open", "attach", "close", "expire"]), max_size=80),
       st.integers(0, 2**32))
def test_counts_stay_within_budgets_whatever_happens(ops: list[str], seed: int) -> None:
    limits = RelayLimits(max_clients=3, max_pending=4, max_pending_per_host=2,
                         max_clients_per_host=2, attach_timeout=5)
    state = RelayState(limits)
    conns: list[int] = []
    now = 0.0
    for i, op in enumerate(ops):
        pick = (seed >> (i % 32)) & 0xFF
        now += 1
        if op == "open":
            conn, evicted = state.open(f"h{pick % 3}", now)
            conns = [c for c in conns if c not in evicted] + [conn]
            for gone in evicted:
                state.close(gone)
        elif op == "attach" and conns:
            conn = conns[pick % len(conns)]
            if state.key_of(conn) is None and conn in state._pending:
                state.attach(conn, bytes([pick % 5]) * 32, now)
        elif op == "close" and conns:
            state.close(conns.pop(pick % len(conns)))
        else:
            state.expired(now)
        assert state.client_count <= limits.max_clients
        assert state.pending_count <= limits.max_pending
        assert all(n <= limits.max_pending_per_host for n in state._pending_per_host.values())
        assert all(n <= limits.max_clients_per_host for n in state._clients_per_host.values())
        assert sum(state._clients_per_host.values()) == state.client_count
        assert set(state._by_key.values()) == set(state._clients)


def test_snapshot_holds_counts_only() -> None:
    state = RelayState(RelayLimits())
    attached(state, A)
    snap = state.snapshot()
    assert set(snap["refusals"]) == set(REFUSALS)  # type: ignore[arg-type]
    assert A not in repr(snap).encode() and A.hex() not in repr(snap)


@pytest.mark.parametrize("bad", [dict(max_clients=0), dict(attach_timeout=0),
                                 dict(max_data=70000), dict(byte_rate=0),
                                 dict(high_water=10, max_queue=5)])
def test_limits_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RelayLimits(**bad)  # type: ignore[arg-type]


def test_one_address_cannot_take_every_client_slot() -> None:
    state = RelayState(RelayLimits(max_clients=10, max_clients_per_host=2))
    attached(state, A, host="6.6.6.6")
    attached(state, B, host="6.6.6.6")
    third = opened(state, "6.6.6.6", 0)
    assert state.attach(third, C, 0) == "host_full"
    attached(state, C, host="10.0.0.9")  # other addresses still get in
    # A key coming back from the same address replaces its connection: not a third client.
    again = opened(state, "6.6.6.6", 1)
    assert isinstance(state.attach(again, A, 1), Replaced)
    refusals = state.snapshot()["refusals"]
    assert isinstance(refusals, dict) and refusals["host_full"] == 1
    assert state.client_count == 3
