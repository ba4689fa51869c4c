"""notes/s36/trial14b.md B5 on the chat screen, against real nodes: an impostor's /nick was
offered as a /rename ("bob (324TGN6) now calls themself 'carol' (/rename bob (324TGN6) carol
to call them that too)") for a request never accepted, though a contact ("Carol S") calls
herself carol; a nick that is your own name said nothing; a request accepted under your own
name neither."""

from __future__ import annotations

import contextlib

import pytest

from p2pchat.node.node import Node
from p2pchat.storage import keystore
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair, screen

pytestmark = pytest.mark.timeout(60)


def nick(node: Node, name: str) -> None:
    """`/nick name` on a test node (its identity written down first, as `init` does)."""
    with contextlib.suppress(keystore.KeystoreError):  # written already
        keystore.create(node.home, node.identity, "x", None)
    node.rename_self(name)


async def test_a_requests_nick_is_no_rename_and_a_contacts_own_name_is_warned(
        make_local_node: MakeLocalNode) -> None:
    """mallory shares the group mix with alice (carol's, so their link carries group records:
    her Hello again reaches alice's screen) and asks alice to connect: her nicks are told,
    never as a /rename, and 'carol' is the name Carol S calls herself."""
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    await alice.rename_contact("carol", "Carol S")  # she still calls herself carol
    mallory = await make_local_node("mallory")
    await mallory.add_contact(fp(carol), "carol", [addr(carol)])
    await carol.add_contact(fp(mallory), "mallory", [addr(mallory)])
    await until(lambda: carol.links.is_linked(mallory.key), what="carol and mallory")
    gid = str((await carol.create_group("mix"))["group"])
    for member in (alice, mallory):
        await carol.invite_to_group(gid, fp(member))
        await until(lambda m=member: any(g.get("role") == "invited"  # type: ignore[misc]
                                         for g in m.list_groups()), what="the invitation")
        await member.accept_group("mix")
    await mallory.add_contact(fp(alice), "alice", [addr(alice)])
    chat = await screen(alice)
    try:
        await until(lambda: fp(mallory) in chat.state.conversations
                    and chat.state.conversations[fp(mallory)].state == "request", 20,
                    "mallory's request")
        await until(lambda: alice.links.is_linked(mallory.key), 20, "linked again")
        nick(mallory, "carol")
        warned = ("mallory now calls themself 'carol', the name of your contact Carol S (not"
                  " verified): they are not Carol S")
        await until(lambda: any(warned in n.text for n in chat.state.notices), 10,
                    "the warning")
        nick(mallory, "zed")  # a free name, but a request: nothing to rename
        await until(lambda: any("now calls themself 'zed'" in n.text
                                for n in chat.state.notices), 10, "the plain notice")
        assert not any("/rename" in n.text for n in chat.state.notices), chat.state.notices
    finally:
        await chat.stop()


async def test_a_contacts_nick_that_is_your_own_name_is_warned(
        make_local_node: MakeLocalNode) -> None:
    bob, mal = await linked_pair(make_local_node, "bob", "mal")
    chat = await screen(bob)
    try:
        await until(lambda: fp(mal) in chat.state.conversations, 10, "mal")
        nick(mal, "bob")
        warned = "mal now calls themself 'bob', your own name: they are not you"
        await until(lambda: warned in [n.text for n in chat.state.notices], 10, "the warning")
        assert not any("/rename" in n.text for n in chat.state.notices), chat.state.notices
    finally:
        await chat.stop()


async def test_accepting_a_request_under_your_own_name_says_so(
        make_local_node: MakeLocalNode) -> None:
    bob, mallory = await make_local_node("bob"), await make_local_node("mallory")
    nick(mallory, "bob")
    await mallory.add_contact(fp(bob), "bob", [addr(bob)])
    chat = await screen(bob)
    try:
        await until(lambda: chat.state.conversations.get(fp(mallory)) is not None
                    and chat.state.conversations[fp(mallory)].state == "request", 10,
                    "the request")
        name = chat.state.conversations[fp(mallory)].name
        await chat.execute(f"/accept {fp(mallory)}")
        said = [n.text for n in chat.state.notices]
        assert (f"accepted {name}; they call themselves by your name: opened {name}'s"
                " conversation") in said, said
    finally:
        await chat.stop()
