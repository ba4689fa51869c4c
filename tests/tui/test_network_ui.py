"""`/network join|leave|list` and the networks in the status line (issue #14, point 5)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui import render
from p2pchat.tui.commands import NetworkCommand, ParseError, parse
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_render import loaded_state, text_of

pytestmark = pytest.mark.timeout(30)


def test_network_commands_parse() -> None:
    assert parse("/network list") == NetworkCommand("list")
    assert parse("/network leave class") == NetworkCommand("leave", "class")
    joined = parse("/network join class blue otter 42")
    assert joined == NetworkCommand("join", "class", "blue otter 42")
    assert "blue" not in repr(joined)  # the passphrase stays out of logs and tracebacks
    for bad in ("/network", "/network join class", "/network leave", "/network list x",
                "/network leave a b", "/network part class"):
        with pytest.raises(ParseError, match="usage: /network"):
            parse(bad)


def test_the_status_line_names_the_networks() -> None:
    state = loaded_state()
    assert "network" not in text_of(render.status_line(state))
    state.set_status({"name": "me", "fingerprint": "A" * 56, "networks": ["class", "club"]})
    assert "network class, club" in text_of(render.status_line(state))


class NetworkBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.networks: list[str] = []

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        return {**status, "networks": list(self.networks)}

    async def network(self, action: str, name: str = "",
                      passphrase: str = "") -> dict[str, Any]:
        self.calls.append(("network", (action, name, passphrase)))
        if action == "join":
            self.networks.append(name)
        elif action == "leave":
            self.networks.remove(name)
        return {"networks": list(self.networks)}


async def test_join_and_leave_update_the_status_line() -> None:
    from p2pchat.tui.controller import Controller

    backend = NetworkBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/network join class blue-otter-42")
        assert ("network", ("join", "class", "blue-otter-42")) in backend.calls
        assert controller.state.networks == ["class"]
        assert "network class" in text_of(render.status_line(controller.state))
        await controller.execute("/network list")
        await controller.execute("/network leave class")
        await until(lambda: controller.state.networks == [], 5, "the status to follow")
        assert "networks: class" in notices(controller) and "networks: none" in notices(controller)
        assert "blue-otter-42" not in notices(controller)
    finally:
        await controller.stop()
