"""Groups, pure: the op chain, keys, sealed envelopes, the group records' codec, and a simulation
of 30 replicas gossiping over a sparse topology."""

from __future__ import annotations

import random
from dataclasses import replace

import nacl.bindings
import nacl.exceptions
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core import groups
from p2pchat.core.codec import pack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.groups import (
    GroupError,
    GroupState,
    MissingKey,
    OpGap,
    OpReplay,
    UnknownEpoch,
)
from p2pchat.core.identity import Identity
from p2pchat.core.messages import (
    GROUP_KEY_CHECK_LEN,
    MAX_GROUP_OPS,
    MAX_NAME_CHARS,
    MAX_RECORD_LEN,
    GroupInvite,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupOp,
    GroupOpKind,
    GroupPrune,
    Record,
    decode_record,
    decode_text,
    encode_record,
    encode_text,
    envelope_hash,
)
from p2pchat.core.sync import ConversationLog, display_key
from tests.unit.group_sim import Sim
from tests.unit.test_messages import name_text

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)

PEOPLE = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(8)]
OWNER, BOB, CAROL, DAVE, EVE = PEOPLE[:5]


def rand(seed: int = 0) -> groups.Random:
    return random.Random(seed).randbytes


def roundtrip(record: Record) -> Record:
    data = encode_record(record)
    decoded = decode_record(data)
    assert decoded == record and encode_record(decoded) == data
    return decoded


def group_of(*members: Identity, seed: int = 0) -> tuple[GroupState, dict[int, bytes]]:
    """OWNER's group with ``members`` added, and the owner's epoch keys."""
    r = rand(seed)
    change = groups.create(OWNER, "friends", "owner", r)
    state, keys = change.state, {1: change.key}
    for person in members:
        change = groups.invite(state, OWNER, person.public_key, f"p{person.public_key[0]}", r)
        state = change.state
        keys[state.epoch] = change.key
    return state, {e: k for e, k in keys.items() if k is not None}


def member_view(state: GroupState, person: Identity) -> GroupState:
    """What ``person`` derives from an invitation carrying the whole chain."""
    invite = roundtrip(groups.invitation(state, {}, 0))
    assert isinstance(invite, GroupInvite)
    return groups.join(invite, person.public_key, state.owner)


# --- the op chain -------------------------------------------------------------------------------


def test_create_binds_the_id_to_the_creator() -> None:
    change = groups.create(OWNER, "friends", "owner", rand())
    state, op = change.state, change.op
    assert state.group == groups.group_id(OWNER.public_key, op.prev)
    assert (state.owner, state.epoch, state.number, state.title) == (
        OWNER.public_key, 1, 1, "friends")
    assert dict(state.members) == {OWNER.public_key: "owner"}
    assert change.key is not None and op.key_check == groups.key_check(change.key)
    # Someone else claiming the same group id cannot sign a valid op 1 for it.
    forged = replace(op, subject=BOB.public_key, sig=BOB.sign(replace(
        op, subject=BOB.public_key).signing_bytes()))
    with pytest.raises(GroupError, match="group id"):
        groups.genesis(forged)
    with pytest.raises(GroupError, match="not signed"):
        groups.genesis(replace(op, title="hijacked"))


def test_members_apply_the_owners_changes_in_order() -> None:
    state, _ = group_of(BOB, CAROL)
    bob = member_view(state, BOB)
    assert bob == state and bob.epoch == 3
    removal = groups.remove(state, OWNER, CAROL.public_key, cut=0, random=rand(1))
    bob = groups.apply_op(bob, removal.op)
    assert bob == removal.state and CAROL.public_key not in bob.members and bob.epoch == 4
    assert [m for m, _ in removal.deliveries] == [BOB.public_key]  # never the removed
    handover = groups.transfer(bob, OWNER, BOB.public_key)
    assert handover.key is None and handover.state.epoch == 4 and not handover.deliveries
    bob = groups.apply_op(bob, handover.op)
    assert bob.owner == BOB.public_key
    with pytest.raises(GroupError, match="only the owner"):
        groups.invite(bob, OWNER, DAVE.public_key, "dave", rand(2))
    added = groups.invite(bob, BOB, DAVE.public_key, "dave", rand(2))
    assert groups.apply_op(handover.state, added.op) == added.state
    assert member_view(added.state, DAVE) == added.state


def test_apply_op_refuses_forged_gapped_and_replayed_ops() -> None:
    state, _ = group_of(BOB)
    first = groups.invite(state, OWNER, CAROL.public_key, "carol", rand(1))
    second = groups.remove(first.state, OWNER, BOB.public_key, cut=0, random=rand(2))
    # Signed by a member, not the owner.
    by_bob = replace(first.op, sig=BOB.sign(first.op.signing_bytes()))
    with pytest.raises(GroupError, match="not signed by the owner"):
        groups.apply_op(state, by_bob)
    # Altered after signing.
    with pytest.raises(GroupError, match="not signed by the owner"):
        groups.apply_op(state, replace(first.op, subject=DAVE.public_key))
    # A gap.
    with pytest.raises(OpGap):
        groups.apply_op(state, second.op)
    # A replay (our own copy) and a different op at a number already taken.
    with pytest.raises(OpReplay) as replay:
        groups.apply_op(first.state, first.op)
    assert replay.value.same
    other = groups.invite(state, OWNER, DAVE.public_key, "dave", rand(3))
    with pytest.raises(OpReplay) as fork:
        groups.apply_op(first.state, other.op)
    assert not fork.value.same
    # Right number, wrong chain.
    with pytest.raises(GroupError, match="does not chain"):
        groups.apply_op(first.state, replace(other.op, number=4))
    # Kind rules: the owner cannot remove itself, add a member twice or transfer to a stranger.
    with pytest.raises(GroupError):
        groups.remove(state, OWNER, OWNER.public_key, cut=0, random=rand())
    with pytest.raises(GroupError, match="already a member"):
        groups.invite(state, OWNER, BOB.public_key, "bob", rand())
    with pytest.raises(GroupError, match="transfer"):
        groups.transfer(state, OWNER, EVE.public_key)
    assert groups.apply_op(groups.apply_op(state, first.op), second.op) == second.state


def test_leave_is_requested_by_the_member_and_enacted_by_the_owner() -> None:
    state, keys = group_of(BOB, CAROL)
    leave = groups.request_leave(member_view(state, BOB), BOB, last_seq=7)
    roundtrip(leave)
    groups.check_leave(state, leave)
    change = groups.enact_leave(state, OWNER, leave, rand(5))
    assert change.op.kind == GroupOpKind.LEAVE and change.op.cut == 7
    assert BOB.public_key not in change.state.members
    assert [m for m, _ in change.deliveries] == [CAROL.public_key]
    assert change.state.may_author(BOB.public_key, state.epoch, 7)
    assert not change.state.may_author(BOB.public_key, state.epoch, 8)
    assert not change.state.may_author(BOB.public_key, change.state.epoch, 1)
    # Re-added later, an old leave replayed does not throw Bob out again.
    again = groups.invite(change.state, OWNER, BOB.public_key, "bob", rand(6))
    with pytest.raises(GroupError, match="replayed"):
        groups.check_leave(again.state, leave)
    forged = replace(leave, member=CAROL.public_key)
    with pytest.raises(GroupError, match="not signed"):
        groups.check_leave(state, forged)
    with pytest.raises(GroupError, match="transfer"):
        groups.request_leave(state, OWNER, 0)
    assert keys  # the owner's keys exist for every epoch so far


def test_invitation_is_checked_from_creation() -> None:
    state, _ = group_of(BOB)
    invite = groups.invitation(state, {BOB.public_key: (3, b"h" * 32)}, 9)
    assert groups.start_heads(invite) == {BOB.public_key: (3, b"h" * 32)}
    with pytest.raises(GroupError, match="not sent by the group's owner"):
        groups.join(invite, BOB.public_key, CAROL.public_key)
    with pytest.raises(GroupError, match="member"):
        groups.join(invite, CAROL.public_key, OWNER.public_key)
    stranger = groups.invitation(state, {EVE.public_key: (1, b"h" * 32)}, 0)
    with pytest.raises(GroupError, match="never a member"):
        groups.join(stranger, BOB.public_key, OWNER.public_key)
    tampered = GroupInvite(ops=(*state.ops[:-1], replace(state.ops[-1], name="mallory")))
    with pytest.raises(GroupError, match="not signed"):
        groups.join(tampered, BOB.public_key, OWNER.public_key)


# --- keys ---------------------------------------------------------------------------------------


def test_keys_are_checked_against_the_owners_commitment() -> None:
    state, keys = group_of(BOB)
    epoch = state.epoch
    good = GroupKey(group=state.group, epoch=epoch, key=keys[epoch])
    assert groups.accept_key(state, roundtrip(good), BOB.public_key) == keys[epoch]  # type: ignore[arg-type]
    with pytest.raises(GroupError, match="commitment"):
        groups.accept_key(state, replace(good, key=bytes(32)), BOB.public_key)
    with pytest.raises(GroupError, match="not a member"):
        groups.accept_key(state, replace(good, epoch=1), BOB.public_key)  # before Bob joined
    with pytest.raises(UnknownEpoch):
        groups.accept_key(state, replace(good, epoch=epoch + 1), BOB.public_key)
    request = GroupKeyRequest(group=state.group, epoch=epoch)
    assert groups.serve_key(state, keys, BOB.public_key, request) == good
    assert groups.serve_key(state, keys, EVE.public_key, request) is None
    assert groups.serve_key(state, {}, BOB.public_key, request) is None


# --- envelopes ----------------------------------------------------------------------------------


def test_sealed_envelopes_open_for_members_only() -> None:
    state, keys = group_of(BOB, CAROL)
    log = ConversationLog(state.group, {}, 0)
    env = groups.seal_group_envelope(state, keys, BOB, log, encode_text("hi"), 5, rand(9))
    assert roundtrip(env) == env and len(env.sig) == 64 and env.seq == 1
    assert log.head(BOB.public_key) == (1, envelope_hash(env))  # the hash covers the signature
    assert decode_text(groups.open_group_envelope(state, keys, env)) == "hi"
    assert b"hi" not in env.body
    with pytest.raises(MissingKey):
        groups.open_group_envelope(state, {}, env)
    # Carol forges an envelope in Bob's name: the signature is hers, not his.
    forged = replace(env, sig=CAROL.sign(env.signing_bytes()))
    with pytest.raises(GroupError, match="not signed by its author"):
        groups.check_group_envelope(state, forged)
    # Bob re-signs his ciphertext at another seq: the AD no longer matches.
    moved = replace(env, seq=2, prev=envelope_hash(env), sig=b"")
    moved = replace(moved, sig=BOB.sign(moved.signing_bytes()))
    with pytest.raises(GroupError, match="does not decrypt"):
        groups.open_group_envelope(state, keys, moved)
    # Eve was never a member.
    eve_log = ConversationLog(state.group, {}, 0)
    eve_state = replace(state, members={**state.members, EVE.public_key: "eve"})
    by_eve = groups.seal_group_envelope(eve_state, keys, EVE, eve_log, b"x", 0, rand())
    with pytest.raises(GroupError, match="not a member"):
        groups.check_group_envelope(state, by_eve)
    # An envelope of an epoch we have not reached yet waits for its op.
    later = replace(env, body=(state.epoch + 1).to_bytes(8, "big") + env.body[8:])
    with pytest.raises(UnknownEpoch):
        groups.check_group_envelope(state, later)
    with pytest.raises(GroupError, match="too short"):
        groups.check_group_envelope(state, replace(env, body=b"short"))


def test_a_newcomer_cannot_write_into_an_epoch_before_it_joined() -> None:
    state, keys = group_of(BOB)
    joined = groups.invite(state, OWNER, CAROL.public_key, "carol", rand(1))
    carol_keys = {joined.state.epoch: joined.key or b""}
    log = ConversationLog(state.group, {}, 0)
    env = groups.seal_group_envelope(joined.state, carol_keys, CAROL, log, b"x", 0, rand())
    backdated = replace(env, body=state.epoch.to_bytes(8, "big") + env.body[8:], sig=b"")
    backdated = replace(backdated, sig=CAROL.sign(backdated.signing_bytes()))
    assert groups.check_group_envelope(joined.state, env) == joined.state.epoch
    with pytest.raises(GroupError, match="not a member at epoch"):
        groups.check_group_envelope(joined.state, backdated)
    assert keys


# --- gossip -------------------------------------------------------------------------------------


def test_gossip_prunes_per_author_and_regrows_on_a_request() -> None:
    state, _ = group_of(BOB, CAROL, DAVE)
    gossip = groups.GroupGossip(state.group)
    links = [BOB.public_key, CAROL.public_key, EVE.public_key]  # Eve is no member
    author = OWNER.public_key
    assert gossip.push_targets(state, links, BOB.public_key, author) == [CAROL.public_key]
    assert gossip.push_targets(state, links, None, BOB.public_key) == [CAROL.public_key]
    prune = gossip.on_duplicate(CAROL.public_key, author)
    assert prune == GroupPrune(group=state.group, author=author)
    assert gossip.on_duplicate(CAROL.public_key, author) is None  # once
    assert gossip.push_targets(state, links, None, author) == [BOB.public_key]
    assert CAROL.public_key in gossip.push_targets(state, links, None, DAVE.public_key)
    gossip.on_request(CAROL.public_key, author)
    assert gossip.is_eager(CAROL.public_key, author)
    gossip.on_prune(BOB.public_key, author)
    gossip.forget(BOB.public_key)
    assert gossip.is_eager(BOB.public_key, author)


def test_gossip_sends_missing_ops_once_per_link() -> None:
    state, _ = group_of(BOB, CAROL)
    gossip = groups.GroupGossip(state.group)
    assert gossip.ops_behind(state, BOB.public_key, 1) == state.ops[1:]
    assert gossip.ops_behind(state, BOB.public_key, 2) == ()  # our own push coming back
    assert gossip.ops_behind(state, BOB.public_key, 3) == ()  # at our head: nothing to send
    gossip.forget(BOB.public_key)
    assert gossip.ops_behind(state, BOB.public_key, 2) == state.ops[2:]
    before = state
    after = groups.remove(state, OWNER, CAROL.public_key, 0, rand()).state
    links = [BOB.public_key, CAROL.public_key, EVE.public_key]
    assert groups.op_targets(before, after, links, BOB.public_key) == [CAROL.public_key]


# --- codec --------------------------------------------------------------------------------------

keys32 = st.binary(min_size=32, max_size=32)
names = name_text  # the one name rule, as the other record tests draw it


@st.composite
def group_ops(draw: st.DrawFn) -> GroupOp:
    number = draw(st.integers(1, MAX_GROUP_OPS))
    kind = GroupOpKind.CREATE if number == 1 else draw(st.sampled_from(GroupOpKind.ALL[1:]))
    return GroupOp(
        group=draw(st.binary(min_size=16, max_size=16)),
        number=number,
        kind=kind,
        epoch=draw(st.integers(1, 2**63 - 1)),
        subject=draw(keys32),
        name=draw(names) if kind in (GroupOpKind.CREATE, GroupOpKind.ADD) else "",
        title=draw(names) if kind == GroupOpKind.CREATE else "",
        cut=draw(st.integers(0, 2**63 - 1)) if kind in (3, 4) else 0,
        key_check=b"" if kind == GroupOpKind.TRANSFER else draw(
            st.binary(min_size=GROUP_KEY_CHECK_LEN, max_size=GROUP_KEY_CHECK_LEN)),
        prev=draw(keys32),
        sig=draw(st.binary(min_size=64, max_size=64)),
    )


group_records = st.one_of(
    group_ops(),
    st.builds(
        GroupInvite,
        ops=st.lists(group_ops(), min_size=1, max_size=4).map(tuple),
        heads=st.dictionaries(keys32, st.tuples(st.integers(1, 2**63 - 1), keys32), max_size=4)
        .map(lambda d: tuple((a, s, h) for a, (s, h) in sorted(d.items()))),
        lamport=st.integers(0, 2**63 - 1),
    ),
    st.builds(GroupKey, group=st.binary(min_size=16, max_size=16),
              epoch=st.integers(1, 2**63 - 1), key=keys32),
    st.builds(GroupKeyRequest, group=st.binary(min_size=16, max_size=16),
              epoch=st.integers(1, 2**63 - 1)),
    st.builds(GroupLeave, group=st.binary(min_size=16, max_size=16), member=keys32,
              number=st.integers(1, 2**63 - 1), last_seq=st.integers(0, 2**63 - 1),
              sig=st.binary(min_size=64, max_size=64)),
    st.builds(GroupPrune, group=st.binary(min_size=16, max_size=16), author=keys32),
)


@SETTINGS
@given(group_records, st.data())
def test_group_records_roundtrip_and_refuse_damage(record: Record, data: st.DataObject) -> None:
    encoded = encode_record(record)
    assert decode_record(encoded) == record
    cut = data.draw(st.integers(0, len(encoded) - 1))
    flip = data.draw(st.integers(0, len(encoded) - 1))
    damaged = bytearray(encoded)
    damaged[flip] ^= data.draw(st.integers(1, 255))
    for bad in (encoded[:cut], bytes(damaged), encoded + b"\x00"):
        try:
            decoded = decode_record(bad)
        except ProtocolError:
            continue
        assert encode_record(decoded) == bad  # anything accepted is canonical


def test_group_op_fields_a_kind_does_not_use_must_be_empty() -> None:
    state, _ = group_of(BOB)
    op = state.ops[-1]
    for bad in (dict(title="x"), dict(cut=1), dict(key_check=b""), dict(kind=GroupOpKind.CREATE),
                dict(number=0), dict(kind=99)):
        with pytest.raises(ProtocolError):
            replace(op, **bad)  # type: ignore[arg-type]
    assert replace(op, number=MAX_GROUP_OPS + 1).number == 101  # no lifetime cap (8.14)
    with pytest.raises(ProtocolError, match="unique and ascending"):
        GroupInvite(ops=(op,), heads=((b"a" * 32, 1, b"h" * 32), (b"a" * 32, 2, b"h" * 32)))


@pytest.mark.parametrize("key_check", [b"k", b"k" * 5, b"k" * 15, b"k" * 16, b"k" * 17])
def test_a_transfer_carries_no_key_check_at_all(key_check: bytes) -> None:
    # A transfer starts no epoch; a short key_check slipping through would replace the
    # current epoch's commitment at members that took it, and split them from those that did not.
    state, _ = group_of(BOB)
    create = state.ops[0]
    transfer = replace(create, number=2, kind=GroupOpKind.TRANSFER, name="", title="",
                       key_check=b"")
    assert decode_record(encode_record(transfer)) == transfer
    with pytest.raises(ProtocolError, match=r"GroupOp\.key_check"):
        replace(transfer, key_check=key_check)
    fields = [GroupOp.CODE, *transfer._fields()]
    assert fields[9] == b""
    fields[9] = key_check  # the key_check, as a hostile peer would encode it
    with pytest.raises(ProtocolError, match=r"GroupOp\.key_check"):
        decode_record(pack(fields))


def test_a_full_invitation_fits_in_one_record() -> None:
    """The worst case: MAX_GROUP_OPS ops with the longest 4-byte-character names, 100 heads."""
    wide = "\U0001f600" * MAX_NAME_CHARS
    base = GroupOp(group=b"g" * 16, number=1, kind=GroupOpKind.CREATE, epoch=2**63 - 1,
                   subject=b"s" * 32, name=wide, title=wide, cut=0, key_check=b"k" * 16,
                   prev=b"p" * 32, sig=b"x" * 64)
    ops = [base] + [replace(base, number=n, kind=GroupOpKind.ADD, title="")
                    for n in range(2, MAX_GROUP_OPS + 1)]
    heads = tuple((n.to_bytes(32, "big"), 2**63 - 1, b"h" * 32) for n in range(MAX_GROUP_OPS))
    invite = GroupInvite(ops=tuple(ops), heads=heads, lamport=2**63 - 1)
    size = len(encode_record(invite))
    assert size <= MAX_RECORD_LEN, size
    assert decode_record(encode_record(invite)) == invite


# --- op application, property -------------------------------------------------------------------

actions = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "leave", "transfer"]), st.integers(0, 7)),
    min_size=1, max_size=12,
)


@SETTINGS
@given(actions, st.integers(0, 2**32))
def test_every_member_derives_the_owners_state(program: list[tuple[str, int]], seed: int) -> None:
    by_key = {p.public_key: p for p in PEOPLE}
    r = rand(seed)
    change = groups.create(OWNER, "g", "o", r)
    state = change.state
    ops = [change.op]
    for action, who in program:
        person = PEOPLE[who]
        owner = by_key[state.owner]
        try:
            if action == "add":
                change = groups.invite(state, owner, person.public_key, "n", r)
            elif action == "remove":
                change = groups.remove(state, owner, person.public_key, who, r)
            elif action == "leave":
                leave = groups.request_leave(state, person, who)
                change = groups.enact_leave(state, owner, leave, r)
            else:
                change = groups.transfer(state, owner, person.public_key)
        except GroupError:
            continue  # not allowed in this state (not a member, the owner, ...): nothing changed
        if change.key is not None:
            assert change.op.subject not in {m for m, _ in change.deliveries} or (
                change.op.kind == GroupOpKind.ADD)
            assert {m for m, _ in change.deliveries} == set(change.state.members) - {
                state.owner}
        state = change.state
        ops.append(change.op)
    # A replica that gets the ops off the wire, in order, ends in the same state...
    replica = groups.genesis(ops[0])
    for op in ops[1:]:
        decoded = decode_record(encode_record(op))
        assert isinstance(decoded, GroupOp)
        replica = groups.apply_op(replica, decoded)
    assert replica == state
    # ...and refuses every op again, and anything out of order.
    for op in ops[1:]:
        with pytest.raises(OpReplay):
            groups.apply_op(replica, op)
    if len(ops) > 2:
        with pytest.raises(OpGap):
            groups.apply_op(groups.genesis(ops[0]), ops[2])


# --- simulation ---------------------------------------------------------------------------------

N = 30


def say_randomly(sim: Sim, count: int, authors: list[bytes], *, interleave: int = 8) -> None:
    """``count`` messages by random authors, with a random number of deliveries between them."""
    for i in range(count):
        sim.say(sim.rng.choice(authors), f"message {i}")
        sim.run(steps=sim.rng.randrange(interleave))


def assert_converged(sim: Sim) -> None:
    members = sim.members()
    expected = {envelope_hash(e) for e in sim.messages if e.author in {m.key for m in members}}
    orders = set()
    for rep in members:
        held = {envelope_hash(e) for e in rep.store.values()}
        assert expected <= held, f"{len(expected - held)} missing at a replica"
        assert set(rep.shown) <= held and all(n == 1 for n in rep.shown.values())
        assert {h for h in expected if rep.shown[h] == 1} == expected  # each shown exactly once
        orders.add(tuple(envelope_hash(e) for e in sorted(rep.store.values(), key=display_key)))
    assert len(orders) == 1  # one display order everywhere


@pytest.mark.parametrize("seed", [1, 6, 7])
def test_simulation_every_message_reaches_every_member_once(seed: int) -> None:
    sim = Sim(N, seed=seed)
    assert len(sim.edges()) == N * 3 // 2
    say_randomly(sim, 300, sim.order)
    sim.settle()
    assert_converged(sim)
    reached = len(sim.messages) * (N - 1)
    ratio = sim.envelope_sends / reached
    print(f"\ngroup gossip: {sim.envelope_sends} envelope transmissions for {reached} "
          f"deliveries = {ratio:.3f} per member reached; other records {dict(sim.other_sends)}")
    assert ratio <= 2.0


@pytest.mark.parametrize("seed", [1, 6, 7])
def test_simulation_pushes_settle_into_one_tree_per_author(seed: int) -> None:
    """Once every author's tree is pruned, pushes alone reach everyone, about once each."""
    sim = Sim(N, seed=seed)
    say_randomly(sim, 100, sim.order)
    sim.settle()
    before = sim.envelope_sends
    say_randomly(sim, 200, sim.order)
    sim.run()
    assert all(len(r.store) == 300 for r in sim.replicas.values())  # no anti-entropy needed
    ratio = (sim.envelope_sends - before) / (200 * (N - 1))
    print(f"\ngroup gossip after warm-up: {ratio:.3f} transmissions per member reached")
    assert ratio <= 1.1
    assert sim.settle() == 0
    assert_converged(sim)


def test_simulation_a_member_away_for_100_messages_catches_up() -> None:
    sim = Sim(N, seed=2)
    say_randomly(sim, 20, sim.order)
    sim.settle()
    away = sim.order[7]
    peers = sorted(sim.replicas[away].links)
    for peer in peers:
        sim.unlink(away, peer)
    others = [k for k in sim.order if k != away]
    say_randomly(sim, 100, others)
    sim.run()
    assert len(sim.replicas[away].store) == 20
    for peer in peers:
        sim.link(away, peer)
    rounds = sim.settle()
    assert len(sim.replicas[away].store) == 120
    assert_converged(sim)
    print(f"\naway member caught up in {rounds + 1} anti-entropy rounds")


def test_simulation_partition_heals_and_converges() -> None:
    sim = Sim(N, seed=3)
    say_randomly(sim, 10, sim.order)
    sim.settle()
    west, east = set(sim.order[: N // 2]), set(sim.order[N // 2 :])
    crossing = [tuple(e) for e in sim.edges() if len(e & west) == 1]
    assert crossing
    for a, b in crossing:
        sim.unlink(a, b)
    for i in range(60):
        side = sorted(west) if i % 2 else sorted(east)
        sim.say(sim.rng.choice(side), f"partitioned {i}")
        sim.run(steps=sim.rng.randrange(8))
    sim.settle()
    east_only = {envelope_hash(e) for e in sim.messages[10:] if e.author in east}
    assert east_only
    west_rep = sim.replicas[sorted(west)[0]]
    assert not east_only & {envelope_hash(e) for e in west_rep.store.values()}
    for a, b in crossing:
        sim.link(a, b)
    sim.settle()
    assert_converged(sim)


def test_simulation_removed_member_reads_nothing_after_its_removal() -> None:
    sim = Sim(N, seed=4)
    say_randomly(sim, 30, sim.order)
    sim.settle()
    owner_key, removed_key = sim.order[0], sim.order[9]
    owner, removed = sim.replicas[owner_key], sim.replicas[removed_key]
    old_epoch = owner.state.epoch
    cut = owner.log.head(removed_key)[0]
    change = groups.remove(owner.state, owner.identity, removed_key, cut, sim.rng.randbytes)
    assert removed_key not in {m for m, _ in change.deliveries}
    sim.apply_owner_change(owner_key, change)
    sim.run()
    new_epoch = change.state.epoch
    assert all(r.state == change.state for r in sim.replicas.values())  # the op reached all
    assert new_epoch not in removed.keys
    assert all(new_epoch in r.keys for r in sim.members())
    # The removed member keeps writing under its old epoch key: refused everywhere.
    stale = replace(removed.state, members={**removed.state.members, removed_key: "x"},
                    epoch=old_epoch)
    sneaky = groups.seal_group_envelope(stale, removed.keys, removed.identity, removed.log,
                                        encode_text("still here"), 0, sim.rng.randbytes)
    assert sneaky.seq == cut + 1
    for peer in sorted(removed.links):
        sim.send(removed_key, peer, sneaky)
    sim.run()
    say_randomly(sim, 40, [m.key for m in sim.members()])
    sim.settle()
    assert_converged(sim)
    assert all((removed_key, sneaky.seq) not in r.store for r in sim.members())
    assert all(any("past their cut" in why for why in sim.replicas[p].refused)
               for p in removed.links)
    # Nothing sent after the removal opens for the removed member, with any key it holds.
    for env in sim.messages[-40:]:
        assert env.author != removed_key
        with pytest.raises(MissingKey):
            groups.open_group_envelope(removed.state, removed.keys, env)
        nonce, ciphertext = env.body[8:32], env.body[32:]
        ad = groups.envelope_ad(env.conv, new_epoch, env.author, env.seq)
        for key in removed.keys.values():
            with pytest.raises(nacl.exceptions.CryptoError):
                nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    held = {envelope_hash(e) for e in removed.store.values()}
    assert not held & {envelope_hash(e) for e in sim.messages[-40:]}


def test_simulation_a_leave_while_the_owner_is_away_is_enacted_when_it_returns() -> None:
    sim = Sim(N, seed=8)
    say_randomly(sim, 20, sim.order)
    sim.settle()
    owner_key, leaver_key = sim.order[0], sim.order[11]
    owner, leaver = sim.replicas[owner_key], sim.replicas[leaver_key]
    owner_links = sorted(owner.links)
    for peer in owner_links:
        sim.unlink(owner_key, peer)
    epoch = owner.state.epoch
    sim.say(leaver_key, "bye")
    sim.run()
    leave = sim.leave(leaver_key)
    assert leave.last_seq == leaver.log.head(leaver_key)[0]
    assert not leaver.keys and not leaver.links  # stopped at once, locally
    with pytest.raises(MissingKey):
        sim.say(leaver_key, "one more")
    # The others keep talking in the old epoch meanwhile, and hold the request for the owner.
    stayers = [k for k in sim.order if k not in (owner_key, leaver_key)]
    say_randomly(sim, 30, stayers)
    sim.settle()
    assert all(r.state.epoch == epoch for r in sim.replicas.values())
    assert all(leaver_key in sim.replicas[k].pending_leaves for k in stayers)
    # The owner comes back, gets the request from a member and rekeys without the leaver.
    for peer in owner_links:
        sim.link(owner_key, peer)
    sim.settle()
    assert owner.state.epoch == epoch + 1 and leaver_key not in owner.state.members
    assert owner.state.ops[-1].kind == GroupOpKind.LEAVE and owner.state.ops[-1].cut == (
        leave.last_seq)
    assert all(r.state == owner.state for k, r in sim.replicas.items() if k != leaver_key)
    assert all(not r.pending_leaves for r in sim.members())
    assert epoch + 1 not in leaver.keys
    say_randomly(sim, 20, [m.key for m in sim.members()])
    sim.settle()
    assert_converged(sim)
    assert all(m.log.head(leaver_key)[0] == leave.last_seq for m in sim.members())


def test_simulation_forgeries_and_replayed_changes_are_refused_everywhere() -> None:
    sim = Sim(N, seed=5)
    say_randomly(sim, 10, sim.order)
    sim.settle()
    forger_key, victim_key = sim.order[3], sim.order[4]
    forger = sim.replicas[forger_key]
    victim_log = ConversationLog(sim.group, {victim_key: forger.log.head(victim_key)},
                                 forger.log.lamport)
    fake = victim_log.append_local(victim_key, sim.messages[0].body, 0, sign=forger.identity.sign)
    for peer in sorted(forger.links):
        sim.queue.append((forger_key, peer, encode_record(fake)))
    sim.run()
    for rep in sim.replicas.values():
        with pytest.raises(GroupError, match="not signed by its author"):
            groups.check_group_envelope(rep.state, fake)
    states = {k: r.state for k, r in sim.replicas.items()}
    # Replays of membership changes: an old op, and the op that added the forger.
    for peer in sorted(forger.links):
        for op in (sim.replicas[peer].state.ops[1], sim.replicas[peer].state.ops[4]):
            sim.queue.append((forger_key, peer, encode_record(op)))
    # A change the owner never signed, at the next number.
    owner_state = sim.replicas[sim.order[0]].state
    unsigned = groups.invite(owner_state, sim.replicas[sim.order[0]].identity, EVE.public_key,
                             "eve", sim.rng.randbytes).op
    bogus = replace(unsigned, sig=forger.identity.sign(unsigned.signing_bytes()))
    for peer in sorted(forger.links):
        sim.queue.append((forger_key, peer, encode_record(bogus)))
    sim.run()
    sim.settle()
    for key, rep in sim.replicas.items():
        assert rep.state == states[key]
        assert (victim_key, fake.seq) not in rep.store or rep.store[(victim_key, fake.seq)] != fake
    neighbours = [sim.replicas[p] for p in sorted(forger.links)]
    assert all(any("not signed by its author" in why for why in r.refused) for r in neighbours)
    assert all(any("not signed by the owner" in why for why in r.refused) for r in neighbours)
    assert_converged(sim)


def test_a_departure_regrows_every_tree() -> None:
    """trial1 B4: bob had pruned alice's own pushes (her copy via carol came first); carol went,
    and alice's next message had nowhere to go. Every mark is eager again after a departure."""
    alice, bob = b"a" * 32, b"b" * 32
    gossip = groups.GroupGossip(b"g" * 16)
    gossip.on_prune(bob, alice)
    assert not gossip.is_eager(bob, alice)
    gossip.regrow()
    assert gossip.is_eager(bob, alice)
