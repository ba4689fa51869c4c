"""notes/s32/trial6.md on the chat screen: a left network's notice goes for good (18, B2), a
"no" to "accept anyway?" says what was not done (B12), a forgotten group goes (B3), a line typed
while the node is stopped or behind a command is kept or goes where it should (B17, B1), the
attach note goes with its node (B18)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

import p2pchat.tui.controller as controller_module
from p2pchat.tui.backend import BackendError
from p2pchat.tui.contact_commands import impostor_question
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import age_notices
from p2pchat.tui.question import answered_no
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_screen import ENTER, running
from tests.tui.test_state import BOB, CAROL, loaded_state

pytestmark = pytest.mark.timeout(30)

REFUSED = "no node nearby admitted you"


def test_a_left_networks_refusal_goes_for_good() -> None:
    """18, B2: after `/network leave club` the refusal notice stayed, hidden behind newer
    notices, and showed again about 2 minutes later when those aged."""
    state = loaded_state()
    state.apply({"type": "networks_changed", "networks": [], "waiting": ["club"],
                 "refused": ["club"]})
    assert any(REFUSED in n.text for n in state.notices)
    state.set_status({"name": "me", "networks": []})  # the status /network leave reads
    assert not any("club" in n.text for n in state.notices), [n.text for n in state.notices]
    # A stale event naming it again, while we are not joining, raises nothing either.
    state.apply({"type": "networks_changed", "networks": [], "waiting": [], "refused": []})
    assert not any("club" in n.text for n in state.notices)


def test_a_left_networks_refusal_goes_on_the_event_too() -> None:
    """Left from the CLI: the node's networks_changed says it before any status is read."""
    state = loaded_state()
    state.apply({"type": "networks_changed", "networks": [], "waiting": ["club"],
                 "refused": ["club"]})
    state.notice("info", "something newer")
    state.apply({"type": "networks_changed", "networks": [], "waiting": [], "refused": []})
    assert [n.text for n in state.notices] == ["something newer"]


def test_no_to_accept_anyway_says_who_was_not_accepted() -> None:
    """B12: "n" to "accept anyway?" said "no: nothing done"; other questions say what was not
    done ("bob not blocked")."""
    name = f"bob ({CAROL[:7]})"
    assert answered_no(impostor_question(name, "bob")) == f"{name} not accepted"


def test_a_forgotten_group_goes_with_its_notices() -> None:
    """18: carol kept "you were removed (climb)" after "forgot climb and its history"; B3: a
    group forgotten from the CLI stayed listed with its history."""
    state = loaded_state()
    state.apply({"type": "group_joined", **group("climb"), "by": BOB, "by_name": "bob"})
    state.apply({"type": "group_changed", **group("climb", role="removed"), "change": "remove",
                 "you": True})
    assert any("climb" in n.text for n in state.notices), [n.text for n in state.notices]
    state.apply({"type": "group_forgotten", **group("climb", role="forgotten")})
    assert GROUP not in state.conversations
    assert not any("climb" in n.text for n in state.notices), [n.text for n in state.notices]


async def test_a_line_typed_while_the_node_is_stopped_stays_in_the_input() -> None:
    """B17: with the node stopped, "are you there" + Enter emptied the input and was lost."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.connected = False  # as the controller marks it when the node goes
        keys.send_text(f"are you there{ENTER}")
        stopped = "not sent: your node is stopped (it stays here; Enter again once reconnected)"
        await until(lambda: any(n.text == stopped for n in chat.state.notices), 10, "refused")
        assert chat.input.text == "are you there"
        keys.send_text("\x15/peers" + ENTER)  # Ctrl-U, then a command that needs the node
        await until(lambda: any("not done: your node is stopped" in n.text
                                for n in chat.state.notices), 10, "the command refused")
        assert chat.input.text == "/peers"
        assert not [c for c in backend.calls if c[0] == "send"], backend.calls
        # Reconnected (trial 12): the refusals say what is no longer true, so they go.
        chat.state.connected = True
        age_notices(chat.state)
        assert not [n.text for n in chat.state.notices if "your node is stopped" in n.text]
        keys.send_text("\x15/quit" + ENTER)  # what the screen does alone still works


async def test_a_line_typed_after_msg_in_a_left_group_goes_where_msg_opens() -> None:
    """B1: in a group left, `/msg alice` Enter `race test 3` Enter in one burst switched to
    alice, sent nothing and left the line in the group's draft."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.upsert_group(group("climb", role="left"))
        chat.state.select(GROUP)
        await until(lambda: chat.state.selected == GROUP, 10, "the group open")
        keys.send_text(f"/msg bob{ENTER}race test 3{ENTER}")  # one write
        await until(lambda: ("send", (BOB, "race test 3")) in backend.calls, 10,
                    f"sent to bob: {backend.calls}")
        assert chat.state.selected == BOB and chat.input.text == ""
        assert "race test 3" not in chat.drafts.held.values()
        keys.send_text("/quit" + ENTER)


async def test_the_attach_note_goes_when_the_node_stops(tmp_path: Path) -> None:
    """B18: "Your node was already running (pid N), so --relay --presence did nothing..."
    stayed on the notice row after that node had stopped."""
    from p2pchat.tui import main

    class Stopping(FakeBackend):
        mode = "attached"

        async def reconnect(self) -> None:
            raise BackendError("no_node", "no node is running")

    backend = Stopping()
    controller = Controller(backend)
    saved = controller_module.RECONNECT_DELAY
    controller_module.RECONNECT_DELAY = 0.01
    try:
        await controller.start()
        main._say_attached(cast(Any, SimpleNamespace(state=controller.state)), tmp_path, 5156,
                           ["--relay", "--presence"], [], [])
        assert any("already running (pid 5156)" in n.text for n in controller.state.notices)
        backend.streams[0].queue.put_nowait(None)  # the node stops
        await until(lambda: not controller.state.connected, 10, "the node gone")
        assert not any("already running" in n.text for n in controller.state.notices)
        assert any("the node stopped" in n.text for n in controller.state.notices)
    finally:
        controller_module.RECONNECT_DELAY = saved
        await controller.stop()


async def test_a_line_behind_a_command_that_stays_in_a_left_group_is_quoted_not_lost() -> None:
    """B1, the other way: the command ahead did not switch; the line is refused as it runs,
    quoted in the notice (it left the input when typed)."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.upsert_group(group("climb", role="left"))
        chat.state.select(GROUP)
        await until(lambda: chat.state.selected == GROUP, 10, "the group open")
        keys.send_text(f"/id{ENTER}race test 4{ENTER}")  # one write
        await until(lambda: any("race test 4" in n.text for n in chat.state.notices), 10,
                    "the line quoted")
        assert any(n.text.startswith("not sent: you left climb") for n in chat.state.notices)
        assert not [c for c in backend.calls if c[0] == "send"], backend.calls
        keys.send_text("/quit" + ENTER)
