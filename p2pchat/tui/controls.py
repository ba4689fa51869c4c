"""The chat screen's own prompt_toolkit parts: panes of rows computed for their size, and the
input's passphrase mask."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout.controls import UIContent, UIControl
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments
from prompt_toolkit.mouse_events import MouseEvent, MouseEventType

from p2pchat.tui.commands import secret_start

WHEEL_ROWS = 3


class RowsControl(UIControl):
    """Rows computed for the exact size the window gets; the mouse wheel scrolls."""

    def __init__(self, rows: Callable[[int, int], list[StyleAndTextTuples]],
                 on_wheel: Callable[[int], None] | None = None,
                 on_click: Callable[[int], None] | None = None) -> None:
        self._rows = rows
        self._on_wheel = on_wheel
        self._on_click = on_click

    def create_content(self, width: int, height: int) -> UIContent:
        rows = self._rows(width, height)
        return UIContent(get_line=lambda i: rows[i] if i < len(rows) else [],
                         line_count=len(rows), show_cursor=False)

    def mouse_handler(self, mouse_event: MouseEvent) -> object:
        kind = mouse_event.event_type
        if kind == MouseEventType.SCROLL_UP and self._on_wheel:
            self._on_wheel(WHEEL_ROWS)
        elif kind == MouseEventType.SCROLL_DOWN and self._on_wheel:
            self._on_wheel(-WHEEL_ROWS)
        elif kind == MouseEventType.MOUSE_UP and self._on_click:
            self._on_click(mouse_event.position.y)
        else:
            return NotImplemented
        return None

    def is_focusable(self) -> bool:
        return False


class MaskSecret(Processor):
    """Shows the passphrase of `/network join NAME PASSPHRASE` as stars while it is typed."""

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        start = secret_start(ti.document.text)
        if start is None:
            return Transformation(ti.fragments)
        line_start = ti.document.translate_row_col_to_index(ti.lineno, 0)
        line = ti.document.lines[ti.lineno]
        fragments = explode_text_fragments(ti.fragments)  # one character each
        for column in range(max(0, start - line_start), len(line)):
            at = ti.source_to_display(column)  # after the prompt the processors before added
            if at < len(fragments):
                fragments[at] = (fragments[at][0], "*")
        return Transformation(fragments)
