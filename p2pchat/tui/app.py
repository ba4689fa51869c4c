"""The screen: prompt_toolkit layout and keys around the controller and its view-model.

    ┌ conversations ┬ bob · online ──────────────────────────┐
    │ 1 ● bob (2)   │ ───── Sunday 29 November 2026 ─────    │
    │ 2 ? carol     │ 12:01 bob: lunch?                       │
    │               │ 12:02 alice: yes ✓✓                     │
    │               ├ notices: the newest, one row each ──────┤
    ├ status: name, short fingerprint, who is online ─────────┤
    └ > input, wraps over a few rows; Tab completes ──────────┘

Below NARROW columns the conversation list folds away (the header names the conversation).
The main pane is drawn by `RowsControl` (tui/controls.py), which gets the real width and
height, so wrapping, paging and the "new messages below" line are exact at every size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import cast

from prompt_toolkit.application import Application
from prompt_toolkit.filters import Condition, has_completions, is_done
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import (
    ConditionalContainer,
    Dimension,
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

from p2pchat.core.messages import MAX_TEXT_BYTES
from p2pchat.tui import render
from p2pchat.tui.backend import ChatBackend
from p2pchat.tui.commands import (
    as_command,
    secret_start,
    split_message,
)
from p2pchat.tui.completing import InputCompleter, complete_now, listed
from p2pchat.tui.controller import PASSING, Controller
from p2pchat.tui.controls import MaskSecret, RowsControl
from p2pchat.tui.drafts import Drafts
from p2pchat.tui.history_view import HistoryView
from p2pchat.tui.kept_input import KeptInput
from p2pchat.tui.notice_rows import row_lines
from p2pchat.tui.notify import Notifier
from p2pchat.tui.panes import (
    ESC_THEN_TYPED,
    INPUT_PREFIX,
    continuation_prefix,
    conversation_rows,
    header_rows,
    input_rows,
    menu_height,
    pasted,
    typed_text,
)
from p2pchat.tui.question import (
    answered_no,
    as_shown,
    not_asked,
    on_key,
    unanswered,
)
from p2pchat.tui.refusals import into_input, passphrase_refusal, refusal
from p2pchat.tui.switch_keys import add_switch_keys, alt_key_queued
from p2pchat.tui.typed_after import TypedAfter
from p2pchat.tui.word_wrap import WrapWords

MOUSE_KEYS = (Keys.Vt100MouseEvent, Keys.WindowsMouseEvent)

CONVERSATIONS_WIDTH = 24
NARROW = 72  # below this many columns the conversation list folds away
MAX_NOTICE_ROWS = 3
MAX_INPUT_ROWS = 5
MENU_ROWS = 12  # completions shown at once; more scroll (arrows say so)


class ChatApp:
    def __init__(self, backend: ChatBackend | None = None, *, input: Input | None = None,
                 output: Output | None = None, controller: Controller | None = None,
                 notifier: Notifier | None = None) -> None:
        if controller is None:
            assert backend is not None
            controller = Controller(backend)
        self.controller = controller
        controller.on_change = self.redraw
        controller.on_quit = self.request_quit
        controller.ask = self.ask
        into_input(lambda: self.input, controller)  # refused lines back: tui/refusals.py
        self.state = self.controller.state
        self.notifier = notifier or Notifier(self._write_raw)
        controller.networks.notes = self.notifier.status_lines
        self.view = HistoryView(self.state)  # what the conversation pane shows, scrolled
        self._quitting = False
        self._confirm: tuple[str, dict[str, Callable[[], None]]] | None = None
        self._held = ""
        self.quit_choice = "quit"  # "quit" or "background": what main does after the screen
        self.input = TextArea(
            height=self._input_height, prompt=INPUT_PREFIX, multiline=True,
            wrap_lines=True, completer=InputCompleter(self.state), complete_while_typing=True,
            input_processors=[MaskSecret(), WrapWords()], get_line_prefix=continuation_prefix,
        )
        wide = Condition(lambda: self._columns() >= NARROW)
        # The menu is a row band of its own at the foot of the main pane, under the notices,
        # next to the input: a float at the cursor was drawn over the status line, cut off,
        # and showed 8 commands as if there were no more; a band across the screen covered
        # the conversation list from column 0 (trial 13a, B16).
        menu = CompletionsMenu(max_height=MENU_ROWS, display_arrows=Condition(
            lambda: menu_height(self.input.buffer, MENU_ROWS + 1).max > MENU_ROWS))
        cast(Window, menu.content).height = lambda: menu_height(self.input.buffer, MENU_ROWS)
        # In a row of its own with a filler beside it: alone in the pane's column, the menu's
        # narrow width became the column's, and every line above wrapped to it (trial 13b, B1).
        menu_band = ConditionalContainer(
            VSplit([menu, Window()],
                   height=lambda: menu_height(self.input.buffer, MENU_ROWS)),
            filter=has_completions & ~is_done)
        body = VSplit([
            ConditionalContainer(
                Window(RowsControl(self._conversation_rows, on_click=self._click),
                       width=CONVERSATIONS_WIDTH),
                filter=wide),
            ConditionalContainer(Window(width=1, char="│", style="class:separator"),
                                 filter=wide),
            HSplit([
                Window(RowsControl(self._header_rows), style="class:header",
                       height=lambda: len(self._header_rows(self._main_width()))),
                Window(RowsControl(self.view.rows, on_wheel=self.scroll)),
                Window(RowsControl(self._notice_rows), height=self._notices_height),
                menu_band,
            ]),
        ])
        root = HSplit([
            body,
            Window(FormattedTextControl(self._status_text), height=1, style="class:status"),
            self.input,
        ])
        self.application: Application[None] = Application(
            layout=Layout(root, focused_element=self.input), key_bindings=self._keys(),
            style=Style.from_dict(render.STYLE_RULES), full_screen=True, mouse_support=True,
            input=input, output=output,
        )
        # Alt+key arrives as Esc then the key in one write: the terminal input waits this long
        # for the rest of a sequence. A lone Esc then acts at once (see _keys), so an Esc and
        # a "/" typed after it are two keys, never Alt+/.
        self.application.ttimeoutlen = 0.05
        self.application.timeoutlen = 0.2  # other key sequences (none wait on a lone Esc)
        self.kept = KeptInput(self.state, self.input.buffer)  # text not typed there (B8, B15)
        self.typed_after = TypedAfter()  # "3/block bob", "q" after Quit? (trial 13c, B1, B2)
        self.drafts = Drafts(self.state, self.input.buffer, restored=self.kept.keep)
        self.application.before_render += lambda _: self.drafts.sync()

    async def run(self, *, started: Callable[[], Awaitable[None]] | None = None) -> None:
        """Take the screen at once; load behind it; leave on /quit, Ctrl-C or Ctrl-D.

        `started` runs once the screen is up (the in-process node starts its network there).
        """
        async def load() -> None:
            if started is not None:
                await started()
            await self.controller.start()
        try:
            if not self._quitting:
                await self.application.run_async(pre_run=lambda: self._begin(load))
        finally:
            await self.controller.stop()

    def _begin(self, load: Callable[[], Awaitable[None]]) -> None:
        self.controller.spawn_guarded(load, "tui-load-all")

    def exit(self) -> None:
        app = self.application
        self._quitting = True  # asked to stop before the screen was up (SIGTERM, say)
        if app.is_running and not app.is_done:
            with contextlib.suppress(Exception):  # already exiting: nothing more to do
                app.exit()

    def _write_raw(self, text: str) -> None:
        if self.application.is_running:
            self.application.output.write_raw(text)
            self.application.output.flush()

    def redraw(self) -> None:
        self.notifier.update(self.state)
        self.application.invalidate()  # a no-op until the application runs

    # ------------------------------------------------------------ leaving

    def request_quit(self) -> None:
        """Leave, but ask first if a draft would be lost or the node goes offline."""
        questions = []
        if (held := self.drafts.unsent()):
            questions.append(f"You have unsent text for {listed(held)}.")
        choices: dict[str, Callable[[], None]] = {
            "y": self.exit, "n": lambda: self._said_no("Quit?")}
        if self.state.mode == "in-process":
            questions.append("Leaving stops your node: you will be offline.")
            choices["b"] = self._leave_in_background
            prompt = " ".join(questions) + " Quit? y: yes  b: keep the node running  n: no"
        elif questions:
            prompt = " ".join(questions) + " Quit anyway? y/n"
        else:
            self.exit()
            return
        self.confirm = (prompt, choices)
        self.kept.keep(self.input.text)  # "not quitting" leaves it (trial 13b, B15)
        self.redraw()

    def ask(self, question: str, on_yes: Callable[[], None], about_input: bool = False) -> None:
        """A yes/no question in the notice row. y or n, then Enter, answers; Esc or any other
        key cancels it (saying so), and what was typed then goes to the input as typed. Not
        put while text typed since waits in the input (tui/question.py)."""
        if self.input.text.strip() and not about_input:
            self.state.notice("warning", not_asked(question),  # goes at the next command
                              key=f"{PASSING}:not-asked")  # or key (trial 11, 18 f)
            self.redraw()
            return
        self.confirm = (question, {"y": on_yes, "n": lambda: self._said_no(question)})
        self.redraw()

    @property
    def confirm(self) -> tuple[str, dict[str, Callable[[], None]]] | None:
        return self._confirm

    @confirm.setter
    def confirm(self, value: tuple[str, dict[str, Callable[[], None]]] | None) -> None:
        self._confirm = value  # lines typed after the asking command wait for the answer
        self._held = ""  # typed towards an answer of this question, shown beside it
        (self.controller.gate.open if value is None else self.controller.gate.close)()

    def _leave_in_background(self) -> None:
        self.quit_choice = "background"
        self.exit()

    def _said_no(self, question: str) -> None:
        """"n": say what was not done (trial 3, 5: "n" to /block said nothing)."""
        self.confirm = None
        self.state.notice("info", answered_no(question), key=f"{PASSING}:{question}")
        self.redraw()

    def _cancel_confirm(self, said: bool = False) -> None:
        """No to the question; `said`: it was not answered, so say that nothing was done."""
        question = self.confirm[0] if self.confirm is not None else ""
        self.confirm = None
        if said:  # quitting: a statement, not the question again (a newcomer read it so)
            self.state.notice("info", unanswered(question), key=f"{PASSING}:{question}")
        self.redraw()

    # ------------------------------------------------------------ panes

    def _input_height(self) -> Dimension:
        """As many rows as the typed text needs when wrapped, at most MAX_INPUT_ROWS."""
        return Dimension.exact(input_rows(self.input.text, self._columns(), MAX_INPUT_ROWS))

    def _columns(self) -> int:
        try:
            return self.application.output.get_size().columns
        except Exception:  # no terminal yet
            return 80

    def _conversation_rows(self, width: int, height: int) -> list[StyleAndTextTuples]:
        return conversation_rows(self.state, width, height)

    def _click(self, row: int) -> None:
        order = self.state.order()
        if 1 <= row <= len(order):
            asked = self.confirm is not None
            self._answer_to_input()  # the draft of the conversation left keeps it
            self.controller.select(order[row - 1].id)
            if asked:  # after: a switch drops the notices of the moment (s36 hunt1, F12)
                self._cancel_confirm(said=True)

    def _answer_to_input(self) -> None:
        """What was typed towards an answer goes to the input, as typed, before a click or a
        switch cancels the question; Enter there holds it once (tui/typed_after.py)."""
        if self.confirm is not None and self._held:
            self.input.buffer.insert_text(self._held)
            self.typed_after.cancelled(self.confirm[0], self._held, self.state.selected,
                                       by_key=False)

    def scroll(self, rows: int) -> None:
        self.view.scroll(rows)
        self.redraw()

    def _header_rows(self, width: int, height: int = 0) -> list[StyleAndTextTuples]:
        text = render.header(self.state)
        if self._columns() < NARROW and self.state.page is None:
            text += "  (Alt+Up/Down: other conversations)"
        return header_rows(text, width)

    def _all_notice_rows(self, width: int) -> list[StyleAndTextTuples]:
        """The newest notices from their start (tui/notice_rows.py), or the question."""
        asked = None if self.confirm is None else \
            as_shown(self.confirm[0], self._held, self.controller.gate.waiting())
        return row_lines(self.state.notices, asked, width, MAX_NOTICE_ROWS, self.state.acted_at)

    def _notice_rows(self, width: int, height: int) -> list[StyleAndTextTuples]:
        return self._all_notice_rows(width)[-height:] if height else []

    def _main_width(self) -> int:
        columns = self._columns()
        return columns - CONVERSATIONS_WIDTH - 1 if columns >= NARROW else columns

    def _notices_height(self) -> Dimension:
        return Dimension.exact(len(self._all_notice_rows(self._main_width())))

    def _status_text(self) -> StyleAndTextTuples:
        text = pasted(self.input.text)  # never a trailing blank line (a paste's newline)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size <= MAX_TEXT_BYTES * 3 // 4 or text.startswith("/"):
            return list(render.status_line(self.state, self._columns()))
        # Near the limit: how much is left, before Enter finds out.
        counter = f" {size}/{MAX_TEXT_BYTES} bytes "
        style = "class:status.warn" if size > MAX_TEXT_BYTES else "class:status"
        line = list(render.status_line(self.state, max(1, self._columns() - len(counter))))
        return [*line, (style, counter)]

    # ------------------------------------------------------------ keys

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()
        confirming = Condition(lambda: self.confirm is not None)
        typing = Condition(lambda: bool(self.input.text))

        alt_next = alt_key_queued(lambda: self.application)  # (tui/switch_keys.py)

        # A mouse event is no key: a click on the list switches (cancelling the question, see
        # _click); the wheel scrolls, and a click elsewhere does nothing, the question up.
        mouse = Condition(lambda: bool(self.application.key_processor.key_buffer) and (
            self.application.key_processor.key_buffer[0].key in MOUSE_KEYS))

        @keys.add("<any>", filter=confirming & ~alt_next & ~mouse, eager=True)  # before Enter
        def _answer(event: KeyPressEvent) -> None:
            """A pending question's keys (tui/question.py): its letter or word, then Enter,
            answers; a key that makes it no answer cancels the question (saying so) and goes
            to the input with what was held, as typed; Esc cancels."""
            assert self.confirm is not None
            pressed, held, (asked, choices) = event.key_sequence[0], self._held, self.confirm
            what, value = on_key(pressed, held, choices)
            if what == "answer":
                self.confirm = None
                choices[value]()
                return
            if what == "hold":
                self._held = value
                self.redraw()
                return
            self._cancel_confirm(said=True)
            if pressed.key in (Keys.Escape, Keys.ControlU, Keys.ControlW):  # they clear it
                return
            self.input.buffer.insert_text(held)
            where = self.state.selected
            if typed_text(pressed):
                self.typed_after.cancelled(asked, held + pressed.data, where)  # (13c B2)
                # Not an answer: the key goes to the input as typed ("/" starts a command
                # there), never swallowed, so nothing typed after it can become a message.
                event.app.key_processor.feed(pressed, first=True)
            else:  # Left, Ctrl-J, PageUp...: the answer typed is held once too (s36 F7)
                self.typed_after.cancelled(asked, held, where, by_key=False)

        @keys.add(Keys.BracketedPaste, filter=~confirming)
        def _paste(event: KeyPressEvent) -> None:
            # A copied line often ends in a newline: it would be sent as a blank line.
            self.input.buffer.insert_text(pasted(event.data))

        @keys.add("enter", filter=~confirming)
        def _enter(event: KeyPressEvent) -> None:
            buffer = self.input.buffer
            state = buffer.complete_state
            if state is not None and state.current_completion is not None:
                buffer.apply_completion(state.current_completion)
                return
            self.submit()

        @keys.add("c-u", filter=~confirming)
        def _discard(event: KeyPressEvent) -> None:
            """Ctrl-U: everything before the cursor, every line of a multi-line input, as
            readline's unix-line-discard (whose line is the whole input): prompt_toolkit's
            cleared one line only, and a second line stayed (trial 12, B14). Ctrl-Y puts it
            back."""
            buffer = self.input.buffer
            event.app.clipboard.set_text(buffer.delete_before_cursor(buffer.cursor_position))

        @keys.add("escape", "enter", filter=~confirming)
        @keys.add("c-j", filter=~confirming)
        def _newline(event: KeyPressEvent) -> None:
            self.input.buffer.insert_text("\n")

        @keys.add("c-d", filter=typing & ~confirming)
        def _delete(event: KeyPressEvent) -> None:
            self.input.buffer.delete()

        @keys.add("c-d", filter=~typing & ~confirming)
        @keys.add("c-c", filter=~confirming)
        @keys.add("<sigint>")
        def _quit(event: KeyPressEvent) -> None:
            self.request_quit()

        @keys.add("tab", filter=~confirming)
        def _tab(event: KeyPressEvent) -> None:
            buffer = self.input.buffer
            if buffer.complete_state and buffer.complete_state.current_completion:
                buffer.complete_next()  # already choosing in the menu
            else:
                complete_now(self.state, buffer)  # Tab never switches conversation

        @keys.add("s-tab", filter=has_completions)
        def _shift_tab(event: KeyPressEvent) -> None:
            self.input.buffer.complete_previous()

        add_switch_keys(keys, self.state, self.controller, lambda: self.confirm is not None,
                        lambda: self._cancel_confirm(said=True), self._answer_to_input)

        @keys.add("pageup")
        def _up(event: KeyPressEvent) -> None:
            self.scroll(self.view.page_rows)

        @keys.add("pagedown")
        def _down(event: KeyPressEvent) -> None:
            self.scroll(-self.view.page_rows)

        @keys.add("home", filter=~typing)
        @keys.add("c-home")
        def _top(event: KeyPressEvent) -> None:
            self.scroll(self.view.total_rows)

        @keys.add("end", filter=~typing)
        @keys.add("c-end")
        def _bottom(event: KeyPressEvent) -> None:
            self.view.offset = 0
            self.redraw()

        # A lone Esc acts at once. A terminal sends Alt+key as Esc and the key in one write,
        # so the key is already queued behind the Esc; a person's Esc then "/" arrives in two
        # reads, and waiting for a second key would read them as Alt+/ (which completes, and
        # swallows the "/" that starts a command).
        lone = Condition(lambda: not self.application.key_processor.input_queue)

        @keys.add("escape", filter=lone, eager=True)
        @keys.add("escape", filter=~confirming)
        def _clear(event: KeyPressEvent) -> None:
            if self.confirm is not None:
                self._cancel_confirm(said=True)
                return
            buffer = self.input.buffer
            if buffer.complete_state:
                buffer.cancel_completion()
            elif self.state.page is not None:
                self.state.page = None
            elif self.state.search_term:
                self.state.search_term = ""  # the marks of a /search go
            else:
                self.state.clear_notices()
            self.redraw()

        # Esc then "/" read together (tmux's escape-time, or a quick typist) is not Alt+/,
        # which has no use here: it is Esc, then the "/" that starts a command, whatever the
        # timing.
        @keys.add("escape", "/", filter=~confirming)
        def _clear_then_command(event: KeyPressEvent) -> None:
            _clear(event)
            self.kept.slash()

        @keys.add("/", filter=~confirming & Condition(lambda: self.kept.at_end()))
        def _command_after_kept(event: KeyPressEvent) -> None:
            self.kept.slash()
            self.redraw()

        # The same for every printable key with no Alt binding of ours: emacs keys read Esc
        # then "c" as Alt+C and ate the "c" of "carol" typed right after closing a page.
        def _clear_then_typed(event: KeyPressEvent) -> None:
            _clear(event)
            self.input.buffer.insert_text(event.key_sequence[-1].data)

        for char in ESC_THEN_TYPED:
            keys.add("escape", char, filter=~confirming)(_clear_then_typed)
        # Alt+A comes as Esc, "a": while a page, a menu or a search's marks are up, Esc then
        # "a" (trial 9, B8: "are you there?" went in as "re you there?"). Notices do not count.
        # Alt+digit always switches (trial 13c, B1: its digit went in, glued to a command).
        closable = Condition(lambda: self.state.page is not None or bool(
            self.state.search_term or self.input.buffer.complete_state))
        for char in "aA":
            keys.add("escape", char, filter=~confirming & closable)(_clear_then_typed)

        return keys

    def submit(self) -> None:
        """Enter: send the line, unless it is too long (then it stays, with the reason)."""
        text = as_command(pasted(self.input.text))  # " /help" is /help (trial 14a, B1)
        if (why := passphrase_refusal(self.state, text)) is not None:  # first: no split either
            self.state.notice("error", why, key=f"{PASSING}:secret:{why}")  # each reason once
            self.redraw()  # the line stays (masked) to be mended
            return
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES and not text.startswith("/"):
            parts = split_message(text, MAX_TEXT_BYTES)
            self.ask(f"That message is {size} bytes; the limit is {MAX_TEXT_BYTES}. Send it as"
                     f" {len(parts)} messages? y/n (n: it stays here to shorten)",
                     lambda: self._send_parts(parts), about_input=True)
            return
        if (command := self.kept.glued(text)) is not None:  # "draft/quit": never a message
            self.kept.split_off(command)
            self.submit()
            return
        busy = self.controller.busy()  # if busy, a switch is judged behind the line before
        here = self.state.selected
        why = (refusal(self.state, text, busy) or (None if busy else self.controller.switch_refused
               .hold(text, here)) or self.typed_after.hold(text, here))  # 13c B1, B2
        if why is not None:
            self.state.notice("error", why, key=f"{PASSING}:refused:{why}")
            self.kept.keep(text)  # a "/" typed at its end starts a command apart
            self.redraw()  # the line stays
            return
        self.view.offset = 0
        keep = bool(text.strip()) and secret_start(text) is None  # Up never recalls a passphrase
        self.input.buffer.reset(append_to_history=keep)
        if text.strip():
            self.controller.submit(text)

    def _send_parts(self, parts: list[str]) -> None:
        self.confirm = None
        self.view.offset = 0
        self.input.buffer.reset(append_to_history=False)
        for part in parts:  # in order: the controller runs lines one after another
            self.controller.submit(part)
        self.redraw()
