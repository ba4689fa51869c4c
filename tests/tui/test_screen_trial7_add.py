"""notes/s32/trial7.md on the chat screen (node side's leftovers): /add of someone whose request
was waiting says the add is mutual (18), not "they see a request"."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.controller import Controller
from tests.tui.test_controller import FakeBackend
from tests.tui.test_state import CAROL, contact

pytestmark = pytest.mark.timeout(30)


class MutualBackend(FakeBackend):
    """carol's request was waiting: the node answers the add with `they_asked`."""

    def __init__(self, online: bool) -> None:
        super().__init__()
        self.online = online

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        added = {**contact(fingerprint, name, online=self.online), "they_asked": True}
        self.contact_list = [*self.contact_list, added]
        return added


@pytest.mark.parametrize("online", [True, False])
async def test_adding_someone_who_asked_says_it_is_mutual(online: bool) -> None:
    controller = Controller(MutualBackend(online))
    await controller.start()
    try:
        await controller.execute(f"/add {CAROL} carol")
        said = [n.text for n in controller.state.notices]
        assert not any("they see a request" in s for s in said), said
        expected = ("added carol; they had added you too, so "
                    + ("you are linked: you can chat" if online else
                       "you can chat (the link comes up when they are online)"))
        assert expected in said, said
    finally:
        await controller.stop()


async def test_the_mutual_add_waiting_for_the_link_goes_when_the_link_comes_up() -> None:
    """"the link comes up when they are online" is untrue once it has: a moment later when
    they are online (notes/s34: seen after /add of a removed contact)."""
    controller = Controller(MutualBackend(online=False))
    await controller.start()
    try:
        await controller.execute(f"/add {CAROL} carol")
        waiting = "the link comes up when they are online"
        assert any(waiting in n.text for n in controller.state.notices)
        controller.state.apply({"type": "link_up", "fingerprint": CAROL, "name": "carol",
                                "contact": True})
        assert controller.state.conversations[CAROL].online
        assert not any(waiting in n.text for n in controller.state.notices), \
            [n.text for n in controller.state.notices]
    finally:
        await controller.stop()
