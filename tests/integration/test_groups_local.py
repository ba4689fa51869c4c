"""Groups of 30 in-process nodes on a sparse random topology (each linked to about 3 others,
mDNS off, addresses of neighbours only): delivery exactly once, catch-up, partitions, removal,
forgery and replay. The deterministic pure simulation of the same is tests/unit/group_sim.py;
here the real node part, store, links and outbox do it."""

from __future__ import annotations

import random
from dataclasses import replace

import nacl.bindings
import pytest

from p2pchat.core import groups as core
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import (
    Envelope,
    GroupLeave,
    GroupOpKind,
    encode_text,
)
from tests.aio import until
from tests.groups_net import Net, Shown, befriend, group_of, sparse_edges, texts
from tests.hostile_peer import HostilePeer
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)

N = 30


async def talk(net: Net, senders: list[int], count: int, prefix: str, seed: int) -> set[str]:
    rng = random.Random(seed)
    sent = set()
    for i in range(count):
        text = f"{prefix}{i}"
        await net.nodes[rng.choice(senders)].send(net.group, text)
        sent.add(text)
    return sent


Edges = set[tuple[int, int]]


def two_halves(seed: int) -> tuple[Edges, Edges, list[int], list[int]]:
    """Two sparse halves, each connected, joined by three cross edges."""
    rng = random.Random(seed)
    left, right = list(range(N // 2)), list(range(N // 2, N))
    edges = set(sparse_edges(len(left), rng))
    edges |= {(a + len(left), b + len(left)) for a, b in sparse_edges(len(right), rng)}
    cross = {(rng.choice(left), rng.choice(right)) for _ in range(3)}
    return edges | cross, cross, left, right


async def test_every_message_reaches_every_member_once(make_local_node: MakeLocalNode) -> None:
    net = await Net(make_local_node, N, sparse_edges(N, random.Random(1))).build()
    shown = Shown(net.nodes, net.group)
    sent = await talk(net, list(range(N)), 60, "m", seed=2)
    await until(lambda: shown.all_shown(sent), 30, "every message everywhere")
    for x in net.nodes:
        assert sorted(texts(x, net.group)) == sorted(sent)
    shown.drain()
    for name, counts in shown.counts.items():
        assert set(counts) == sent and set(counts.values()) == {1}, name


async def test_member_away_for_100_messages_catches_up(make_local_node: MakeLocalNode) -> None:
    net = await Net(make_local_node, N, sparse_edges(N, random.Random(3))).build()
    away = 7
    await net.stop(away)
    others = [i for i in range(N) if i != away]
    sent = await talk(net, others, 100, "while-away-", seed=4)
    await until(lambda: net.everyone_has([net.nodes[i] for i in others], sent), 30, "others")
    back = await net.restart(away)
    shown = Shown([back], net.group)
    await until(lambda: shown.all_shown(sent), 30, "the member back caught up")
    assert sorted(texts(back, net.group)) == sorted(sent)
    assert set(shown.counts[back.name].values()) == {1}


async def test_partition_both_halves_talk_then_heal(make_local_node: MakeLocalNode) -> None:
    edges, cross, left, right = two_halves(seed=5)
    net = await Net(make_local_node, N, edges).build()
    for a, b in cross:  # cut: the cross links go, and stay gone (blocked both ways)
        await net.nodes[a].block_contact(fingerprint(net.nodes[b].key))
        await net.nodes[b].block_contact(fingerprint(net.nodes[a].key))
    said_left = await talk(net, left, 20, "left-", seed=6)
    said_right = await talk(net, right, 20, "right-", seed=7)
    await until(lambda: net.everyone_has([net.nodes[i] for i in left], said_left), 30, "left")
    await until(lambda: net.everyone_has([net.nodes[i] for i in right], said_right), 30, "right")
    assert not said_right & set(texts(net.nodes[left[0]], net.group))  # it was a partition
    shown = Shown(net.nodes, net.group)
    for a, b in cross:  # heal
        await befriend(net.nodes[a], net.nodes[b])
    everything = said_left | said_right
    await until(lambda: net.everyone_has(net.nodes, everything), 30, "healed")
    shown.drain()
    for x in net.nodes:
        history = texts(x, net.group)
        assert sorted(history) == sorted(everything)
        assert max(shown.counts[x.name].values()) == 1  # nothing shown twice after the heal
    orders = {tuple(texts(x, net.group)) for x in net.nodes}
    assert len(orders) == 1  # one display order everywhere


async def test_removed_member_cannot_read_what_follows(make_local_node: MakeLocalNode) -> None:
    net = await Net(make_local_node, N, sparse_edges(N, random.Random(8))).build()
    owner, removed = net.nodes[0], net.nodes[11]
    before = group_of(owner, net.group)["epoch"]
    await owner.remove_from_group(net.group, fingerprint(removed.key))
    epoch = before + 1
    rest = [x for x in net.nodes if x is not removed]
    await until(lambda: all(group_of(x, net.group)["epoch"] == epoch
                            and group_of(x, net.group)["has_key"] for x in rest), 30, "rekeyed")
    await until(lambda: group_of(removed, net.group)["role"] == "removed", 30, "told it is out")
    sent = await talk(net, [1, 2, 3], 5, "after-", seed=9)
    await until(lambda: net.everyone_has(rest, sent), 30, "the rest read it")
    conv = bytes.fromhex(net.group)
    held = removed.groups.find(net.group)
    assert epoch not in held.keys and epoch not in removed.db.group_keys(conv)
    assert not sent & set(texts(removed, net.group))
    author = net.nodes[1]
    for env in author.db.envelopes(conv, author.key, 1, 10_000):
        if int.from_bytes(env.body[:8], "big") == epoch:
            with pytest.raises(core.GroupError):  # no key, and not a member at that epoch
                core.open_group_envelope(held.state, held.keys, env)


async def test_forged_envelopes_and_replayed_ops_are_refused(
        make_local_node: MakeLocalNode) -> None:
    net = await Net(make_local_node, N, sparse_edges(N, random.Random(10))).build()
    owner = net.nodes[0]
    conv = bytes.fromhex(net.group)
    out = net.nodes[12]
    await owner.remove_from_group(net.group, fingerprint(out.key))
    epoch = group_of(owner, net.group)["epoch"]
    await until(lambda: all(group_of(x, net.group)["epoch"] == epoch
                            and group_of(x, net.group)["has_key"]
                            for x in net.nodes if x is not out), 30, "removal everywhere")
    # The attacker: member 5's identity, on the link to one of 5's neighbours.
    attacker_i = 5
    neighbour_i = next(b if a == attacker_i else a for a, b in net.edges if attacker_i in (a, b))
    await net.stop(attacker_i)
    attacker = net.nodes[attacker_i].identity
    neighbour = net.nodes[neighbour_i]
    victim = net.nodes[9].key
    state = neighbour.groups.find(net.group).state
    keys = neighbour.groups.find(net.group).keys
    conv_log = neighbour.conversations.log_of(conv)
    seq, prev = conv_log.head(victim)
    epoch, nonce = state.epoch, bytes(core.NONCE_LEN)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(  # a readable body...
        encode_text("forged"), core.envelope_ad(conv, epoch, victim, seq + 1), nonce, keys[epoch])
    unsigned = Envelope(conv=conv, author=victim, seq=seq + 1, lamport=conv_log.lamport + 1,
                        sent_at=1, prev=prev, body=epoch.to_bytes(8, "big") + nonce + sealed,
                        sig=bytes(64))
    forged = replace(unsigned, sig=attacker.sign(unsigned.signing_bytes()))  # ...signed by 5
    add_op = next(op for op in state.ops if op.kind == GroupOpKind.ADD and op.subject == out.key)
    old_leave = GroupLeave(group=conv, member=out.key, number=add_op.number, last_seq=0,
                           sig=bytes(64))
    host, port = neighbour.listen_addresses[0]
    async with HostilePeer.connect(attacker, (host, port), remote_key=neighbour.key) as peer:
        await peer.send(forged)
        await peer.send(add_op)  # re-adding the removed member: an old op
        await peer.send(old_leave)
        good = await net.nodes[1].send(net.group, "after the attack")
        alive = [x for x in net.nodes if x not in (out, net.nodes[attacker_i])]
        await until(lambda: net.everyone_has(alive, {"after the attack"}), 30, "the good one")
    for x in alive:
        assert "forged" not in texts(x, net.group)
        assert not x.groups.find(net.group).state.is_member(out.key)
    assert good["text"] == "after the attack"
    # 9's own next message is still accepted everywhere: the forgery took no seq.
    await net.nodes[9].send(net.group, "nine again")
    await until(lambda: net.everyone_has(alive, {"nine again"}), 30, "9's real next message")
