"""What the conversation pane shows: the rows of the open conversation (or page) that fit,
scrolled by the user, kept in place while new rows arrive, with a "more below" mark."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from prompt_toolkit.formatted_text import StyleAndTextTuples

from p2pchat.tui import render

if TYPE_CHECKING:
    from p2pchat.tui.state import ChatState


class HistoryView:
    def __init__(self, state: ChatState) -> None:
        self.state = state
        self.offset = 0  # rows scrolled up from the bottom
        self.page_rows = 10
        self.total_rows = 0
        self.shown_for: object = None  # what the pane showed last: a new one starts at the end
        self.new_below = False

    def scroll(self, rows: int) -> None:
        self.offset = max(0, self.offset + rows)  # clamped when drawn

    def rows(self, width: int, height: int) -> list[StyleAndTextTuples]:
        rows = cast(list[StyleAndTextTuples], render.history_rows(self.state, width))
        page = self.state.page
        shown_for = ("page", id(page)) if page is not None else ("conv", self.state.selected)
        if shown_for != self.shown_for:
            # A conversation opens at its newest message, a page (help...) at its top.
            top = len(rows) if self.state.page is not None else 0
            self.shown_for, self.offset, self.new_below = shown_for, top, False
        elif self.offset and len(rows) > self.total_rows:
            self.offset += len(rows) - self.total_rows  # keep the rows being read in place
            self.new_below = self.state.page is None
        if self.state.jump_to is not None and self.state.page is None:
            at = render.message_row(self.state, width, self.state.jump_to)
            self.state.jump_to = None
            if at is not None:  # the message a third of the way down the pane
                self.offset = max(0, len(rows) - at - max(1, (2 * height) // 3))
        self.total_rows = len(rows)
        self.page_rows = max(1, height - 1)
        self.offset = max(0, min(self.offset, len(rows) - height))
        if self.offset == 0:
            self.new_below = False
        end = len(rows) - self.offset
        visible: list[StyleAndTextTuples] = list(rows[max(0, end - height):end])
        if self.state.page is None and len(visible) < height:
            visible = [[] for _ in range(height - len(visible))] + visible  # newest at the bottom
        if self.offset:
            label = "new messages below: End" if self.new_below else "more below: End"
            visible[-1] = [("class:more", render.fit(f" ↓ {label} ", width))]
        return visible
