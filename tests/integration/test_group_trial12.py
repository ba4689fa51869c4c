"""Trial 12 (issue 23): a declined invitation reads as a decline on the inviter's screen, not as
a join and a leave (B6); a group message's receipts come promptly from a linked member, not at
its next anti-entropy round (B13)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import accept_invitation, befriend, group_of, wait_linked
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)

# Far beyond the test's waits: whatever arrives, arrives without the anti-entropy round.
NO_TICK = {"group_sync_interval": 120.0}


async def three(make_local_node: MakeLocalNode) -> tuple[Node, Node, Node]:
    alice, bob, dave = [await make_local_node(n, **NO_TICK) for n in ("alice", "bob", "dave")]
    await befriend(alice, bob)
    await befriend(alice, dave)
    await wait_linked([(alice, bob), (alice, dave)])
    return alice, bob, dave


def changes(node: Node, group: str) -> list[str]:
    return [m["text"] for m in node.history(group, changes=True) if m.get("notice")]


async def test_a_decline_is_no_join_on_the_inviters_screen(
        make_local_node: MakeLocalNode) -> None:
    """B6: dave accepts while bob's invitation is pending; dave takes those added before him as
    joined when he accepts, but must not tell alice bob said yes (GroupJoins, 8.17): alice
    then showed "bob joined" / "bob left" for bob's decline."""
    alice, bob, dave = await three(make_local_node)
    dave_events: list[Any] = []
    dave.events.subscribe(lambda event: dave_events.append(event) or True)
    group = (await alice.create_group("hikers", ["bob", "dave"]))["group"]
    await until(lambda: group_of(bob, group)["role"] == "invited", 10, "bob's invitation")
    await accept_invitation(dave, group)
    await until(lambda: fingerprint(dave.key) not in invited(alice, group), 10,
                "alice sees dave join")
    assert fingerprint(bob.key) in invited(alice, group), "bob counted as joined"
    await bob.decline_group(group)
    await until(lambda: group_of(alice, group)["members"] == 2, 10, "the decline enacted")
    lines = changes(alice, group)
    assert "bob declined the invitation" in lines, lines
    assert "bob joined" not in lines and "bob left" not in lines, lines
    # dave, added after bob, was told who had said yes (revision 6), not left to guess: he
    # sees the decline as one too, live and in the log.
    await until(lambda: group_of(dave, group)["members"] == 2, 10, "dave has the leave")
    lines = changes(dave, group)
    assert "~bob declined the invitation" in lines, lines
    assert not any(line.startswith("~bob") and line != "~bob declined the invitation"
                   for line in lines), lines
    said = [e["text"] for e in dave_events if e.get("type") == "group_changed"]
    assert "~bob declined the invitation" in said, said


def invited(node: Node, group: str) -> list[str]:
    return [m["fingerprint"] for m in node.group_members(group) if m["invited"]]


async def test_a_group_message_is_acknowledged_promptly_by_linked_members(
        make_local_node: MakeLocalNode) -> None:
    """B13: "✓ delivered to 0 of 2" for ~10 s with both members online and linked: a group
    envelope was acknowledged only by the next anti-entropy round's vector."""
    alice, bob, dave = await three(make_local_node)
    group = (await alice.create_group("hikers", ["bob", "dave"]))["group"]
    await accept_invitation(bob, group)
    await accept_invitation(dave, group)
    await until(lambda: group_of(alice, group).get("invited") == 0, 10, "both joined")
    both = sorted([fingerprint(bob.key), fingerprint(dave.key)])
    for text in ("hello team", "still there?"):  # the first rides on the greetings' vectors
        await alice.send(group, text)

        def mine(text: str = text) -> dict[str, Any]:
            return next(m for m in alice.history(group) if m.get("text") == text)

        await until(lambda: sorted(mine()["delivered_to"]) == both, 5, f"receipts of {text}")
