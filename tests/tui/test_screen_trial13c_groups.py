"""Trial 13c on the chat screen with real nodes: a group's size follows its member list (B4)."""

from __future__ import annotations

from p2pchat.node import Node
from p2pchat.tui.render import header
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, fp, screen


async def hike(make_local_node: MakeLocalNode) -> tuple[Node, Node, Node, str]:
    """carol's group hike with bob and dave, contacts of hers but not of each other; both
    invited, bob has accepted and carol saw it."""
    carol, bob, dave = [await make_local_node(n) for n in ("carol", "bob", "dave")]
    for other in (bob, dave):
        await carol.add_contact(fp(other), other.name, [addr(other)])
        await other.add_contact(fp(carol), "carol", [addr(carol)])
        await until(lambda o=other: carol.links.is_linked(o.key), what="the link")
    gid = str((await carol.create_group("hike", [fp(bob), fp(dave)]))["group"])
    for member in (bob, dave):
        await until(lambda m=member: any(g.get("role") == "invited" for g in m.list_groups()),
                    what="the invitation")
    await bob.accept_group("hike")
    await until(lambda: not any(m["invited"] for m in carol.group_members(gid)
                                if m["name"] == "bob"), 10, "carol sees bob join")
    return carol, bob, dave, gid


async def test_the_header_counts_a_member_who_accepted_before_you(
        make_local_node: MakeLocalNode) -> None:
    """B4: dave accepted after bob; his header stayed "hike · group · 2 members, 1 invited" for
    minutes while his Members page and `p2pchat group` said 3 members: carol tells him bob
    accepted a moment after his accept, and the header follows it."""
    _, _, dave, gid = await hike(make_local_node)
    daves = await screen(dave)
    try:
        await dave.accept_group("hike")  # as the chat and a plain API call do: no waiting
        await until(lambda: not any(m["invited"] for m in dave.group_members(gid)), 10,
                    "dave's node to learn that bob accepted")
        await daves.execute("/msg hike")
        await until(lambda: header(daves.state) == " hike · group · 3 members", 10,
                    "the header's count")
        conv = daves.state.conversations[gid]
        # No news: bob accepted before dave was in; no line or notice says it.
        assert not [m.text for m in conv.messages if "bob" in m.text], \
            [m.text for m in conv.messages]
        assert not [n.text for n in daves.state.notices if "bob" in n.text]
    finally:
        await daves.stop()


async def test_an_accept_that_waits_counts_the_members_the_inviter_saw_accept(
        make_local_node: MakeLocalNode) -> None:
    """B4, trial 13b B8 (3): `group accept` said "(2 members, 1 invited, 1 other online)",
    the invitation's chain; asked to wait (the CLI does), it answers once carol told it."""
    _, _, dave, _ = await hike(make_local_node)
    said = await dave.accept_group("hike", wait=True)
    assert (said["members"], said["invited"]) == (3, 0), said


def test_an_invitation_beside_a_group_of_its_name_is_answered_by_its_id() -> None:
    """B6: the pane's commands pick this invitation, not a joined group of the same name (the
    id, where the name is not enough); a group's kept history shows below the invitation."""
    from p2pchat.tui.render import history_rows
    from tests.tui.test_groups_ui import GROUP, group
    from tests.tui.test_state import BOB, loaded_state, message

    state = loaded_state()
    state.apply({"type": "group_joined", **group(), "by": BOB, "by_name": "bob"})
    state.apply(message(GROUP, "m1", "hello from before", author_name="carol")
                | {"group": "club"})
    state.conversations[GROUP].loaded = True
    other = "cd" * 16
    state.apply({"type": "group_invited", **group(role="invited"), "group": other,
                 "members": 2, "invited_by": BOB, "invited_by_name": "bob"})
    state.select(other)
    shown = ["".join(text for _, text in row) for row in history_rows(state, 200)]
    assert shown == [f"bob invites you to club (2 members): /group accept {other} or /group"
                     f" decline {other}"], shown
    state.apply({"type": "group_invitation_closed", "group": other, "title": "club",
                 "reason": "declined"})
    state.apply({"type": "group_invited", **group(role="invited"), "members": 3,
                 "invited_by": BOB, "invited_by_name": "bob"})  # removed, invited back
    state.select(GROUP)
    shown = ["".join(text for _, text in row) for row in history_rows(state, 200)]
    assert shown[0].startswith("bob invites you to club (3 members): /group accept club"), shown
    assert "Your history from before, kept:" in shown
    assert any("hello from before" in row for row in shown), shown


async def test_an_accept_counts_members_added_after_you_who_accepted_first(
        make_local_node: MakeLocalNode) -> None:
    """Trial 13b, B8: carol invited alice, then dave; dave accepted, then alice: "You joined
    book club (2 members, 1 other online)", the invitation's chain (dave's add came after
    it), and "~dave joined" only at the next anti-entropy round (10 s; none here). The inviter
    sends its head op before the joins it saw, and the accept waits for them."""
    quiet = {"group_sync_interval": 600.0}  # no tick helps: only what the accept brings
    carol, alice, dave = [await make_local_node(n, **quiet) for n in ("carol", "alice", "dave")]
    for other in (alice, dave):
        await carol.add_contact(fp(other), other.name, [addr(other)])
        await other.add_contact(fp(carol), "carol", [addr(carol)])
        await until(lambda o=other: carol.links.is_linked(o.key), what="the link")
    gid = str((await carol.create_group("book club"))["group"])
    for member in (alice, dave):
        await carol.invite_to_group(gid, fp(member))
        await until(lambda m=member: any(g.get("role") == "invited" for g in m.list_groups()),
                    what="the invitation")
    await dave.accept_group("book club")
    await until(lambda: not any(m["invited"] for m in carol.group_members(gid)
                                if m["name"] == "dave"), 10, "carol sees dave join")
    said = await alice.accept_group("book club", wait=True)
    assert (said["members"], said["invited"]) == (3, 0), said
    lines = [m["text"] for m in alice.history(gid, changes=True)]
    assert "~dave joined" in lines, lines
