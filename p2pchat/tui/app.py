"""The screen: prompt_toolkit layout and keys around the controller and its view-model.

    ┌ conversations ┬ history of the selected one ───────────┐
    │ ● bob (2)     │ 12:01 bob: lunch?                       │
    │ ? carol       │ 12:02 alice: yes  ✓✓ delivered          │
    │               ├ notices (requests, warnings, /help) ────┤
    ├ status: name, short fingerprint, links, mDNS, presence ─┤
    └ > input line, Tab completes /commands and names ────────┘
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.formatted_text.utils import split_lines
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import (
    Dimension,
    Float,
    FloatContainer,
    HSplit,
    Layout,
    VSplit,
    Window,
)
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.layout.menus import CompletionsMenu
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style
from prompt_toolkit.widgets import TextArea

from p2pchat.tui import render
from p2pchat.tui.backend import ChatBackend
from p2pchat.tui.commands import complete
from p2pchat.tui.controller import Controller
from p2pchat.tui.state import ChatState

CONVERSATIONS_WIDTH = 24
MAX_NOTICE_LINES = 8
CURSOR = "[SetCursorPosition]"  # FormattedTextControl scrolls its Window to keep this in view


class _Completer(Completer):
    """/commands, and contact names after the commands that take one."""

    def __init__(self, state: ChatState) -> None:
        self._state = state

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        names = [c.name for c in self._state.conversations.values()]
        for text, start in complete(document.text_before_cursor, names):
            yield Completion(text, start_position=start)


class ChatApp:
    def __init__(self, backend: ChatBackend, *, input: Input | None = None,
                 output: Output | None = None) -> None:
        self.controller = Controller(backend, on_change=self.redraw, on_quit=self.exit)
        self.state = self.controller.state
        self._scroll = 0  # history lines scrolled up from the bottom
        self._history_lines = 1
        self._quitting = False
        self.input = TextArea(
            height=1, prompt="> ", multiline=False, wrap_lines=False,
            completer=_Completer(self.state), complete_while_typing=True,
            accept_handler=self._accept,
        )
        self._history_window = Window(
            FormattedTextControl(self._history_text), wrap_lines=True,
        )
        body = VSplit([
            Window(FormattedTextControl(self._conversations_text), width=CONVERSATIONS_WIDTH),
            Window(width=1, char="│", style="class:separator"),
            HSplit([
                self._history_window,
                Window(FormattedTextControl(self._notices_text), wrap_lines=True,
                       height=self._notices_height),
            ]),
        ])
        root = FloatContainer(
            HSplit([
                body,
                Window(FormattedTextControl(self._status_text), height=1, style="class:status"),
                self.input,
            ]),
            floats=[Float(xcursor=True, ycursor=True, content=CompletionsMenu(max_height=8))],
        )
        self.application: Application[None] = Application(
            layout=Layout(root, focused_element=self.input), key_bindings=self._keys(),
            style=Style.from_dict(render.STYLE_RULES), full_screen=True,
            input=input, output=output,
        )

    async def run(self) -> None:
        """Load, then take the screen until /quit, Ctrl-C or Ctrl-D."""
        await self.controller.start()  # before the screen: a failure prints like any error
        try:
            if not self._quitting:
                await self.application.run_async()
        finally:
            await self.controller.stop()

    def exit(self) -> None:
        app = self.application
        self._quitting = True  # asked to stop before the screen was up (SIGTERM, say)
        if app.is_running and not app.is_done:
            with contextlib.suppress(Exception):  # already exiting: nothing more to do
                app.exit()

    def redraw(self) -> None:
        self.application.invalidate()  # a no-op until the application runs

    def _accept(self, buffer: Buffer) -> bool:
        self._scroll = 0
        self.controller.submit(buffer.text)
        return False  # clear the line

    # ------------------------------------------------------------ panes

    def _conversations_text(self) -> StyleAndTextTuples:
        return list(render.conversation_list(self.state, CONVERSATIONS_WIDTH))

    def _history_text(self) -> StyleAndTextTuples:
        fragments, _ = render.history(self.state)
        lines = list(split_lines(list(fragments)))
        self._history_lines = len(lines)
        self._scroll = max(0, min(self._scroll, len(lines) - 1))
        target = len(lines) - 1 - self._scroll
        out: StyleAndTextTuples = []
        for index, line in enumerate(lines):
            if index:
                out.append(("", "\n"))
            out.extend(line)
            if index == target:
                out.append((CURSOR, ""))  # the end of this line stays in view
        return out

    def _notices_text(self) -> StyleAndTextTuples:
        return list(render.notices(self.state, MAX_NOTICE_LINES))

    def _notices_height(self) -> Dimension:
        return Dimension.exact(min(len(self.state.notices), MAX_NOTICE_LINES))

    def _status_text(self) -> StyleAndTextTuples:
        return list(render.status_line(self.state))

    # ------------------------------------------------------------ keys

    def _page(self) -> int:
        info = self._history_window.render_info
        return max(1, (info.window_height if info else 10) - 1)

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()

        @keys.add("c-c")
        @keys.add("c-d")
        @keys.add("<sigint>")
        def _quit(event: KeyPressEvent) -> None:
            self.exit()

        @keys.add("tab")
        def _tab(event: KeyPressEvent) -> None:
            buffer = self.input.buffer
            if buffer.complete_state and buffer.complete_state.current_completion:
                buffer.complete_next()  # already choosing in the menu
            elif buffer.text.startswith("/"):  # Tab completes commands and names...
                self._complete_now(buffer)
            else:  # ...and otherwise moves between conversations
                self._switch(1)

        @keys.add("s-tab")
        def _shift_tab(event: KeyPressEvent) -> None:
            buffer = self.input.buffer
            if buffer.complete_state:
                buffer.complete_previous()
            else:
                self._switch(-1)

        @keys.add("c-n")
        def _next(event: KeyPressEvent) -> None:
            self._switch(1)

        @keys.add("c-p")
        def _previous(event: KeyPressEvent) -> None:
            self._switch(-1)

        @keys.add("pageup")
        def _up(event: KeyPressEvent) -> None:
            self._scroll = min(self._scroll + self._page(), max(0, self._history_lines - 1))

        @keys.add("pagedown")
        def _down(event: KeyPressEvent) -> None:
            self._scroll = max(0, self._scroll - self._page())

        @keys.add("escape", eager=True)
        def _clear(event: KeyPressEvent) -> None:
            buffer = self.input.buffer
            if buffer.complete_state:
                buffer.cancel_completion()
            else:
                self.state.clear_notices()

        return keys

    def _complete_now(self, buffer: Buffer) -> None:
        """Complete from what is typed right now, not from a background run that may lag a
        quick typist: one match is inserted, several open the menu."""
        names = [c.name for c in self.state.conversations.values()]
        options = complete(buffer.document.text_before_cursor, names)
        if len(options) == 1:
            text, start = options[0]
            buffer.delete_before_cursor(-start)
            buffer.insert_text(text)
        elif options:
            buffer.start_completion(select_first=True)

    def _switch(self, step: int) -> None:
        self._scroll = 0
        self.controller.switch(step)
