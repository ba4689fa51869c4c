"""The keys that switch conversation (Alt+Up/Down, Ctrl-P/N, Alt+1..9, Alt+A), bound on the
chat screen's key bindings (tui/app.py) with the state, the controller and the question's
hooks they need.

An Alt key comes as Esc then the key, in one write. With a y/n question up, that Esc is no
answer and no cancel of its own: the Alt key cancels the question, saying so, and acts, never
typing its key (trial 14a, B4: Alt+2 typed "2", and Enter sent it to the conversation left).
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.application import Application
from prompt_toolkit.filters import Condition, Filter
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

from p2pchat.tui.controller import Controller
from p2pchat.tui.state import ChatState

# Our Alt keys' second keys (Alt+Enter too: its Enter must not send the input once the Esc
# before it cancelled the question)
ALT_KEYS = frozenset([*"123456789aA", Keys.Up, Keys.Down, Keys.ControlM])

Handler = Callable[[KeyPressEvent], None]


def alt_key_queued(application: Callable[[], Application[None]]) -> Filter:
    """True while the key being read is an Esc with one of our Alt keys right behind it."""
    def queued() -> bool:
        processor = application().key_processor
        return bool(processor.key_buffer and processor.key_buffer[0].key == Keys.Escape
                    and processor.input_queue and processor.input_queue[0].key in ALT_KEYS)
    return Condition(queued)


def add_switch_keys(keys: KeyBindings, state: ChatState, controller: Controller,
                    asking: Callable[[], bool], unanswered: Callable[[], None],
                    answer_kept: Callable[[], None] = lambda: None) -> None:
    """Bind the switching keys; `asking()`: a question is up; `unanswered()` cancels it,
    saying so; `answer_kept()` puts what was typed towards an answer in the input, held once
    there (s36 hunt1, F12: Alt+Down lost a typed "y"), before the switch takes the input."""
    confirming = Condition(asking)

    def unasked(act: Handler) -> Handler:
        def alt_key(event: KeyPressEvent) -> None:
            asked = asking()
            if asked:
                answer_kept()
            act(event)
            if asked:  # after: a switch drops the notices of the moment
                unanswered()
        return alt_key

    @keys.add("escape", "down")
    @keys.add("c-n", filter=~confirming)
    @unasked
    def _next(event: KeyPressEvent) -> None:
        controller.switch(1)

    @keys.add("escape", "up")
    @keys.add("c-p", filter=~confirming)
    @unasked
    def _previous(event: KeyPressEvent) -> None:
        controller.switch(-1)

    for digit in "123456789":
        @keys.add("escape", digit)
        @unasked
        def _number(event: KeyPressEvent) -> None:
            order, number = state.order(), int(event.key_sequence[-1].data)
            if number <= len(order):  # a page and a search's marks close (13c, B1)
                state.page, state.search_term = None, ""
                controller.select(order[number - 1].id)

    @keys.add("escape", "enter", filter=confirming)  # (Alt+Enter's newline: a question first)
    def _alt_enter(event: KeyPressEvent) -> None:
        answer_kept()
        unanswered()

    @keys.add("escape", "a")
    @keys.add("escape", "A")
    @unasked
    def _next_unread(event: KeyPressEvent) -> None:
        controller.next_unread()  # weechat's Alt+A
