"""notes/s35/trial13a.md B5 on the chat screen: a join after a refusal is a fresh start, said
as one, and its own refusal is said again."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from tests.tui.test_controller import FakeBackend, notices

pytestmark = pytest.mark.timeout(30)


class JoinBackend(FakeBackend):
    async def network(self, action: str, name: str = "", passphrase: str = "",
                      *via: str) -> dict[str, Any]:
        return {"networks": [], "waiting": ["hikers"], "legacy": [],
                "states": {"hikers": "waiting"}, "check_codes": {}}

    async def status(self) -> dict[str, Any]:
        return {**await super().status(), "networks_waiting": ["hikers"]}


async def test_joining_again_after_a_refusal_says_it_asks_again_and_a_new_refusal_shows(
        ) -> None:
    controller = Controller(JoinBackend())
    await controller.start()
    state = controller.state
    try:
        state.apply({"type": "networks_changed", "networks": [], "waiting": [],
                     "refused": ["hikers"]})
        assert "hikers: no node nearby admitted you" in notices(controller)
        await controller.execute("/network join hikers other-passphrase")
        said = notices(controller)
        assert "joining hikers again with this passphrase: asking the nodes nearby now" in said
        assert "no node nearby admitted you" not in said  # the old refusal went
        assert state.networks_refused == []
        # The node refuses the new one too, before its own networks_changed of the join came:
        state.apply({"type": "networks_changed", "networks": [], "waiting": [],
                     "refused": ["hikers"]})
        assert "hikers: no node nearby admitted you" in notices(controller)
    finally:
        await controller.stop()


async def test_why_a_join_waits_is_said() -> None:
    controller = Controller(JoinBackend())
    await controller.start()
    state = controller.state
    try:
        await controller.execute("/network join hikers some-passphrase")
        state.networks_waiting = ["hikers"]
        state.apply({"type": "admission_waiting", "network": "hikers", "reason": "limited",
                     "seconds": 40, "heard": 1, "limiting": 1})
        said = notices(controller)
        assert "the node nearby limits guesses from this address" in said
        assert "asking again in 40 s" in said
        assert "waiting for a member nearby" not in said  # replaced, not beside it
    finally:
        await controller.stop()
