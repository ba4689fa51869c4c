"""The screen's own rules, without a node: paging, the input, questions, mouse, notifications.

The application runs on prompt_toolkit's pipe input where keys matter, with the scripted backend
of test_controller; the main pane's rows are read at chosen sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prompt_toolkit.data_structures import Point
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.mouse_events import MouseButton, MouseEvent, MouseEventType
from prompt_toolkit.output import DummyOutput

from p2pchat.core.messages import MAX_TEXT_BYTES
from p2pchat.tui.app import ChatApp, _RowsControl
from p2pchat.tui.backend import BackendError
from p2pchat.tui.controller import Controller
from p2pchat.tui.notify import Notifier
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_state import BOB, CAROL, contact, message

pytestmark = pytest.mark.timeout(30)

ENTER = "\r"
CTRL_C = "\x03"


def text(rows: list[Any]) -> list[str]:
    return ["".join(fragment[1] for fragment in row) for row in rows]


def with_history(n: int) -> ChatApp:
    chat = ChatApp(FakeBackend(), output=DummyOutput())
    state = chat.state
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol")])
    state.select(BOB)
    for i in range(n):
        state.apply(message(BOB, f"m{i}", f"line {i}", at=f"2026-01-01T10:{i // 60:02}:"
                                                          f"{i % 60:02}.000+00:00"))
    return chat


def test_paging_is_exact_from_the_first_press() -> None:
    chat = with_history(50)  # a day separator and 50 one-row messages: 51 rows
    rows = text(chat._history_rows(40, 10))
    assert rows[-1].endswith("bob: line 49") and len(rows) == 10
    chat.scroll(chat._page_rows)  # PageUp: nine rows up at once (one row kept for context)
    rows = text(chat._history_rows(40, 10))
    assert rows[0].endswith("bob: line 31") and "more below" in rows[-1]
    chat.scroll(-chat._page_rows)  # PageDown: straight back, no wasted press
    assert text(chat._history_rows(40, 10))[-1].endswith("bob: line 49")
    chat.scroll(-chat._page_rows)  # past the end: stays at the end
    chat.scroll(10_000)  # Home: the top, and no further
    rows = text(chat._history_rows(40, 10))
    assert "Thursday 01 January 2026" in rows[0] and rows[1].endswith("bob: line 0")
    chat.scroll(-chat._page_rows)  # one press down from the top moves at once
    assert text(chat._history_rows(40, 10))[0].endswith("bob: line 8")


def test_new_messages_below_while_reading_older_ones() -> None:
    chat = with_history(30)
    chat._history_rows(40, 10)
    chat.scroll(5)
    before = text(chat._history_rows(40, 10))
    chat.state.apply(message(BOB, "new", "fresh", at="2026-01-01T11:00:00.000+00:00"))
    after = text(chat._history_rows(40, 10))
    assert after[:-1] == before[:-1]  # what was being read stays in place
    assert "new messages below" in after[-1]
    chat.scroll(-100)  # End
    assert text(chat._history_rows(40, 10))[-1].endswith("bob: fresh")


def test_narrow_rows_wrap_at_words_under_the_text() -> None:
    chat = with_history(0)
    chat.state.apply(message(BOB, "long", "a few words that will not fit in a narrow pane"))
    rows = [row for row in text(chat._history_rows(24, 10)) if row]  # newest at the bottom
    assert rows[1] == "10:00 bob: a few words" and rows[2].startswith("      that")
    assert all(len(row) <= 24 for row in rows)


def test_the_help_page_opens_at_its_top_and_esc_closes_it() -> None:
    chat = with_history(30)
    chat.state.show_page("Help", [f"row {i}" for i in range(40)])
    rows = text(chat._history_rows(60, 10))
    assert rows[0] == "row 0" and "more below" in rows[-1]
    chat.state.page = None
    assert text(chat._history_rows(60, 10))[-1].endswith("bob: line 29")


def test_the_mouse_wheel_scrolls_and_a_click_opens_a_conversation() -> None:
    chat = with_history(30)
    chat._history_rows(40, 10)
    wheel = _RowsControl(lambda w, h: [], on_wheel=chat.scroll)
    wheel.mouse_handler(MouseEvent(Point(0, 0), MouseEventType.SCROLL_UP, MouseButton.NONE,
                                   frozenset()))
    assert text(chat._history_rows(40, 10))[0].endswith("bob: line 17")  # three rows up
    clicked: list[int] = []
    rows = _RowsControl(lambda w, h: [], on_click=clicked.append)
    rows.mouse_handler(MouseEvent(Point(3, 2), MouseEventType.MOUSE_UP, MouseButton.LEFT,
                                  frozenset()))
    assert clicked == [2]


def test_notifications_ring_and_title_only_when_the_unread_total_grows() -> None:
    written: list[str] = []
    notifier = Notifier(written.append, bell=True, desktop=False)
    chat = with_history(0)
    state = chat.state
    notifier.update(state)
    assert written == ["\x1b]2;p2pchat\x07"]
    state.apply(message(CAROL, "c1", "psst", author_name="carol"))  # bob is open: unread
    notifier.update(state)
    assert written[1:] == ["\x1b]2;p2pchat (1)\x07", "\x07"]
    notifier.update(state)  # nothing new: silence
    assert len(written) == 3
    quiet = Notifier(written.append, bell=False, desktop=False)
    quiet.update(state)
    assert "\x07" not in written[3:]


@asynccontextmanager
async def running(backend: FakeBackend) -> AsyncIterator[tuple[ChatApp, PipeInput]]:
    with create_pipe_input() as keys:
        chat = ChatApp(backend, input=keys, output=DummyOutput())
        task = asyncio.create_task(chat.run())
        try:
            await until(lambda: chat.application.is_running and chat.controller.ready.is_set(),
                        10, "the UI to start")
            yield chat, keys
        finally:
            if not task.done():
                chat.exit()
            await asyncio.wait_for(task, 10)


async def test_an_over_long_message_stays_in_the_input() -> None:
    async with running(FakeBackend()) as (chat, keys):
        too_long = "x" * (MAX_TEXT_BYTES + 1)
        chat.input.text = too_long
        keys.send_text(ENTER)
        await until(lambda: chat.confirm and "the limit is" in chat.confirm[0], 10,
                    "the offer to split it")
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.confirm is None, 10, "the answer")
        assert chat.input.text == too_long  # nothing lost
        chat.input.text = "fine"
        keys.send_text(ENTER)
        await until(lambda: chat.input.text == "", 10, "the line sent")


async def test_a_network_passphrase_is_masked_as_typed_and_up_never_brings_it_back() -> None:
    class Networks(FakeBackend):
        def __init__(self) -> None:
            super().__init__()
            self.joined: list[tuple[str, str, str]] = []

        async def network(self, action: str, name: str = "",
                          passphrase: str = "") -> dict[str, Any]:
            self.joined.append((action, name, passphrase))
            return {"networks": [name]}

    backend = Networks()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/help{ENTER}")
        await until(lambda: chat.input.text == "", 10, "the first line taken")
        keys.send_text("/network join office correct horse")
        await until(lambda: chat.input.text.endswith("horse"), 10, "the typed line")
        shown = "".join(f[1] for f in chat.input.control.create_content(60, 3).get_line(0))
        assert shown.strip() == "> /network join office " + "*" * len("correct horse")
        keys.send_text(ENTER)
        await until(lambda: backend.joined == [("join", "office", "correct horse")], 10,
                    "the join")
        keys.send_text("\x1b[A")  # Up: the line before, never the passphrase
        await until(lambda: chat.input.text == "/help", 10, "history to skip the secret")
        assert not any("horse" in line for line in chat.input.buffer.history.get_strings())


async def test_block_asks_first() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/block bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert "Block bob" in chat.confirm[0] and BOB[:7] in chat.confirm[0]
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.confirm is None, 10, "the answer")
        assert BOB in chat.state.conversations  # not blocked
        keys.send_text(f"/block bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question again")
        keys.send_text(f"y{ENTER}")
        await until(lambda: chat.state.conversations[BOB].state == "blocked", 10,
                    "bob blocked")
        assert "bob" in chat.state.blocked  # /unblock completes him


async def test_attached_screen_reconnects_when_the_node_comes_back() -> None:
    class Restarting(FakeBackend):
        mode = "attached"

        def __init__(self) -> None:
            super().__init__()
            self.down = True
            self.reconnects = 0

        async def reconnect(self) -> None:
            self.reconnects += 1
            if self.down:
                raise BackendError("no_node", "no node is running")

    backend = Restarting()
    controller = Controller(backend)
    import p2pchat.tui.controller as controller_module

    saved = controller_module.RECONNECT_DELAY
    controller_module.RECONNECT_DELAY = 0.01
    try:
        await controller.start()
        backend.streams[0].queue.put_nowait(None)  # the node stops
        await until(lambda: not controller.state.connected and backend.reconnects >= 2, 10,
                    "a disconnection, then attempts")
        backend.down = False  # it is back
        await until(lambda: controller.state.connected, 10, "reconnected")
        assert len(backend.streams) == 2 and backend.status_reads >= 2
        assert any("reconnected" in n.text for n in controller.state.notices)
    finally:
        controller_module.RECONNECT_DELAY = saved
        await controller.stop()


async def test_a_node_that_stops_during_the_first_load_is_reconnected_to() -> None:
    class StopsWhileLoading(FakeBackend):
        mode = "attached"

        def __init__(self) -> None:
            super().__init__()
            self.reconnects = 0

        async def contacts(self) -> list[dict[str, Any]]:
            if self.reconnects == 0:  # the node is killed between two reads of the first load
                self.streams[0].queue.put_nowait(None)
                raise BackendError("disconnected", "the node closed the control connection")
            return await super().contacts()

        async def reconnect(self) -> None:
            self.reconnects += 1

    backend = StopsWhileLoading()
    controller = Controller(backend)
    try:
        await controller.start()
        assert any("closed the control connection" in n.text for n in controller.state.notices)
        await until(lambda: backend.reconnects == 1 and controller.state.connected, 10,
                    "a reconnection after the failed first load")
        assert len(backend.streams) == 2 and backend.status_reads == 2
        assert any("reconnected" in n.text for n in controller.state.notices)
    finally:
        await controller.stop()


async def test_ctrl_c_without_a_draft_in_an_attached_screen_quits_at_once() -> None:
    backend = FakeBackend()
    backend.mode = "attached"
    with create_pipe_input() as keys:
        chat = ChatApp(backend, input=keys, output=DummyOutput())
        task = asyncio.create_task(chat.run())
        await until(lambda: chat.application.is_running and chat.controller.ready.is_set(), 10,
                    "the UI to start")
        keys.send_text(CTRL_C)
        await asyncio.wait_for(task, 10)
        assert chat.confirm is None and chat.quit_choice == "quit"


async def test_nearby_people_are_offered_by_tab_and_added_by_number_or_name() -> None:
    from p2pchat.core.identity import Identity
    from p2pchat.tui.completing import completions

    # A fixed key: a random one starting with C would rightly be offered for "/add c" too.
    carl = Identity.from_seed(b"h" * 32).fingerprint
    assert not carl.startswith(("B", "C"))

    class Nearby(FakeBackend):
        def __init__(self) -> None:
            super().__init__()
            self.nearby: list[dict[str, Any]] = []
            self.added: list[tuple[str, str]] = []

        async def peers(self) -> dict[str, Any]:
            return {"links": [], "requests": [], "nearby": list(self.nearby), "nearby_hidden": 3}

        async def add_contact(self, fingerprint: str, name: str,
                              addrs: list[str]) -> dict[str, Any]:
            self.added.append((fingerprint, name))
            return contact(fingerprint, name)

    backend = Nearby()
    controller = Controller(backend)
    await controller.start()
    try:
        backend.nearby = [{"fingerprint": carl, "name": "carl", "addresses": [],
                           "contact": False, "private": False},
                          {"fingerprint": BOB, "name": "bob", "addresses": [], "contact": True,
                           "private": False}]
        backend.streams[0].queue.put_nowait({"type": "nearby_changed"})
        await until(lambda: controller.state.nearby_now, 10, "the nearby list")
        assert completions(controller.state, "/add c") == [("carl ", -1)]
        assert completions(controller.state, "/add b") == []  # bob is a contact already
        await controller.execute("/add carl")
        assert backend.added == [(carl, "carl")]
        await controller.execute("/nearby")
        page = controller.state.page
        assert page is not None and any("1. carl" in line for _, line in page.lines)
        hidden = "3 nodes nearby in networks you are not in (not shown)"
        assert any(line == hidden for _, line in page.lines)
        await controller.execute("/peers")
        assert controller.state.page is not None
        assert any(line == hidden for _, line in controller.state.page.lines)
        await controller.execute("/add 1 Carl K")
        assert backend.added[-1] == (carl, "Carl K")
        await controller.execute("/add 7")
        assert any("no one called '7' is nearby" in n.text for n in controller.state.notices)
    finally:
        await controller.stop()


def test_the_newest_notice_is_never_pushed_off_by_a_long_one() -> None:
    chat = with_history(0)
    chat.state.notice("info", "a long notice that wraps over several rows of a narrow pane " * 3)
    chat.state.notice("error", "no conversation named 'bob'")
    rows = text(chat._notice_rows(30, 3))
    assert len(rows) == 3 and rows[-1].strip().endswith("'bob'")
