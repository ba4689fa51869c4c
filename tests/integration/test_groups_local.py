"""Groups of 30 in-process nodes on a sparse random topology (each linked to about 3 others,
mDNS off, addresses of neighbours only): delivery exactly once, catch-up, partitions, removal,
forgery and replay. The deterministic pure simulation of the same is tests/unit/group_sim.py;
here the real node part, store, links and outbox do it."""

from __future__ import annotations

import random
from collections import Counter
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
from p2pchat.node import CommandError, Node
from tests.aio import until
from tests.groups_net import (
    Net,
    Shown,
    accept_invitation,
    befriend,
    group_of,
    invite_and_accept,
    set_contact,
    sparse_edges,
    texts,
)
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


async def test_many_texts_in_one_send_reach_a_member_two_hops_away_in_order(
        make_local_node: MakeLocalNode) -> None:
    net = await Net(make_local_node, 3, {(0, 1), (1, 2)}).build()  # 0 cannot reach 2 directly
    batch = [f"batch {i}" for i in range(40)]
    events = await net.nodes[0].send_many(net.group, batch)
    assert [e["text"] for e in events] == batch and all(e["group"] == "g30" for e in events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    await until(lambda: texts(net.nodes[2], net.group) == batch, 20, "the batch at node 2")
    with pytest.raises(CommandError) as refused:  # one bad text: none of the batch is sent
        await net.nodes[0].send_many(net.group, ["fine", ""])
    assert refused.value.code == "bad_text" and texts(net.nodes[0], net.group) == batch


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
    assert epoch not in held.keys and epoch not in removed.db.groups.epoch_keys(conv)
    assert not sent & set(texts(removed, net.group))
    author = net.nodes[1]
    for env in author.db.conversations.envelopes(conv, author.key, 1, 10_000):
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


async def test_members_who_are_not_contacts_link_for_the_group_only(
        make_local_node: MakeLocalNode) -> None:
    """B and C are not contacts; mDNS (on loopback) tells each where the other is, and the
    owner's member list lets them link, for the group's records and nothing else, as long as
    both are members."""
    mdns = {"mdns": True, "mdns_interfaces": ("127.0.0.1",), "group_sync_interval": 0.5}
    a, b, c = [await make_local_node(name, **mdns) for name in ("a", "b", "c")]
    await befriend(a, b)
    await befriend(a, c)
    group = (await a.create_group("club"))["group"]
    await invite_and_accept(a, group, b)
    await invite_and_accept(a, group, c)
    await until(lambda: b.links.is_linked(c.key), 20, "a group link between b and c")
    views = [v for v in b.peers()["links"] if v["fingerprint"] == fingerprint(c.key)]
    assert views[0]["state"] == "group" and views[0]["contact"] is None
    assert all(x["fingerprint"] != fingerprint(c.key) for x in b.list_contacts())
    port = a.listen_addresses[0][1]
    await a.stop()  # now only the group link joins b and c
    await b.send(group, "over the group link")
    await until(lambda: "over the group link" in texts(c, group), 10, "c reads b")
    with pytest.raises(CommandError):  # no 1:1 chat comes with it
        await b.send(fingerprint(c.key), "psst")
    assert not c.peers()["requests"]

    a = await make_local_node("a", identity=a.identity, listen=(("127.0.0.1", port),), **mdns)
    await until(lambda: a.links.is_linked(b.key) and a.links.is_linked(c.key), 20, "a back")
    await a.remove_from_group(group, "c")
    await until(lambda: not b.links.is_linked(c.key) and not c.links.is_linked(b.key), 10,
                "the group link closed")
    await b.send(group, "not for c")
    await until(lambda: "not for c" in texts(a, group), 10, "a reads b")
    assert "not for c" not in texts(c, group)


async def test_a_leave_reaches_an_owner_that_was_away(make_local_node: MakeLocalNode) -> None:
    """C leaves while the owner is down: B keeps C's signed request and hands it to the owner
    when it is back, which enacts it (a new epoch C never gets)."""
    a, b, c = [await make_local_node(n, group_sync_interval=0.5) for n in ("a", "b", "c")]
    await befriend(a, b)
    await befriend(a, c)
    await befriend(b, c)
    group = (await a.create_group("club"))["group"]
    await invite_and_accept(a, group, b)
    await invite_and_accept(a, group, c)
    await until(lambda: all(group_of(x, group)["has_key"] and group_of(x, group)["epoch"] == 3
                            for x in (b, c)), 10, "joined")
    port = a.listen_addresses[0][1]
    await a.stop()
    left = await c.leave_group("club")
    assert left["role"] == "left" and set(c.groups.find(group).keys) == {3}  # its epochs' keys
    await until(lambda: c.key in b.groups.find(group).leaves, 10, "b holds c's request")
    a = await make_local_node("a", identity=a.identity, listen=(("127.0.0.1", port),),
                              group_sync_interval=0.5)
    await until(lambda: group_of(a, group)["epoch"] == 4 and group_of(b, group)["has_key"]
                and group_of(b, group)["epoch"] == 4, 15, "the owner enacted the leave")
    assert [m["name"] for m in a.group_members(group)] == ["a", "b"]
    await b.send(group, "after c left")
    await until(lambda: "after c left" in texts(a, group), 10, "a reads b")
    assert "after c left" not in texts(c, group)
    assert 4 not in c.db.groups.epoch_keys(bytes.fromhex(group))


async def test_a_member_who_left_or_was_removed_can_be_invited_again(
        make_local_node: MakeLocalNode) -> None:
    a, b, c = [await make_local_node(n, group_sync_interval=0.5) for n in ("a", "b", "c")]
    await befriend(a, b)
    await befriend(a, c)
    group = (await a.create_group("club"))["group"]
    for who in (b, c):
        await invite_and_accept(a, group, who)

    def settled(*nodes: Node) -> bool:
        epoch = group_of(a, group)["epoch"]
        return all(group_of(x, group)["epoch"] == epoch and group_of(x, group)["has_key"]
                   for x in nodes)

    await until(lambda: settled(b, c), 10, "joined")
    await c.send(group, "c before")
    await c.leave_group(group)
    await until(lambda: group_of(a, group)["members"] == 2, 10, "the leave enacted")
    await invite_and_accept(a, group, c)
    await until(lambda: settled(b, c) and group_of(c, group)["role"] == "member", 10, "back")
    await c.send(group, "c again")
    await a.remove_from_group(group, "b")
    await until(lambda: group_of(b, group)["role"] == "removed", 10, "b out")
    await invite_and_accept(a, group, b)
    await until(lambda: settled(b, c) and group_of(b, group)["role"] == "member", 10, "b back")
    await b.send(group, "b again")
    await until(lambda: {"c before", "c again", "b again"} <= set(texts(a, group))
                and {"c again", "b again"} <= set(texts(c, group)), 10, "everything")
    assert Counter(texts(a, group)) == {"c before": 1, "c again": 1, "b again": 1}
    # c kept the keys of the epochs it was in when it left: what it held stays readable
    assert texts(c, group)[0] == "c before"


async def test_group_traffic_before_the_invitation_arrives_is_ignored_not_fatal(
        make_local_node: MakeLocalNode) -> None:
    """B counts C in as soon as the owner's op reaches it, and pushes to C before C holds the
    group (its invitation waits until C and the owner meet): C ignores that, keeps the link
    with B, and reads everything once it joins."""
    a, b, c = [await make_local_node(n, group_sync_interval=0.5) for n in ("a", "b", "c")]
    await befriend(a, b)
    await befriend(b, c)
    await set_contact(a, c, "c", dial=False)  # contacts, but nobody knows where the other is
    await set_contact(c, a, "a", dial=False)
    await until(lambda: a.links.is_linked(b.key) and b.links.is_linked(c.key), 10, "links")
    b_to_c = c.links.live(b.key)
    group = (await a.create_group("club"))["group"]
    await invite_and_accept(a, group, b)
    await until(lambda: group_of(b, group)["has_key"], 10, "b joined")
    await a.invite_to_group(group, "c")
    await until(lambda: b.groups.find(group).state.is_member(c.key), 10, "b counts c in")
    await b.send(group, "before c joined")
    await until(lambda: group_of(a, group)["members"] == 3
                and "before c joined" in texts(a, group), 10, "a has it")
    assert c.list_groups() == [] and b_to_c is not None and not b_to_c.closed
    await set_contact(a, c, "c", dial=True)  # they meet: the invitation is handed over
    await accept_invitation(c, group)
    await until(lambda: group_of(c, group)["has_key"]
                and "before c joined" in texts(c, group), 10, "c reads it after joining")
    assert not b_to_c.closed
