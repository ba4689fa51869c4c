"""How the chat screen's parts are sized and filled from what they show: the input's rows, the
conversation list's rows, the title row(s), the completion menu's height, and what a key or a
paste puts in the input. Pure functions that tui/app.py's ChatApp draws with."""

from __future__ import annotations

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding.key_processor import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import Dimension

from p2pchat.tui import render
from p2pchat.tui.state import ChatState
from p2pchat.tui.word_wrap import word_breaks

MAX_HEADER_ROWS = 2  # a page's title wraps to this many rows, then ends in "…"

# Printable keys that, right after an Esc, are typed text: all but our Alt bindings' digits
# and "a" (Alt+1..9, Alt+A) and the "/" bound on its own.
ESC_THEN_TYPED = "".join(chr(code) for code in range(0x20, 0x7f)
                         if chr(code) not in "123456789aA/")


def pasted(text: str) -> str:
    """Pasted (or typed) text as it is sent: line ends as typed, no trailing blank lines
    (round 2, 6: a paste ending in a newline sent a blank line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def typed_text(pressed: KeyPress) -> bool:
    """A key that puts text in the input (a character or a paste), not a control key."""
    if pressed.key == Keys.BracketedPaste:
        return True
    return len(pressed.data) == 1 and pressed.data.isprintable() and pressed.key == pressed.data


INPUT_PREFIX = "> "


def continuation_prefix(line: int, wrap_count: int) -> str:
    """Rows after the prompt's start under the text, not under the "> " (trial 5, B15: a
    pasted second line began at column 0)."""
    return " " * len(INPUT_PREFIX) if line or wrap_count else ""


def input_rows(text: str, columns: int, limit: int) -> int:
    """As many rows as the typed text needs when wrapped, at most `limit`: every row starts
    after the "> " prompt or the two spaces under it (`continuation_prefix`)."""
    columns = max(1, columns - len(INPUT_PREFIX))
    rows = 0
    for line in text.split("\n") if text else [""]:
        rows += word_breaks(line, columns)[1]
        if rows >= limit:
            break
    return min(rows, limit)


def conversation_rows(state: ChatState, width: int, height: int) -> list[StyleAndTextTuples]:
    """The conversation list, one row per line of render.conversation_list."""
    rows: list[StyleAndTextTuples] = [[]]
    for style, chunk in render.conversation_list(state, width):
        for index, part in enumerate(chunk.split("\n")):
            if index:
                rows.append([])
            if part:
                rows[-1].append((style, part))
    return rows[:height] if rows[-1] else rows[:-1][:height]


def header_rows(text: str, width: int) -> list[StyleAndTextTuples]:
    """The title: wrapped (a page's long title was cut at the edge, round 2, 7), at most
    MAX_HEADER_ROWS rows, the last ending in "…" when there is more."""
    rows: list[StyleAndTextTuples] = [list(row) for row in
                                      render.wrap([("class:header", text)], width, 1)]
    if len(rows) > MAX_HEADER_ROWS:
        rows = rows[:MAX_HEADER_ROWS]
        last = "".join(fragment[1] for fragment in rows[-1])
        rows[-1] = [("class:header", render.fit(last + " …", width))]
    return rows


def menu_height(buffer: Buffer, limit: int) -> Dimension:
    """The completion menu's rows: one per choice, at most `limit`; it is a part of the
    layout, so a taller one took rows it did not fill (round 2, 8: two names in 12 rows)."""
    state = buffer.complete_state
    count = len(state.completions) if state is not None else 0
    return Dimension.exact(max(1, min(count, limit)))
