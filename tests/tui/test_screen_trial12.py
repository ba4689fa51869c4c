"""notes/s34/trial12.md on the chat screen: the NEW KEY warning of a pending request went off
the notice row after /unblock and after a node restart (18, 30), and Tab turned "/msg bob"
into the impostor's "bob (VIJYYUM)" (30)."""

from __future__ import annotations

from typing import Any

import pytest

import p2pchat.tui.controller as controller_module
from p2pchat.storage import keystore
from p2pchat.tui.backend import BackendError
from p2pchat.tui.completing import completions
from p2pchat.tui.controller import Controller
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair, screen
from tests.tui.test_screen_trial5 import ImpostorBackend, said
from tests.tui.test_state import CAROL, contact

pytestmark = pytest.mark.timeout(30)

IMPOSTOR = f"bob ({CAROL[:7]})"


def warnings(controller: Controller) -> list[str]:
    return [s for s in said(controller) if s.startswith("WARNING") and "NEW KEY" in s]


class Unblocking(ImpostorBackend):
    async def unblock(self, who: str) -> dict[str, Any]:
        return {**contact(CAROL, IMPOSTOR, state="request"),
                "same_name_as": self.contact_list[0]["fingerprint"], "same_name_verified": True}

    async def block(self, who: str) -> dict[str, Any]:
        return contact(CAROL, IMPOSTOR, state="blocked")


async def test_unblocking_a_new_key_under_a_verified_name_warns_again() -> None:
    controller = Controller(Unblocking())
    controller.ask = None  # blocked at once
    await controller.start()
    try:
        assert len(warnings(controller)) == 1, said(controller)
        await controller.execute(f"/block {IMPOSTOR}")
        assert not warnings(controller), said(controller)
        await controller.execute(f"/unblock {IMPOSTOR}")
        assert len(warnings(controller)) == 1, said(controller)
        assert said(controller)[-1].startswith("WARNING"), said(controller)
        assert not any(f"/accept {IMPOSTOR} to chat" in s for s in said(controller))
    finally:
        await controller.stop()


class Restarting(ImpostorBackend):
    """An attached chat whose node is down until `down` is cleared: reconnections fail."""
    mode = "attached"
    down = True

    async def reconnect(self) -> None:
        if self.down:
            raise BackendError("no_node", "no node is running")


async def test_a_pending_warning_is_the_newest_after_a_reconnection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "RECONNECT_DELAY", 0.01)
    backend = Restarting()
    controller = Controller(backend)
    await controller.start()
    try:
        for n in range(3):  # newer notices push the warning off the row's rows
            controller.state.notice("info", f"something else {n}")
        backend.streams[0].queue.put_nowait(None)  # the node stops
        await until(lambda: not controller.state.connected, 10, "disconnected")
        backend.down = False
        await until(lambda: controller.state.connected, 10, "reconnected")
        assert "reconnected to the node" in said(controller)
        assert len(warnings(controller)) == 1, said(controller)
        assert said(controller)[-1].startswith("WARNING"), said(controller)
    finally:
        await controller.stop()


async def test_tab_keeps_a_verified_name_and_offers_the_impostor_last() -> None:
    controller = Controller(ImpostorBackend())
    await controller.start()
    try:
        state = controller.state
        assert completions(state, "/msg bob")[0] == ("bob ", -3), completions(state, "/msg bob")
        assert completions(state, "/msg b")[0] == ("bob ", -1), completions(state, "/msg b")
        assert completions(state, "/msg Bob")[0] == ("bob ", -3)
        state.conversations[next(c.id for c in state.conversations.values()
                                 if c.name == "bob")].name = "zed"  # sorts after the impostor
        assert completions(state, "/msg ")[0][0] != IMPOSTOR + " ", completions(state, "/msg ")
    finally:
        await controller.stop()


async def test_unblocking_an_impostor_on_real_nodes_warns_again(
        make_local_node: MakeLocalNode) -> None:
    """The same on real nodes: the node's answer to /unblock names the verified namesake."""
    alice, _bob = await linked_pair(make_local_node, "alice", "bob")
    alice.verify_contact("bob", True)
    mallory = await make_local_node("mallory")
    keystore.create(mallory.home, mallory.identity, "mallory", None)
    mallory.rename_self("bob")  # a new key that calls itself bob
    await mallory.add_contact(fp(alice), "alice", [addr(alice)])
    chat = await screen(alice)
    chat.ask = None  # /block at once
    try:
        await until(lambda: len(warnings(chat)) == 1, 20, "the NEW KEY warning")
        name = chat.state.conversations[fp(mallory)].name
        await chat.execute(f"/block {name}")
        await until(lambda: chat.state.conversations[fp(mallory)].state == "blocked", 10,
                    "blocked")
        assert not warnings(chat), said(chat)
        await chat.execute(f"/unblock {name}")
        assert len(warnings(chat)) == 1, said(chat)
        assert said(chat)[-1].startswith("WARNING"), said(chat)
    finally:
        await chat.stop()
