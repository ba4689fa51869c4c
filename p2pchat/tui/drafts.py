"""Drafts: each conversation keeps what was typed for it, and switching swaps the input. A
part of the chat screen (tui/app.py), given the state and the input's buffer."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document

from p2pchat.tui.completing import conversation_name
from p2pchat.tui.state import ChatState


class Drafts:
    """The text typed for each conversation not open now, and which one the input holds."""

    def __init__(self, state: ChatState, buffer: Buffer,
                 restored: Callable[[str], None] = lambda text: None) -> None:
        self._state = state
        self._buffer = buffer
        self._restored = restored  # told the text put back in the input (tui/kept_input.py)
        self.showing: str | None = None  # the conversation whose draft the input holds
        self.held: dict[str, str] = {}  # conversation id -> text typed for it

    def sync(self) -> None:
        """The input follows the selected conversation (run before each render)."""
        selected = self._state.selected
        if selected == self.showing:
            return
        if self.showing is None:  # typed before anything was open: it goes with the first
            self.showing = selected
            return
        self.held[self.showing] = self._buffer.text
        text = self.held.pop(selected, "") if selected is not None else ""
        self._buffer.set_document(Document(text, len(text)), bypass_readonly=True)
        self.showing = selected
        self._restored(text)

    def texts(self) -> list[tuple[str, str]]:
        """(conversation name, text) of each unsent text, the open one first."""
        self.sync()
        held = [(c, t) for c, t in self.held.items() if t.strip()]
        open_one = [(self.showing or "", self._buffer.text)] if self._buffer.text.strip() else []
        return [(conversation_name(self._state, c), t) for c, t in open_one + held]

    def unsent(self) -> list[str]:
        """The names of the conversations with unsent text, the open one first."""
        self.sync()
        held = [conv_id for conv_id, text in self.held.items() if text.strip()]
        open_one = [self.showing or ""] if self._buffer.text.strip() else []
        return [conversation_name(self._state, c) for c in open_one + held]
