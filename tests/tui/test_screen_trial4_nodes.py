"""notes/s32/trial4.md, with real nodes: an open chat screen follows what the CLI (any other
client of the node) does: a contact accepted (B5), an invitation accepted (18), a message read
in another screen of the same node (B11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from p2pchat.control import ControlServer
from p2pchat.node import Node
from p2pchat.tui.backend import ControlBackend, NodeBackend
from p2pchat.tui.client import AsyncControlClient
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import status_line
from tests.aio import until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


def addr(node: Node) -> str:
    host, port = node.listen_addresses[0]
    return f"{host}:{port}"


def fp(node: Node) -> str:
    return str(node.status()["fingerprint"])


async def screen(node: Node) -> Controller:
    controller = Controller(NodeBackend(node))
    await controller.start()
    return controller


@asynccontextmanager
async def control_of(node: Node) -> AsyncIterator[None]:
    """The node's control socket, as `p2pchat` commands and other chat screens reach it."""
    server = ControlServer(node)
    await server.start()
    try:
        yield
    finally:
        await server.stop()


async def cli(node: Node, method: str, **params: Any) -> Any:
    """What a `p2pchat ...` command asks the running node."""
    client = await AsyncControlClient.connect(node.home, timeout=10)
    try:
        return await client.call(method, **params)
    finally:
        await client.close()


async def linked_pair(make_local_node: MakeLocalNode, one: str,
                      two: str, **config: Any) -> tuple[Node, Node]:
    """Two nodes (`config`: NodeConfig fields of both), contacts of each other and linked."""
    first, second = await make_local_node(one, **config), await make_local_node(two, **config)
    await first.add_contact(fp(second), two, [addr(second)])
    await second.add_contact(fp(first), one, [addr(first)])
    await until(lambda: first.links.is_linked(second.key), what="the link")
    return first, second


async def test_a_request_accepted_from_the_cli_is_a_contact_on_the_open_screen(
        make_local_node: MakeLocalNode) -> None:
    alice, dave = await make_local_node("alice"), await make_local_node("dave")
    chat = await screen(alice)
    try:
        await dave.add_contact(fp(alice), "alice", [addr(alice)])
        await dave.send("alice", "hi, it's Dave")
        await until(lambda: any(n.key == f"request:{fp(dave)}" for n in chat.state.notices),
                    what="the request on the screen")
        conv = chat.state.conversations[fp(dave)]
        assert conv.state == "request"
        async with control_of(alice):
            await cli(alice, "contacts.accept", who="dave")  # `p2pchat contacts accept dave`
        await until(lambda: conv.state == "contact", what="the accept on the screen")
        await until(lambda: not any(n.key == f"request:{fp(dave)}"
                                    for n in chat.state.notices), what="the notice to go")
        await until(lambda: conv.online, what="dave online")
        await until(lambda: "1 contact online" in "".join(t for _, t in status_line(chat.state)),
                    what="the online count")
    finally:
        await chat.stop()


async def test_an_invitation_accepted_from_the_cli_leaves_no_notice(
        make_local_node: MakeLocalNode) -> None:
    alice, bob = await linked_pair(make_local_node, "alice", "bob")
    chat = await screen(bob)
    try:
        group = await alice.create_group("climbing")
        await alice.invite_to_group(str(group["group"]), fp(bob))
        await until(lambda: any("invites you to the group climbing" in n.text
                                for n in chat.state.notices), what="the invitation")
        async with control_of(bob):
            await cli(bob, "groups.accept", group="climbing")  # `p2pchat group accept ...`
        await until(lambda: not any("invites you" in n.text for n in chat.state.notices),
                    what="the invitation's notice to go")
    finally:
        await chat.stop()


async def test_a_message_read_in_one_screen_is_read_in_the_other(
        make_local_node: MakeLocalNode) -> None:
    bob, carol = await linked_pair(make_local_node, "bob", "carol")
    async with control_of(carol):
        await two_screens_agree(bob, carol)


async def two_screens_agree(bob: Node, carol: Node) -> None:
    first = await screen(carol)
    second = Controller(await ControlBackend.connect(carol.home, timeout=10))  # `p2pchat chat`
    await second.start()
    try:
        group = await carol.create_group("other")  # the first screen looks elsewhere
        gid = str(group["group"])
        await until(lambda: gid in first.state.conversations and gid in
                    second.state.conversations, what="the group on both screens")
        first.state.select(gid)
        second.state.select(gid)
        await bob.send("carol", "are you there?")
        conv = await until(lambda: first.state.conversations.get(fp(bob)), what="bob")
        await until(lambda: conv.unread == 1, what="1 unread on the first screen")
        await until(lambda: fp(bob) in second.state.conversations
                    and second.state.conversations[fp(bob)].unread == 1, what="and the second")
        await second.switch_to(second.state.conversations[fp(bob)])  # read there
        await until(lambda: conv.unread == 0, what="the read to reach the first screen")
        assert first.state.unread_total == 0
    finally:
        await first.stop()
        await second.stop()
        await second.backend.close()
