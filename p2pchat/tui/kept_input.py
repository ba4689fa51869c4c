"""Text a refusal kept in the input, and a command typed after it (trial 13a, B8).

A line the open conversation cannot take stays in the input ("not sent: ... your text stays in
the input"). Typing a command at its end read "still here?/group forget", and Enter only
refused it again. A "/" typed at the end of the kept text, as kept, starts the command on an
empty input; the kept text goes to the input's history, where Up brings it back, and the
screen says so. A kept passphrase line never goes to the history.

A draft put back in the input (switching back to its conversation, or after "not quitting")
is text the user did not type there either: the same rule holds for it (trial 13b, B15:
"unfinished draft" then "/quit" went out as "unfinished draft/quit"). And on Enter, that text
unchanged with a known command glued to its end (a paste, or the cursor moved away and back)
runs the command and never sends the line as a message.
"""

from __future__ import annotations

from prompt_toolkit.buffer import Buffer

from p2pchat.tui.commands import secret_start
from p2pchat.tui.notice_ageing import PASSING
from p2pchat.tui.state import ChatState
from p2pchat.tui.typed_after import known_command

MOVED = "your kept text is in the history: Up brings it back"


class KeptInput:
    def __init__(self, state: ChatState, buffer: Buffer) -> None:
        self._state = state
        self._buffer = buffer
        self._kept: str | None = None

    def keep(self, text: str) -> None:
        """A refusal, a draft switched back to, or "not quitting" left `text` in the input."""
        self._kept = text if text.strip() else None

    def at_end(self) -> bool:
        """The input holds the kept text, as kept, the cursor at its end."""
        text = self._buffer.text
        return (self._kept is not None and text.rstrip() == self._kept.rstrip()
                and self._buffer.cursor_position == len(text)
                and secret_start(text) is None)

    def slash(self) -> None:
        """A "/" typed: it starts a command, apart from the kept text."""
        if self.at_end():
            self._to_history()
        self._kept = None
        self._buffer.insert_text("/")

    def glued(self, text: str) -> str | None:
        """The command in `text` if it is the kept text, unchanged, then a known command."""
        kept = (self._kept or "").rstrip()
        if not kept or not text.startswith(kept) or secret_start(kept) is not None:
            return None
        rest = text[len(kept):].lstrip()
        verb = rest.split(maxsplit=1)[0] if rest.startswith("/") else ""
        return rest if verb and known_command(verb) else None

    def split_off(self, command: str) -> None:
        """The kept text to the history, the input holding `command` alone."""
        self._buffer.text = (self._kept or "").rstrip()
        self._to_history()
        self._kept = None
        self._buffer.text = command
        self._buffer.cursor_position = len(command)

    def _to_history(self) -> None:
        self._buffer.text = self._buffer.text.rstrip()
        self._buffer.reset(append_to_history=True)
        self._state.notice("info", MOVED, key=f"{PASSING}:kept")
