"""notes/s35/trial13a.md on the chat screen: /add by a name two nodes nearby carry asks which
(B2); a discovery-off home's welcome and /id say how friends reach it (B15)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from p2pchat.tui.render import welcome_rows
from p2pchat.tui.state import ChatState
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_state import BOB, CAROL, contact

pytestmark = pytest.mark.timeout(30)

DAVE1 = "AMNF7GP-" + BOB[8:]
DAVE2 = "IGJLYGU-" + CAROL[8:]


class Nearby(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.added: list[tuple[str, str]] = []
        self.relays: list[dict[str, Any]] = []
        self.mdns = True

    async def peers(self) -> dict[str, Any]:
        near = [{"fingerprint": fp, "name": name, "addresses": [], "contact": False,
                 "private": False}
                for fp, name in ((DAVE1, "dave"), (BOB[:7] + "X" + BOB[8:], "erin"),
                                 (CAROL[:7] + "Y" + CAROL[8:], "frank"),
                                 (BOB[:6] + "QQ" + BOB[8:], "gus"), (DAVE2, "dave"))]
        return {"links": [], "requests": [], "nearby": near}

    async def status(self) -> dict[str, Any]:
        return {**await super().status(), "mdns": self.mdns, "relays": self.relays}

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        self.added.append((fingerprint, name))
        return contact(fingerprint, name)


async def test_add_by_a_name_two_nodes_nearby_carry_asks_which() -> None:
    backend = Nearby()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/nearby")
        await controller.execute("/add dave")
        assert backend.added == []  # no guess
        assert ("two people nearby are called dave: /add 1 or /add 5 (numbers from /nearby),"
                " or /add FINGERPRINT") in notices(controller)
        await controller.execute("/add 5")
        assert backend.added == [(DAVE2, "dave")]
        await controller.execute("/add erin")  # one of that name: added as before
        assert backend.added[-1][1] == "erin"
    finally:
        await controller.stop()


def test_the_welcome_of_a_discovery_off_home_says_how_to_add_without_nearby() -> None:
    state = ChatState()
    state.mdns = False
    said = " ".join(text for row in welcome_rows(state, 200) for _, text in row)
    assert "/nearby lists people" not in said
    assert "discovery is off here, so /nearby finds no one: /add FINGERPRINT NAME HOST:PORT" \
        in said
    state.mdns = True
    said = " ".join(text for row in welcome_rows(state, 200) for _, text in row)
    assert "/nearby lists people on this network" in said


async def test_id_names_the_relay_a_friend_off_the_lan_needs() -> None:
    backend = Nearby()
    backend.mdns = False
    backend.relays = [{"relay": f"127.0.0.1:17931#{BOB}", "state": "attached", "links": 1,
                       "found_by": "configured", "last_error": None}]
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/id")
        assert f"via relay: --relay 127.0.0.1:17931#{BOB}" in notices(controller)
    finally:
        await controller.stop()
