"""Trial 13b on the chat screen with real nodes: declining an invitation to a group you were
removed from leaves the group as it was, removed with its history (B2)."""

from __future__ import annotations

from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import fp, screen
from tests.tui.test_screen_trial7 import team_with_bob_and_carol, three


async def test_declining_an_invitation_back_keeps_the_group_you_were_removed_from(
        make_local_node: MakeLocalNode) -> None:
    alice, bob, carol = await three(make_local_node)
    chat, carols = await screen(alice), await screen(carol)
    try:
        gid = await team_with_bob_and_carol(alice, bob, carol, chat)
        await until(lambda: gid in carols.state.conversations, 10, "carol's team")
        await alice.remove_from_group(gid, "carol")
        await until(lambda: carols.state.conversations[gid].state == "removed", 10,
                    "carol removed")
        await alice.invite_to_group(gid, fp(carol))
        await until(lambda: carols.state.conversations[gid].state == "invited", 10,
                    "invited again")
        await carol.decline_group("team")  # as `p2pchat group decline team` does
        await until(lambda: carols.state.conversations.get(gid) is not None
                    and carols.state.conversations[gid].state == "removed", 10,
                    "kept, removed")
        await carols.execute("/msg team")
        assert carols.state.selected == gid
        await alice.invite_to_group(gid, fp(carol))  # again, declined in the chat this time
        await until(lambda: carols.state.conversations[gid].state == "invited", 10,
                    "invited once more")
        await carols.execute("/group decline team")
        assert carols.state.conversations[gid].state == "removed"
        await until(lambda: not [g for g in carol.list_groups() if g.get("role") == "invited"],
                    10, "the node's decline")
        assert carols.state.conversations[gid].state == "removed"  # its event after
    finally:
        await chat.stop()
        await carols.stop()
