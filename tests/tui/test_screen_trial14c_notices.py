"""notes/s36/trial14c.md B7 and B8 on the chat screen: a notice that has left the notices row
(displaced by newer ones, or cleared with Esc) never comes back to it; a y/n question leaves
the standing request or NEW KEY warning one row above it."""

from __future__ import annotations

import pytest

import p2pchat.tui.controller as controller_module
from p2pchat.tui.backend import BackendError
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import answers_pass
from p2pchat.tui.notice_rows import notice_rows, row_lines
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_screen import running, text
from tests.tui.test_screen_trial4 import Clock
from tests.tui.test_screen_trial13 import Blocking
from tests.tui.test_screen_trial14b_c import warned
from tests.tui.test_state import CAROL, contact, loaded_state

pytestmark = pytest.mark.timeout(60)
ROWS = 3  # app.MAX_NOTICE_ROWS


def texts(rows: list) -> list[str]:  # type: ignore[type-arg]
    return ["".join(f[1] for f in row) for row in rows]


def shown(state: ChatState, width: int = 78) -> list[str]:
    """The row as the app draws it (and so marks what it displaces)."""
    return texts(row_lines(state.notices, None, width, ROWS, state.acted_at))


def test_news_displaced_then_the_newer_gone_does_not_come_back() -> None:
    """B7 a: "bob joined (crew)" came back on the row after a removal, a minute after it
    had left it."""
    clock = Clock()
    state = loaded_state()
    state.clock = clock
    state.notice("info", "bob joined (crew)", key="group:crew:join:bob")
    assert shown(state) == ["bob joined (crew)"]
    for news in ("carol joined (crew)", "dave joined (crew)", "you joined #bob (opened it)"):
        clock.now += 1
        state.notice("info", news)
    assert "bob joined (crew)" not in shown(state)
    for newer in ("carol joined", "dave joined", "you joined"):  # they go (aged, answered)
        state.drop_notices(mentioning=(newer,))
    clock.now += 1
    state.notice("info", "you removed carol from crew")
    assert shown(state) == ["you removed carol from crew"], [n.text for n in state.notices]
    assert any(n.text == "bob joined (crew)" for n in state.notices)  # kept for /notices


def test_an_answer_replaced_beside_the_warning_does_not_come_back() -> None:
    """B7 b: "left club; networks: none", replaced by the held 'q' notice beside the standing
    warning, was back on the row once that notice went."""
    clock = Clock()
    state = warned(clock)
    clock.now += 1
    state.notice("info", "left club; networks: none", key="networks:")
    answers_pass(state, [n for n in state.notices if not n.text.startswith("left")])
    rows = shown(state)
    assert rows[0].startswith("WARNING") and rows[-1] == "left club; networks: none", rows
    clock.now += 1
    state.notice("error", "not sent: your 'q' cancelled the question 'Block carol (WZDITNQ)?';"
                          " Enter again sends 'q' as a message", key="passing:held")
    rows = shown(state)
    assert "left club; networks: none" not in rows and rows[0].startswith("WARNING"), rows
    state.drop_notices(key="passing:held")  # the held line sent: its notice goes
    rows = shown(state)
    assert rows and rows[0].startswith("WARNING"), rows
    assert "left club; networks: none" not in rows, rows


def test_a_standing_warning_is_never_displaced() -> None:
    """The NEW KEY warning keeps its line: news never marks it off the row."""
    clock = Clock()
    state = warned(clock)
    for news in ("a", "b", "c", "d"):
        clock.now += 1
        state.notice("info", news)
        assert shown(state)[0].startswith("WARNING"), shown(state)
    assert not any(n.displaced for n in state.notices if n.key.startswith("request:"))


class Asked(FakeBackend):
    """carol asks to connect; the node stops and comes back."""

    mode = "attached"
    down = False

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(CAROL, "carol", state="request")]

    async def reconnect(self) -> None:
        if self.down:
            raise BackendError("no_node", "no node is running")


async def test_a_request_cleared_with_esc_is_not_said_again_at_a_reconnection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """B7 c: the request notice cleared with Esc was back after "reconnected to the node";
    a new request from them is said again."""
    monkeypatch.setattr(controller_module, "RECONNECT_DELAY", 0.01)
    backend = Asked()
    controller = Controller(backend)
    await controller.start()
    state = controller.state
    try:
        assert any("asks to connect" in n.text for n in state.notices)
        state.clear_notices()  # Esc
        backend.down = True
        backend.streams[0].queue.put_nowait(None)  # the node stops
        await until(lambda: not state.connected, 10, "disconnected")
        backend.down = False
        await until(lambda: state.connected, 10, "reconnected")
        await until(lambda: any("reconnected" in n.text for n in state.notices), 10, "said")
        assert not any("asks to connect" in n.text for n in state.notices), \
            [n.text for n in state.notices]
        state.apply({"type": "contact_request", "fingerprint": CAROL, "name": "carol"})
        assert any("asks to connect" in n.text for n in state.notices), \
            [n.text for n in state.notices]
    finally:
        await controller.stop()


@pytest.mark.parametrize("width", [78, 118])  # the main pane at 80x24 and at 120x35
def test_a_question_leaves_the_standing_warning_a_row_above_it(width: int) -> None:
    """B8: /block's question hid the NEW KEY warning while it was up."""
    state = warned(Clock())
    question = ("Block carol (WZDITNQ)? No links, no messages from them; /unblock carol"
                " (WZDITNQ) undoes it. y/n + Enter")
    rows = texts(notice_rows(state.notices, question, width, ROWS))
    assert rows[0].startswith("WARNING: bob (") and rows[0].endswith("…"), rows
    assert rows[1].startswith("Block carol (WZDITNQ)?") and "y/n + Enter" in " ".join(rows)
    plain = loaded_state()  # no standing notice: the question alone, as before
    plain.notice("info", "bob joined (crew)")
    rows = texts(notice_rows(plain.notices, question, width, ROWS))
    assert rows[0].startswith("Block carol"), rows


def test_an_invitation_pushed_off_by_news_is_back_when_the_news_goes() -> None:
    """An invitation waits for its answer: pushed off, it is not displaced for good."""
    clock = Clock()
    state = loaded_state()
    state.clock = clock
    state.notice("request", "bob invites you to the group hike (/group accept hike, /group"
                            " decline hike)", key="invite:hike")
    for news in ("carol joined (crew)", "dave joined (crew)", "erin joined (crew)"):
        clock.now += 1
        state.notice("info", news)
    assert not any("invites" in row for row in shown(state))
    for news in ("carol joined", "dave joined", "erin joined"):
        state.drop_notices(mentioning=(news,))
    assert any("invites you" in row for row in shown(state)), shown(state)


async def test_the_screen_marks_what_it_pushes_off_the_row() -> None:
    """B7 through the app's own drawing of the row: news pushed off it stays off."""
    async with running(Blocking()) as (chat, _keys):
        state = chat.state
        state.notice("info", "bob joined (crew)", key="group:crew:join:bob")
        assert text(chat._notice_rows(78, ROWS)) == ["bob joined (crew)"]
        for news in ("carol joined (crew)", "dave joined (crew)", "erin joined (crew)"):
            state.notice("info", news)
        assert "bob joined (crew)" not in text(chat._notice_rows(78, ROWS))
        for news in ("carol joined", "dave joined", "erin joined"):
            state.drop_notices(mentioning=(news,))
        assert text(chat._notice_rows(78, ROWS)) == [], [n.text for n in state.notices]
