"""A hostile group member (a real Session over a real socket, sending envelopes it built and
signed itself) against a real node: what it can make the node hold, store, show and believe."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

import pytest

from p2pchat.core import groups as core
from p2pchat.core.gap_buffer import GAP_BYTES_PER_CONVERSATION
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.member_budget import MEMBER_BURST
from p2pchat.core.messages import (
    MAX_BODY_LEN,
    Envelope,
    GroupDigest,
    GroupInvite,
    GroupOp,
    SyncRequest,
    SyncVector,
    envelope_hash,
)
from p2pchat.core.session import SessionConfig
from p2pchat.core.sync import ConversationLog
from p2pchat.node import CommandError, Node
from p2pchat.node.conversations import now_ms
from p2pchat.node.group_invitations import INVITATION_TTL_MS, MAX_INVITATIONS_PER_INVITER
from tests.aio import next_event, turns, until
from tests.groups_net import befriend, group_of, invite_and_accept
from tests.hostile_member import HostileMember, honest_member
from tests.hostile_peer import HostilePeer, PeerClosed, hostile_contact
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)

BIG = MAX_BODY_LEN - core.BODY_OVERHEAD  # the largest plaintext an envelope carries


def pending(node: Node, group: str) -> tuple[int, int]:
    conv_log = node.conversations.log_of(bytes.fromhex(group))
    return conv_log.pending_count, conv_log.pending_bytes


async def test_envelopes_past_a_gap_are_bounded_in_bytes_and_released_with_the_link(
        make_local_node: MakeLocalNode) -> None:
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    envs = mallory.envelopes(101, size=BIG)
    async with mallory.connect(owner) as peer:
        await peer.send_many(envs[1:])  # seq 2..101: seq 1 never comes
        # The vector that follows shows the node has read every one of them.
        await peer.send(SyncVector(conv=envs[0].conv, vector={}))
        await until(lambda: owner.conversations.log_of(envs[0].conv).pending_count > 0, 20,
                    "some held")
        await peer.send(SyncVector(conv=envs[0].conv, vector={}))
        count, held = pending(owner, mallory.group)
        assert held <= GAP_BYTES_PER_CONVERSATION
        assert count <= GAP_BYTES_PER_CONVERSATION // BIG
        assert owner.conversations.gap_budget.used == held
    # The link is gone: so is what only it made the node hold.
    await until(lambda: pending(owner, mallory.group) == (0, 0), 20, "released")
    assert owner.conversations.gap_budget.used == 0
    # The gap filled later (seq 1 arrives): the rest comes again and nothing is lost.
    async with mallory.connect(owner) as peer:
        await peer.send_many(envs[:20])
        await until(lambda: owner.conversations.log_of(envs[0].conv).head(mallory.key)[0]
                    == 20, 20, "seq 1..20 stored")


async def test_a_real_victim_process_stays_flat_under_gap_pinning(tmp_path: object) -> None:
    """Issue 22's measurement, small: two groups, 200 envelopes of 64 KiB each past a gap,
    against a real node process (the full run: `python -m tests.gap_pinning`)."""
    from pathlib import Path

    from tests.gap_pinning import attack

    assert isinstance(tmp_path, Path)
    result = await attack(tmp_path, groups=2, count=200)
    assert result["growth_mib"] <= 20, result  # unbounded, this was 25 MiB and kept
    assert result["kept_mib"] <= 16, result


async def test_a_member_cannot_backdate_before_what_its_vector_acknowledged(
        make_local_node: MakeLocalNode) -> None:
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    conv = bytes.fromhex(mallory.group)
    for text in ("o1", "o2", "o3"):
        await owner.send(mallory.group, text)
    head = owner.conversations.log_of(conv).head(owner.key)[0]
    backdated = mallory.text("backdated", sent_at=1_577_836_800_000)  # 2020, lamport 1
    assert backdated.lamport == 1
    async with mallory.connect(owner) as peer:
        # Mallory says it holds o1..o3 (its own log empty), then writes before them.
        await peer.send(SyncVector(conv=conv, vector={owner.key: head}))
        await peer.send(backdated)
        await peer.send(SyncVector(conv=conv, vector={owner.key: head}))
        await until(lambda: owner.conversations.log_of(conv).floor(mallory.key, 1) > 0, 10,
                    "the floor")
    texts = [m["text"] for m in owner.history(mallory.group)]
    assert "backdated" not in texts[:texts.index("o3") + 1], texts
    assert "backdated" not in texts
    # The floor outlives a restart (kept in the store).
    assert owner.db.groups.floors(conv) == [(mallory.key, 0, owner.conversations.log_of(conv)
                                            .floor(mallory.key, 1))]


def store_bytes(node: Node) -> int:
    """The node's database on disk, its write-ahead log included."""
    return sum(path.stat().st_size for path in node.home.glob("p2pchat.db*"))


async def test_a_members_flood_stops_at_the_first_honest_member(
        make_local_node: MakeLocalNode, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="p2pchat.node")
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    bob = await honest_member(make_local_node, owner, mallory.group, "bob")
    conv = bytes.fromhex(mallory.group)
    before = store_bytes(bob)
    flood = mallory.envelopes(600, size=BIG)  # 38.4 MiB, to the owner only
    async with mallory.connect(owner) as peer:
        with contextlib.suppress(PeerClosed, ConnectionError, TimeoutError):
            for start in range(0, len(flood), 50):
                await peer.send_many(list(flood[start:start + 50]))
        await peer.wait_closed()
    await until(lambda: any("over its budget in a group" in r.getMessage()
                            for r in caplog.records), 10, "the owner closes mallory's link")
    held = owner.db.groups.author_bytes(conv).get(mallory.key, 0)
    assert 0 < held <= MEMBER_BURST + 2 * MAX_BODY_LEN
    await until(lambda: bob.db.groups.author_bytes(conv).get(mallory.key, 0) >= held - MAX_BODY_LEN,
                20, "bob has what the owner took")
    await bob.outbox.durable()
    assert store_bytes(bob) - before <= 20_000_000
    warnings = [r for r in caplog.records if "refused group envelopes of" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, not once per envelope
    # An honest member's chatting is untouched by it.
    await bob.send(mallory.group, "still here")
    await until(lambda: "still here" in [m["text"] for m in owner.history(mallory.group)], 20,
                "bob's message")


def notice_lines(node: Node, group: str) -> list[str]:
    return [m["text"] for m in node.history(group) if m.get("notice") == "equivocation"]


async def test_equivocation_is_exposed_to_both_victims(make_local_node: MakeLocalNode) -> None:
    """Mallory signs seq 1 "vote YES" for the owner and a different seq 1 "vote NO" for bob
    (same lamport, same prev). Both find out: an event, a line in the log naming her."""
    owner = await make_local_node("owner")  # the default anti-entropy interval: 10 s
    mallory = await HostileMember.join(make_local_node, owner)
    bob = await honest_member(make_local_node, owner, mallory.group, "bob")
    mallory.catch_up(owner)  # bob's add started a new epoch
    events = {x.name: x.events.subscribe() for x in (owner, bob)}
    fork = ConversationLog(mallory.log.conv, {}, mallory.log.lamport)
    yes = mallory.text("vote YES")
    mallory.log = fork
    no = mallory.text("vote NO")
    assert (yes.seq, yes.lamport, yes.prev) == (no.seq, no.lamport, no.prev) and yes != no
    async with mallory.connect(owner) as to_owner, mallory.connect(bob) as to_bob:
        await to_owner.send(yes)
        await to_bob.send(no)
        sent = time.monotonic()
        for name in ("owner", "bob"):
            event = await next_event(events[name], "equivocation", timeout=15)
            print(f"EQUIVOCATION {name} told after {time.monotonic() - sent:.3f} s")
            assert event["author"] == fingerprint(mallory.key)
            assert event["author_name"] == "mallory"
            assert sorted(v["text"] for v in event["versions"]) == ["vote NO", "vote YES"]
    for node in (owner, bob):
        [line] = notice_lines(node, mallory.group)
        assert "mallory" in line and "vote YES" in line and "vote NO" in line
        assert node.db.groups.equivocations(bytes.fromhex(mallory.group))[0][:2] == (mallory.key, 1)
        marked = {m["name"]: m["equivocated"] for m in node.group_members(mallory.group)}
        assert marked == {"owner": False, "bob": False, "mallory": True}


async def test_a_digest_with_another_id_at_a_head_asks_for_that_version(
        make_local_node: MakeLocalNode) -> None:
    """Anti-entropy alone finds it: a member whose digest names a different envelope at a seq
    we hold is asked for its version (and sent ours)."""
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    yes = mallory.text("vote YES")
    mallory.log = ConversationLog(mallory.log.conv, {}, mallory.log.lamport)
    no = mallory.text("vote NO")
    async with mallory.connect(owner) as peer:
        await peer.send(yes)
        await until(lambda: owner.conversations.log_of(yes.conv).head(mallory.key)[0] == 1,
                    10, "yes stored")
        await peer.send(GroupDigest(group=yes.conv,
                                    heads=((mallory.key, 1, envelope_hash(no)),)))
        request = await peer.recv_until(SyncRequest)
        assert (request.author, request.first, request.last) == (mallory.key, 1, 1)
        await peer.send(no)
        await until(lambda: notice_lines(owner, mallory.group), 10, "the notice")


@pytest.mark.parametrize("revision", [2, 3])
async def test_a_digest_goes_only_to_peers_that_announced_its_revision(
        make_local_node: MakeLocalNode, revision: int) -> None:
    """protocol.md 12: GroupDigest is a revision-3 record; a peer announcing revision 2 would
    close the link on it, so it never gets one (the greeting's op still comes)."""
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    async with mallory.connect(owner, config=SessionConfig(revision=revision)) as peer:
        seen: list[object] = []
        for _ in range(50):  # the greeting: vector, (digest), the last op, ...
            seen.append(await peer.recv())
            if isinstance(seen[-1], GroupOp):
                break
        assert any(isinstance(r, GroupOp) for r in seen), seen
        assert any(isinstance(r, GroupDigest) for r in seen) == (revision >= 3)


async def test_a_late_copy_of_an_enacted_leave_is_no_refusal(
        make_local_node: MakeLocalNode, caplog: pytest.LogCaptureFixture) -> None:
    """A member passes on bob's leave after the owner enacted it: nothing to refuse, and no
    warning naming the member who passed it on (a newcomer saw "refused a leave request from
    carol" when bob left)."""
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    bob = await honest_member(make_local_node, owner, mallory.group, "bob")
    await owner.send(mallory.group, "hi")
    mallory.catch_up(owner)
    leave = core.request_leave(mallory.state, bob.identity, 0)  # what bob's leave says
    await bob.leave_group(mallory.group)
    await until(lambda: group_of(owner, mallory.group)["members"] == 2, 10, "the leave enacted")
    caplog.clear()
    async with mallory.connect(owner) as to_owner:
        await to_owner.send(leave)
        await to_owner.send(SyncRequest(conv=bytes.fromhex(mallory.group), author=owner.key,
                                        first=1, last=1))
        await to_owner.recv_until(Envelope)  # the leave, sent first, was handled by now
    assert not [r for r in caplog.records if "leave request" in r.getMessage()]


def spam_invitation(mallory: Identity, victim: Node, i: int) -> GroupInvite:
    change = core.create(mallory, f"spam{i}", "mallory", os.urandom)
    added = core.invite(change.state, mallory, victim.key, "victim", os.urandom)
    return core.invitation(added.state, {}, 0)


async def test_spam_invitations_never_keep_an_honest_one_out(
        make_local_node: MakeLocalNode) -> None:
    victim = await make_local_node("victim")
    mallory = await hostile_contact(victim, "mallory")
    host, port = victim.listen_addresses[0]
    async with HostilePeer.connect(mallory, (host, port), remote_key=victim.key) as peer:
        spam = [spam_invitation(mallory, victim, i) for i in range(250)]
        await peer.send_many(list(spam[:200]))
        await peer.send_many(list(spam[200:]))
        await peer.send(SyncVector(conv=spam[0].ops[0].group, vector={}))
        await until(lambda: len(victim.list_groups()) == MAX_INVITATIONS_PER_INVITER, 10,
                    "the first few pending")
        await turns()
        pending = victim.list_groups()
        assert len(pending) == MAX_INVITATIONS_PER_INVITER
        assert {g["role"] for g in pending} == {"invited"}
        assert all(g["invited_by_name"] == "mallory" for g in pending)
        # Declining one frees its slot for the next; so does one expiring.
        await victim.decline_group(pending[0]["group"])
        await peer.send(spam[249])
        await until(lambda: spam[249].ops[0].group.hex() in
                    [g["group"] for g in victim.list_groups()], 10, "a freed slot")
        victim.groups._invitations.expire(now_ms() + INVITATION_TTL_MS)
        assert victim.list_groups() == []
        assert victim.db.groups.invitations() == []
    # An honest contact's invitation arrives and can be accepted.
    alice = await make_local_node("alice")
    await befriend(alice, victim)
    group = (await alice.create_group("book club"))["group"]
    await invite_and_accept(alice, group, victim)
    await until(lambda: group_of(victim, group)["has_key"], 20, "the victim in alice's group")
    await alice.send(group, "welcome")
    await until(lambda: "welcome" in [m["text"] for m in victim.history(group)], 20, "welcome")
    # Nothing of mallory's groups was created: they stay requests.
    assert victim.db.groups.list_all() == [(bytes.fromhex(group), False)]


async def test_a_group_titled_like_a_contact_never_takes_a_command(
        make_local_node: MakeLocalNode) -> None:
    victim = await make_local_node("victim")
    club = await make_local_node("club")  # a contact called "club"
    await befriend(victim, club)
    alice = await make_local_node("alice")
    await befriend(alice, victim)
    group = (await alice.create_group("club"))["group"]  # and a group called "club"
    await invite_and_accept(alice, group, victim)
    await until(lambda: group_of(victim, group)["has_key"], 20, "joined")
    for call in (lambda: victim.send("club", "hi"), lambda: _sync(victim.history, "club")):
        with pytest.raises(CommandError) as caught:
            await call()
        assert caught.value.code == "ambiguous"
        assert "#club" in str(caught.value) and "@club" in str(caught.value)
    to_group = await victim.send("#club", "to the group")
    to_contact = await victim.send("@club", "to the contact")
    assert to_group["conversation"] == group
    assert to_contact["conversation"] == fingerprint(club.key)
    assert [m["text"] for m in victim.history("#club")] == ["to the group"]


async def _sync(fn: Any, *args: Any) -> Any:
    return fn(*args)


async def test_equivocation_is_found_by_anti_entropy_alone_within_a_round(
        make_local_node: MakeLocalNode) -> None:
    """The owner and bob do not push mallory's envelopes to each other (their gossip tree for
    her is pruned, as it is once a tree has settled): the next anti-entropy round's digests
    find the two versions (default interval, 10 s)."""
    owner = await make_local_node("owner")
    mallory = await HostileMember.join(make_local_node, owner)
    bob = await honest_member(make_local_node, owner, mallory.group, "bob")
    mallory.catch_up(owner)
    conv = bytes.fromhex(mallory.group)
    owner.groups.find(mallory.group).gossip.on_prune(bob.key, mallory.key)
    bob.groups.find(mallory.group).gossip.on_prune(owner.key, mallory.key)
    events = {x.name: x.events.subscribe() for x in (owner, bob)}
    yes = mallory.text("vote YES")
    mallory.log = ConversationLog(conv, {}, mallory.log.lamport)
    no = mallory.text("vote NO")
    async with mallory.connect(owner) as to_owner, mallory.connect(bob) as to_bob:
        await to_owner.send(yes)
        await to_bob.send(no)
        sent = time.monotonic()
        for name in ("owner", "bob"):
            event = await next_event(events[name], "equivocation", timeout=15)
            print(f"ANTI-ENTROPY {name} told after {time.monotonic() - sent:.3f} s")
            assert event["author_name"] == "mallory"


async def test_a_declined_invitation_takes_the_invitee_out_again(
        make_local_node: MakeLocalNode) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await befriend(alice, bob)
    group = (await alice.create_group("book club"))["group"]
    await alice.send(group, "before bob")
    await alice.invite_to_group(group, "bob")
    await until(lambda: [g["role"] for g in bob.list_groups()] == ["invited"], 20, "invited")
    assert group_of(alice, group)["members"] == 2
    declined = await bob.decline_group("book club")
    assert declined["role"] == "declined" and bob.list_groups() == []
    await until(lambda: group_of(alice, group)["members"] == 1, 20, "alice enacts the no")
    assert bob.db.groups.list_all() == []  # nothing of it was ever kept
