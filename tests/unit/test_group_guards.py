"""Issue 22's pure rules: early-envelope accounting, member budgets, equivocation evidence,
GroupDigest on the wire, and which conversation a typed name means."""

from __future__ import annotations

from dataclasses import replace

import pytest

from p2pchat.core.addressing import Ambiguous, resolve
from p2pchat.core.codec import pack
from p2pchat.core.equivocation import digest, is_equivocation, mismatches
from p2pchat.core.gap_buffer import GAP_HOLD, GapBudget, held_size
from p2pchat.core.identity import Identity
from p2pchat.core.member_budget import MemberBudgets
from p2pchat.core.messages import (
    GroupDigest,
    UnknownRecord,
    decode_record,
    encode_record,
    envelope_hash,
)
from p2pchat.core.sync import ConversationLog

CONV = b"c" * 16
ALICE = b"A" * 32


def chain(n: int, size: int = 1000) -> list:  # type: ignore[type-arg]
    log = ConversationLog(CONV, {}, 0)
    return [log.append_local(ALICE, bytes(size), 1000 + i) for i in range(1, n + 1)]


def test_early_envelopes_are_bounded_in_bytes_per_log_and_per_node() -> None:
    envs = chain(40, size=60_000)
    budget = GapBudget(limit=10 * held_size(envs[0]))
    log = ConversationLog(CONV, {}, 0, max_pending_bytes=4 * held_size(envs[0]), budget=budget)
    other = ConversationLog(b"d" * 16, {}, 0, budget=budget)
    for env in envs[1:]:
        log.receive(env, origin="link1", now=0.0)
    assert log.pending_count == 4 and log.pending_bytes == 4 * held_size(envs[0])
    others = chain(40, size=60_000)
    for env in others[1:]:
        other.receive(replace(env, conv=b"d" * 16), origin="link2", now=0.0)
    assert budget.used == 10 * held_size(envs[0])  # the node's bound holds across logs
    assert log.release("link1") == 4 and budget.used == 6 * held_size(envs[0])
    assert other.expire(GAP_HOLD - 0.1) == 0
    assert other.expire(GAP_HOLD) == 6 and budget.used == 0
    # Dropped, then the gap fills and the rest is asked for again, from the head.
    received = log.receive(envs[0], origin="link3", now=1.0)
    assert received.accepted == [envs[0]]
    assert received.requests and received.requests[0].first == 2


def test_a_member_budget_refuses_a_flood_and_lets_chat_through() -> None:
    budgets = MemberBudgets(lambda group: {}, rate=1000, burst=10_000, cap=50_000)
    assert all(budgets.charge(CONV, ALICE, 1000, 0.0) is None for _ in range(10))
    assert budgets.charge(CONV, ALICE, 1000, 0.0) is not None  # the burst is spent
    assert budgets.charge(CONV, ALICE, 1000, 1.0) is None  # refilled at the rate
    assert budgets.charge(CONV, b"B" * 32, 1000, 1.0) is None  # per author
    for t in range(2, 100):
        budgets.charge(CONV, ALICE, 1000, float(t * 10))
    assert "cap" in (budgets.charge(CONV, ALICE, 1000, 10_000.0) or "")


def test_two_signed_versions_of_one_seq_are_proof_and_nothing_else_is() -> None:
    mallory = Identity.generate()
    log = ConversationLog(CONV, {}, 0)
    yes = log.append_local(mallory.public_key, b"yes", 1, sign=mallory.sign)
    other = ConversationLog(CONV, {}, 0)
    no = other.append_local(mallory.public_key, b"no", 1, sign=mallory.sign)
    assert is_equivocation(yes, no)
    assert not is_equivocation(yes, yes)
    forged = replace(no, sig=Identity.generate().sign(no.signing_bytes()))
    assert not is_equivocation(yes, forged)  # nobody else can make one up
    d = digest(CONV, {mallory.public_key: (1, envelope_hash(yes))})
    assert decode_record(encode_record(d)) == d
    assert mismatches(d, {mallory.public_key: envelope_hash(no)}) == [(mallory.public_key, 1)]
    assert mismatches(d, {mallory.public_key: envelope_hash(yes)}) == []


def test_unknown_record_types_are_their_own_error() -> None:
    with pytest.raises(UnknownRecord):
        decode_record(pack([99, b"x"]))
    with pytest.raises(Exception):  # noqa: B017 - any protocol error
        GroupDigest(group=CONV, heads=((ALICE, 0, bytes(32)),))


@pytest.mark.parametrize(("who", "contact", "group", "expected"), [
    ("club", True, False, ("contact", "club")),
    ("club", False, True, ("group", "club")),
    ("#club", True, True, ("group", "club")),
    ("@club", True, True, ("contact", "club")),
    ("nobody", False, False, ("contact", "nobody")),
])
def test_which_conversation_a_name_means(who: str, contact: bool, group: bool,
                                         expected: tuple[str, str]) -> None:
    assert resolve(who, lambda _: contact, lambda _: group) == expected


def test_a_name_that_is_both_is_ambiguous() -> None:
    with pytest.raises(Ambiguous, match=r"#club.*@club"):
        resolve("club", lambda _: True, lambda _: True)
