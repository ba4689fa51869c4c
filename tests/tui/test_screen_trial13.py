"""notes/s35/trial13a.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backend of test_controller: a y/n question is answered by its letter and Enter, never
by the first letter of a chat line (B1)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_screen import ENTER, running, text
from tests.tui.test_state import BOB, DAVE, contact

pytestmark = pytest.mark.timeout(30)

BACKSPACE = "\x7f"


class Blocking(FakeBackend):
    """bob and dave are contacts; dave's conversation is where lines go."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(BOB, "bob"), contact(DAVE, "dave")]
        self.blocked: list[str] = []

    async def block(self, who: str) -> dict[str, Any]:
        self.blocked.append(who)
        return await super().block(who)


def sent(backend: FakeBackend) -> list[Any]:
    return [args for call, args in backend.calls if call == "send"]


async def test_a_chat_line_starting_with_y_cancels_the_question_and_goes_whole() -> None:
    """B1: with /block mallory pending, "yo what is up" + Enter blocked mallory and sent
    "o what is up". Now the "o" cancels the question, visibly, and the line goes whole."""
    backend = Blocking()
    async with running(backend) as (chat, keys):
        chat.controller.select(DAVE)
        keys.send_text(f"/block bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert "y/n + Enter" in " ".join(text(chat._notice_rows(80, 3)))
        keys.send_text("yo what is up")
        await until(lambda: chat.input.text == "yo what is up", 10, "the line as typed")
        assert chat.confirm is None and any(
            n.text.startswith("not answered, so nothing done: Block bob")
            for n in chat.state.notices)
        keys.send_text(ENTER)
        await until(lambda: sent(backend), 10, "the line")
        assert sent(backend) == [(DAVE, "yo what is up")] and backend.blocked == []


async def test_the_answer_is_its_letter_or_word_then_enter() -> None:
    backend = Blocking()
    async with running(backend) as (chat, keys):
        chat.controller.select(DAVE)
        keys.send_text(f"/block bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text("y")
        await until(lambda: "answer: y" in " ".join(text(chat._notice_rows(80, 3))), 10,
                    "the letter held beside the question")
        assert chat.confirm is not None and backend.blocked == [] and chat.input.text == ""
        keys.send_text(f"{BACKSPACE}n{BACKSPACE}yes{ENTER}")  # taken back, then "yes"
        await until(lambda: backend.blocked == [BOB], 10, "bob blocked")
        assert chat.confirm is None and sent(backend) == [] and chat.input.text == ""


async def test_the_quit_question_is_not_answered_by_the_b_of_bye() -> None:
    """B1: with /quit's question pending, "bye everyone" + Enter: the "b" answered "keep the
    node running", the chat closed and the rest was lost."""
    backend = Blocking()
    async with running(backend) as (chat, keys):
        chat.controller.select(DAVE)
        chat.state.mode = "in-process"  # quitting asks: stop the node, or keep it running?
        keys.send_text(f"/quit{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text(f"bye everyone{ENTER}")
        await until(lambda: sent(backend), 10, "the line")
        assert sent(backend) == [(DAVE, "bye everyone")]
        assert chat.application.is_running and chat.quit_choice == "quit"
        keys.send_text(f"/quit{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question again")
        keys.send_text(f"b{ENTER}")
        await until(lambda: not chat.application.is_running, 10, "the screen closed")
        assert chat.quit_choice == "background"


async def test_a_command_typed_after_kept_text_starts_apart() -> None:
    """B8: "still here?" refused and kept in the input, then "/group forget" typed read
    "still here?/group forget", and Enter only repeated "not sent"."""
    backend = Blocking()
    backend.contact_list = [contact(BOB, "bob", state="removed"), contact(DAVE, "dave")]
    async with running(backend) as (chat, keys):
        chat.controller.select(BOB)
        keys.send_text(f"still here?{ENTER}")
        await until(lambda: any(n.text.startswith("not sent: bob is no longer a contact")
                                for n in chat.state.notices), 10, "the refusal")
        assert chat.input.text == "still here?"
        keys.send_text("/help")
        await until(lambda: chat.input.text == "/help", 10, "the command on its own")
        assert any(n.text == "your kept text is in the history: Up brings it back"
                   for n in chat.state.notices)
        keys.send_text(ENTER)
        await until(lambda: chat.state.page is not None, 10, "the help page")
        keys.send_text("\x1b[A\x1b[A")  # Up, Up: /help, then the kept text
        await until(lambda: chat.input.text == "still here?", 10, "the kept text back")
        assert sent(backend) == []


async def test_a_message_entered_just_after_a_refused_switch_waits_once() -> None:
    """B6: `/query bob` refused as ambiguous, `/me waves` typed a second later went to the
    group still open. Within a few seconds it stays in the input once; Enter again sends it."""
    backend = Blocking()
    async with running(backend) as (chat, keys):
        now = [1000.0]
        chat.state.clock = lambda: now[0]
        chat.controller.select(DAVE)
        keys.send_text(f"/query nobody{ENTER}")
        await until(lambda: any("'nobody'" in n.text for n in chat.state.notices), 10,
                    "the refusal")
        await until(lambda: not chat.controller.busy(), 10, "the command done")
        now[0] += 1.0
        keys.send_text(f"/me waves{ENTER}")
        await until(lambda: any(n.text.startswith("not sent: /query nobody failed, so the line"
                                                  " typed after it did not run")
                                for n in chat.state.notices), 10, "the line held")
        assert chat.input.text == "/me waves" and sent(backend) == []
        keys.send_text(ENTER)  # read, and meant for dave
        await until(lambda: sent(backend), 10, "the line sent on the second Enter")
        chat.state.clear_notices()
        keys.send_text(f"/query nobody{ENTER}")
        await until(lambda: any("'nobody'" in n.text for n in chat.state.notices), 10,
                    "the refusal again")
        await until(lambda: not chat.controller.busy(), 10, "the command done")
        now[0] += 4.0  # long enough to have read the refusal
        keys.send_text(f"hello{ENTER}")
        await until(lambda: (DAVE, "hello") in sent(backend), 10, "sent at once")


async def test_a_long_message_in_the_input_wraps_at_spaces() -> None:
    """B17: a long message in the input wrapped in the middle of words ("word18" / "48"),
    unlike the conversation pane, which wraps at spaces."""
    from prompt_toolkit.output import DummyOutput

    from p2pchat.tui.app import ChatApp
    from p2pchat.tui.panes import input_rows

    chat = ChatApp(Blocking(), output=DummyOutput())
    typed = " ".join(f"word{i}" for i in range(1, 60))
    chat.input.text = typed
    width = 47
    content = chat.input.control.create_content(width, 10)
    line = "".join(fragment[1] for fragment in content.get_line(0))
    rows, rest = [line[:width]], line[width:]  # the rows the window cuts it into
    while rest:
        rows.append(rest[:width - 2])  # under the two spaces of the continuation prefix
        rest = rest[width - 2:]
    for row, after in pairwise(rows):
        assert row.endswith(" ") or after.startswith(" "), (row, after)  # never in a word
    assert " ".join(" ".join(rows)[2:].split()) == typed  # nothing lost or moved
    assert input_rows(typed, width, 99) == len(rows)
    for word in ("word59", "word8 ", "word50"):  # the cursor on a word moved whole: on it
        chat.input.buffer.cursor_position = typed.index(word)
        content = chat.input.control.create_content(width, 10)
        assert content.cursor_position.x == line.index(word), word
