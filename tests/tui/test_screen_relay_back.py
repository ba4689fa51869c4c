"""Issue 23, point 18 (a newcomer trial): the relay was killed and started again on the same
port; dave's status line said "via relay" again, but the notice "relay ... unreachable" stayed
on his screen until Esc, 45 s later. The screen's read of the node dropped the notice from its
state, but had seen the relay attached already (the link through it had re-read the status),
so it found nothing changed and did not redraw: the screen showed a notice it no longer had."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from p2pchat.net.relay_connection import parse_relay
from p2pchat.node import Node
from p2pchat.tui.backend import NodeBackend
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import status_line
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.relay_client import RelayProcess
from tests.tui.test_screen_trial4_nodes import fp

pytestmark = pytest.mark.timeout(120)


class Screen:
    """A chat screen on `node` that remembers what it last drew (at each on_change); its
    reads of the node are made by the test, at the instants the test picks."""

    def __init__(self, node: Node) -> None:
        self.chat = Controller(NodeBackend(node), on_change=self._draw)
        self.chat.reach.period = 3600.0  # no reads but the test's
        self.notices: list[str] = []
        self.line = ""

    def _draw(self) -> None:
        self.notices = [n.text for n in self.chat.state.notices]
        self.line = "".join(text for _, text in status_line(self.chat.state))


class ChosenRelayDown(NamedTuple):
    relay: RelayProcess
    where: str  # 127.0.0.1:PORT
    node: Node
    screen: Screen
    notice: str  # the words of its "unreachable" notice


@asynccontextmanager
async def chosen_relay_down(make_local_node: MakeLocalNode,
                            tmp_path: Path) -> AsyncIterator[ChosenRelayDown]:
    """dave with a relay he chose, attached, his screen started; then the relay stops and the
    screen's read that finds it down says so (the notice is checked said)."""
    relay = RelayProcess(tmp_path / "relay").start()
    try:
        where = f"127.0.0.1:{relay.port}"
        dave = await make_local_node(
            "dave", relays=(parse_relay(f"{where}#{relay.status['fingerprint']}"),))
        await until(lambda: dave.status()["relays"][0]["state"] == "attached", 30, "attached")
        screen = Screen(dave)
        await screen.chat.start()
        try:
            down = f"relay {where} unreachable: contacts reached only through it are offline"
            relay.stop()
            await until(lambda: bool(dave.status()["relays"][0]["last_error"]), 30,
                        "the relay down")
            await screen.chat.reach.check()  # the read that finds it down
            assert [n for n in screen.notices if down in n]
            yield ChosenRelayDown(relay, where, dave, screen, down)
        finally:
            await screen.chat.stop()
    finally:
        relay.close()


async def test_the_relay_down_notice_leaves_the_screen_when_the_relay_is_back(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "relay").start()
    try:
        where = f"127.0.0.1:{relay.port}"
        pinned = (parse_relay(f"{where}#{relay.status['fingerprint']}"),)
        dave = await make_local_node("dave", relays=pinned)
        erin = await make_local_node("erin", relays=pinned)
        await dave.add_contact(fp(erin), "erin", [])  # the relay is their only path
        await erin.add_contact(fp(dave), "dave", [])
        await until(lambda: dave.links.is_linked(erin.key), 30, "the link through the relay")
        screen = Screen(dave)
        await screen.chat.start()
        try:
            down = f"relay {where} unreachable: contacts reached only through it are offline"
            await screen.chat.reach.check()
            assert f"via relay {where}" in screen.line
            relay.stop()
            await until(lambda: bool(dave.status()["relays"][0]["last_error"]), 30,
                        "the relay down")
            await screen.chat.reach.check()
            assert [n for n in screen.notices if down in n]  # said, and drawn

            await asyncio.to_thread(relay.start, "--listen", where)
            await until(lambda: dave.links.is_linked(erin.key), 60, "linked again")
            # The link's event re-read the status: the status line says the relay already.
            await until(lambda: f"via relay {where}" in screen.line, 30, "drawn attached")
            await until(lambda: screen.chat.state.relays == dave.status()["relays"], 30,
                        "the screen's relays as the node's")
            await screen.chat.reach.check()
            assert not [n for n in screen.notices if down in n]
        finally:
            await screen.chat.stop()
    finally:
        relay.close()


async def test_the_screen_hears_the_relay_attach_without_waiting_for_its_next_read(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """The node says when a relay attaches or is lost (`relays_changed`): the notice goes then,
    not up to 5 s later at the screen's next read of the node."""
    async with chosen_relay_down(make_local_node, tmp_path) as down:
        await asyncio.to_thread(down.relay.start, "--listen", down.where)
        await until(lambda: f"via relay {down.where}" in down.screen.line, 60, "drawn attached")
        assert not [n for n in down.screen.notices if down.notice in n]
