"""notes/s36/trial14b.md (B) on the chat screen: a standing NEW KEY warning keeps a row of
the notices whatever news comes (B1), the answer to the command just run shows beside it
(B8), a notice cleared with Esc is not said again in other words (B6), and a newer command's
answer replaces an older one on the row (B11)."""

from __future__ import annotations

import pytest

import p2pchat.tui.controller as controller_module
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import answers_pass
from p2pchat.tui.notice_rows import notice_rows
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4 import Clock
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair, screen
from tests.tui.test_screen_trial5 import said
from tests.tui.test_screen_trial8_reach import polls, watched
from tests.tui.test_screen_trial12 import IMPOSTOR, Restarting, Unblocking
from tests.tui.test_state import BOB, DAVE, contact, loaded_state

pytestmark = pytest.mark.timeout(60)
ROWS = 3  # app.MAX_NOTICE_ROWS: the row's rows at 80x24 and 120x35 alike


def rows_of(state: ChatState, width: int, seen_at: float) -> list[str]:
    return ["".join(f[1] for f in row)
            for row in notice_rows(state.notices, None, width, ROWS, seen_at)]


def warned(clock: Clock) -> ChatState:
    state = loaded_state()
    state.clock = clock
    state.upsert_contact({**contact(BOB, "bob"), "verified": True})
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": f"bob ({DAVE[:7]})",
                 "same_name_as": BOB, "same_name_verified": True})
    return state


@pytest.mark.parametrize("width", [78, 118])  # the main pane at 80x24 and at 120x35
def test_news_never_pushes_the_new_key_warning_off_the_row(width: int) -> None:
    """B1: group joins, /id's 3-line answer, "not answered" lines took the whole row."""
    clock = Clock()
    state = warned(clock)
    clock.now += 1
    for news in ("admitted to club", "bob joined (crew)", "carol joined (crew)",
                 "~bob (324TGN6) left (mix)"):
        state.notice("info", news)
    rows = rows_of(state, width, seen_at=0.0)
    assert len(rows) == ROWS and rows[0].startswith("WARNING: bob ("), rows
    assert rows[0].endswith("…") and "NEW KEY" in rows[0], rows
    assert rows[1:] == ["carol joined (crew)", "~bob (324TGN6) left (mix)"], rows
    state.notice("info", "you are alice\nfingerprint X\nreachable at 127.0.0.1:4", whole=True)
    rows = rows_of(state, width, seen_at=clock.now)  # a whole answer may take more rows
    assert rows[0].startswith("WARNING: bob (") and rows[-1].startswith("reachable at"), rows
    assert len(rows) == 4, rows


def test_the_answer_just_given_shows_beside_the_warning_whatever_news_follows() -> None:
    """B8: the answer went under the warning's rows; then news said after it took its row."""
    clock = Clock()
    state = warned(clock)
    clock.now += 1
    acted = clock.now
    state.notice("info", "unblocked bob (324TGN6): a request again")
    answers_pass(state, [n for n in state.notices if not n.text.startswith("unblocked")])
    for news in ("bob joined (crew)", "carol joined (crew)", "dave joined (crew)"):
        clock.now += 1
        state.notice("info", news)
    rows = rows_of(state, 78, seen_at=acted)
    assert rows[0].startswith("WARNING: bob (") and len(rows) == ROWS, rows
    assert rows[-1] == "unblocked bob (324TGN6): a request again", rows
    assert rows[1] == "dave joined (crew)", rows
    rows = rows_of(state, 78, seen_at=clock.now + 1)  # the user acted again: newest as before
    assert rows[0].startswith("WARNING: bob (") and rows[-1] == "dave joined (crew)", rows


async def test_unblock_says_its_answer_on_the_row_under_the_warning() -> None:
    """B8 on the screen: /block then /unblock of a NEW KEY request at 80 columns."""
    controller = Controller(Unblocking())
    controller.ask = None  # blocked at once
    await controller.start()
    try:
        await controller.execute(f"/block {IMPOSTOR}")
        await controller.execute(f"/unblock {IMPOSTOR}")
        rows = rows_of(controller.state, 78, controller.state.acted_at)
        assert rows[0].startswith("WARNING: bob ("), rows
        assert any(r.startswith("unblocked bob (") for r in rows[1:]), (rows, said(controller))
    finally:
        await controller.stop()


def test_a_newer_commands_answer_replaces_the_older_one() -> None:
    """B11: "accepted alice: opened alice's conversation" stayed beside /add carol's answer."""
    state = loaded_state()
    state.notice("info", "accepted alice: opened alice's conversation", key="contact:x")
    answers_pass(state, [])
    before = list(state.notices)  # /add's answer, true while the request waits: kept itself
    state.notice("info", "added carol; they see a request until they add you too",
                 key=f"pending:{DAVE}")
    answers_pass(state, before)
    assert [n.text for n in state.notices] == [
        "added carol; they see a request until they add you too"]
    before = list(state.notices)  # a command that says nothing leaves the answer
    answers_pass(state, before)
    assert len(state.notices) == 1


async def test_reconnected_goes_at_the_next_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """B11: "reconnected to the node" stayed about 2 minutes: it is a passing note."""
    monkeypatch.setattr(controller_module, "RECONNECT_DELAY", 0.01)
    backend = Restarting()
    controller = Controller(backend)
    await controller.start()
    try:
        backend.streams[0].queue.put_nowait(None)  # the node stops
        await until(lambda: not controller.state.connected, 10, "disconnected")
        backend.down = False
        await until(lambda: controller.state.connected, 10, "reconnected")
        assert any(n.text == "reconnected to the node" for n in controller.state.notices)
        await controller.execute("/contacts")
        assert not any("reconnected" in n.text for n in controller.state.notices), \
            said(controller)
    finally:
        await controller.stop()


async def test_esc_on_they_see_a_request_is_not_said_again_in_new_words(
        make_local_node: MakeLocalNode) -> None:
    """B6: mallory's "added alice; they see a request until they add you too", cleared with
    Esc, came back 9 s later as "alice's node has your request and has not added you"."""
    alice, mallory = await make_local_node("alice"), await make_local_node("mallory")
    chat = await watched(mallory)
    try:
        await chat.execute(f"/add {fp(alice)} alice {addr(alice)}")
        await until(lambda: any(c["state"] == "request" for c in alice.list_contacts()), 30,
                    "mallory's request at alice's")
        conv = chat.state.conversations[fp(alice)]
        await until(lambda: conv.answers == "awaits", 30, "the screen read that alice has it")
        assert any("they see a request" in n.text for n in chat.state.notices), said(chat)
        chat.state.clear_notices()  # Esc
        await polls(4)
        assert not [n.text for n in chat.state.notices], said(chat)
        await alice.add_contact(fp(mallory), "mallory")  # the state changes: linked now
        await until(lambda: conv.online, 30, "linked")
    finally:
        await chat.stop()


async def test_your_new_names_answer_goes_as_the_readme_says(
        make_local_node: MakeLocalNode) -> None:
    """B11: "you are now bob; the 2 linked now see it at once..." stayed over a minute while
    bob ran other commands. README: what a command said goes once another runs a while later,
    or at once when a newer command says something."""
    bob, _alice = await linked_pair(make_local_node, "bob", "alice")
    chat = await screen(bob)
    clock = Clock()
    chat.state.clock = clock

    async def rename_self(name: str) -> dict[str, object]:  # the node's, without a keystore
        return {**bob.status(), "name": name, "told": 1}
    chat.backend.rename_self = rename_self  # type: ignore[method-assign]
    try:
        await chat.execute("/nick Bobby")
        assert any(n.text.startswith("you are now Bobby;") for n in chat.state.notices), \
            said(chat)
        await chat.execute("/j alice")  # at once: still there to read
        assert any(n.text.startswith("you are now Bobby;") for n in chat.state.notices)
        clock.now += 16
        await chat.execute("/j alice")  # a while later: gone
        assert not any(n.text.startswith("you are now") for n in chat.state.notices), \
            said(chat)
        await chat.execute("/nick bob")
        await chat.execute("/addr alice 127.0.0.1:9")  # a newer answer, at once
        assert not any(n.text.startswith("you are now") for n in chat.state.notices), \
            said(chat)
    finally:
        await chat.stop()
