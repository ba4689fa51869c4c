"""Trial 2 point 6: a member reachable only through another member (bob removed alice as a
contact; bob gets alice's group messages via carol) still counts as holding alice's message: carol
tells alice what bob's vector said of alice's log (`GroupHolders`, protocol 8.15)."""

from __future__ import annotations

import pytest

from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import GroupHolders, decode_record, encode_record
from tests.aio import until
from tests.groups_net import group_of, texts
from tests.integration.test_groups_trial1 import own, three
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)


async def test_a_member_reached_only_through_another_counts_as_holding_it(
        make_local_node: MakeLocalNode) -> None:
    a, b, _c, group = await three(make_local_node)
    await b.remove_contact(fingerprint(a.key))
    await a.remove_contact(fingerprint(b.key))
    await until(lambda: not a.links.is_linked(b.key) and not b.links.is_linked(a.key), 10,
                "a and b unlinked")
    await a.send(group, "trio test after removal")
    await until(lambda: "trio test after removal" in texts(b, group), 15, "b reads it via c")
    assert not a.links.is_linked(b.key)
    await until(lambda: fingerprint(b.key) in own(a, group, "trio test after removal")[
        "delivered_to"], 15, "a learns that b holds it")
    assert not a.links.is_linked(b.key)  # learned through c, not over a link of its own
    mine = own(a, group, "trio test after removal")
    assert (len(mine["delivered_to"]), mine["recipients"]) == (2, 2)


async def test_a_member_cannot_speak_for_itself_nor_for_strangers(
        make_local_node: MakeLocalNode) -> None:
    """Carol, over her real link, claims in GroupHolders that she and a stranger hold alice's
    message: alice takes neither (only carol's own vector speaks for carol), and takes the
    entry for bob, a member."""
    a, b, c, group = await three(make_local_node, sync=60.0)  # no tick: no vectors meanwhile
    await a.send(group, "nobody has said so yet")
    await until(lambda: "nobody has said so yet" in texts(c, group), 10, "c holds it")
    g = a.groups.find(group)
    assert g.receipts.get(c.key, 0) == 0
    stranger = b"\xff" * 32
    forged = GroupHolders(group=bytes.fromhex(group),
                          held=tuple(sorted([(c.key, 1), (stranger, 1), (b.key, 1)])))
    c.outbox.queue(c.links.by_peer[a.key], forged)
    c.outbox.schedule_flush()
    await until(lambda: g.receipts.get(b.key, 0) == 1, 10, "a takes the entry for bob")
    assert g.receipts.get(c.key, 0) == 0 and stranger not in g.receipts
    assert a.links.is_linked(c.key)  # a well-formed record: the link stays


def test_the_record_is_bounded_and_canonical() -> None:
    conv = bytes(16)
    record = GroupHolders(group=conv, held=((b"\x01" * 32, 3), (b"\x02" * 32, 1)))
    assert decode_record(encode_record(record)) == record
    for bad in (((b"\x02" * 32, 1), (b"\x01" * 32, 3)),  # not ascending
                ((b"\x01" * 32, 1), (b"\x01" * 32, 3)),  # twice
                ((b"\x01" * 32, 0),),  # seq 0
                tuple((i.to_bytes(32, "big"), 1) for i in range(101))):  # over 100
        with pytest.raises(ProtocolError):
            GroupHolders(group=conv, held=bad)


async def test_a_removed_member_hears_who_holds_its_messages_before_the_removal(
        make_local_node: MakeLocalNode) -> None:
    """Trial 10, B5: carol's "count me in" stayed "✓ 1/2" for ever though alice and bob held
    it: bob's receipt reached alice at once (his ack), but alice passes receipts on only on
    her next anti-entropy tick, and removed carol first. The remover tells them just before."""
    a, b, c, group = await three(make_local_node)
    await b.remove_contact(fingerprint(c.key))
    await c.remove_contact(fingerprint(b.key))
    await until(lambda: not b.links.is_linked(c.key) and not c.links.is_linked(b.key), 10,
                "b and c unlinked")
    a.groups._group_links._interval = 3600.0  # no tick of a's passes it on: only the removal
    g = a.groups.find(group)
    await c.send(group, "count me in")
    seq = own(c, group, "count me in")["seq"]
    await until(lambda: g.heard.get(b.key, {}).get(c.key, 0) >= seq, 15, "a hears b holds it")
    assert fingerprint(b.key) not in own(c, group, "count me in")["delivered_to"]
    await a.remove_from_group(group, fingerprint(c.key))
    await until(lambda: group_of(c, group)["role"] == "removed", 15, "c removed")
    mine = own(c, group, "count me in")
    await until(lambda: len(own(c, group, "count me in")["delivered_to"]) == 2, 10,
                "c's message held by both, as c knows it")
    assert mine["recipients"] == 2
