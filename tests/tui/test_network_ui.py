"""`/network join|leave|list` and the networks in the status line (issue #14, point 5)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui import render
from p2pchat.tui.commands import Named, NetworkCommand, ParseError, parse, parse_network
from p2pchat.tui.controller import Controller
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_render import text_of
from tests.tui.test_state import loaded_state

pytestmark = pytest.mark.timeout(30)


def test_network_commands_parse() -> None:
    assert parse("/network join class blue otter 42") == \
        Named("network", "join class blue otter 42")
    assert parse_network("list") == NetworkCommand("list")
    assert parse_network("leave class") == NetworkCommand("leave", "class")
    joined = parse_network("join class blue otter 42")
    assert joined == NetworkCommand("join", "class", "blue otter 42")
    assert "blue" not in repr(joined)  # the passphrase stays out of logs and tracebacks
    for bad in ("", "join class", "leave", "list x", "leave a b", "part class"):
        with pytest.raises(ParseError, match="usage: /network"):
            parse_network(bad)


def test_the_status_line_names_the_networks() -> None:
    state = loaded_state()
    assert "visible to network" not in text_of(render.status_line(state))
    state.set_status({"name": "me", "fingerprint": "A" * 56, "mdns": True,
                      "networks": ["class", "club"]})
    assert "visible to network class, club" in text_of(render.status_line(state))
    assert "net class, club" in text_of(render.status_line(state, 40))


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
    backend = NetworkBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/network join class blue-otter-42")
        assert ("network", ("join", "class", "blue-otter-42")) in backend.calls
        assert controller.state.networks == ["class"]
        assert "network class" in text_of(render.status_line(controller.state))
        assert "joined class; networks: class" in notices(controller)
        await controller.execute("/network list")
        await controller.execute("/network leave class")
        assert controller.state.networks == []
        await controller.execute("/network list")  # one answer on the row (trial 8, B9)
        await controller.execute("/network join class")
        text = notices(controller)
        # the newer command's answer (its usage) replaced the list's (trial 14b, B11)
        assert "left class; networks: none" not in text and "networks: none" not in text
        assert "usage: /network" in text and "blue-otter-42" not in text
        await controller.execute("/network join class blue-otter-42")
        await controller.execute("/network leave class")
        text = notices(controller)
        assert "left class; networks: none" in text and text.count("networks:") == 1, text
    finally:
        await controller.stop()


class WarningBackend(NetworkBackend):
    async def network(self, action: str, name: str = "",
                      passphrase: str = "") -> dict[str, Any]:
        view = await super().network(action, name, passphrase)
        return {**view, "warnings": ["warning: this passphrase is weak (about 20 bits)",
                                     "discovery is off on this node (--no-mdns)"]}


async def test_a_join_shows_the_node_s_warnings() -> None:
    """trial1 B6/B8: the chat's join said nothing of a weak passphrase ("topsecret") or of
    discovery being off, which the CLI's join says."""
    controller = Controller(WarningBackend())
    await controller.start()
    try:
        await controller.execute("/network join club topsecret")
        text = notices(controller)
        assert "this passphrase is weak" in text and "discovery is off" in text
        assert "topsecret" not in text
    finally:
        await controller.stop()


class NoDiscoveryBackend(NetworkBackend):
    """A node started with --no-mdns: a join without --via would wait for ever."""

    def __init__(self) -> None:
        super().__init__()
        self.via: list[str] = []

    async def status(self) -> dict[str, Any]:
        return {**await super().status(), "mdns": False}

    async def network(self, action: str, name: str = "", passphrase: str = "",
                      via: str = "") -> dict[str, Any]:
        self.via.append(via)
        return await super().network(action, name, passphrase)


async def test_a_join_with_discovery_off_needs_via_as_the_cli_does() -> None:
    """Trial 4, B3: the chat took `/network join club topsecret` with --no-mdns and waited for
    ever, closed to strangers; the CLI refuses it without --via."""
    backend = NoDiscoveryBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute("/network join club topsecret")
        text = notices(controller)
        assert "discovery is off (--no-mdns): no member can be found to admit you" in text
        assert "/network join club --via HOST:PORT PASSPHRASE" in text
        assert backend.via == [] and "topsecret" not in text  # nothing was joined
        await controller.execute("/network join club --via 127.0.0.1:7331 topsecret pass")
        assert backend.via == ["127.0.0.1:7331"]
        assert ("network", ("join", "club", "topsecret pass")) in backend.calls
    finally:
        await controller.stop()
    assert parse_network("join club --via 10.0.0.2:7331 a b") == \
        NetworkCommand("join", "club", "a b", "10.0.0.2:7331")


def test_the_status_line_says_a_waiting_join_closes_to_strangers() -> None:
    state = loaded_state()
    state.set_status({"name": "me", "fingerprint": "A" * 56, "mdns": False,
                      "networks_waiting": ["club"]})
    assert "closed to strangers until admitted to club" in text_of(render.status_line(state))
