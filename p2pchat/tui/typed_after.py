"""A line that is held once on Enter because it was typed as something else (trial 13c, B1, B2).

- A known command glued after other text ("3/block bob", "2/id", "draft/quit"): a digit of a
  missed Alt+digit, or a draft, ran into a command typed right after. It stays in the input,
  saying so; Enter again sends it as a message.
- A known command behind a mistyped slash ("?help", "\\quit", ".msg carol hi", "／id": Shift
  slipping on the "/" key, a neighbour key, a full-width slash; s36 hunt1 F6): the same.
- A one-word line begun by the key that cancelled a question ("q" to "Quit? y: yes  b: ...
  n: no"): a wrong answer, likely. It stays in the input, saying the question was cancelled;
  Enter again sends it. A longer line ("yo what is up", trial 13a, B1) is a message: it goes.
- The same for an answer typed while the question was up ("y") that some other key (Left,
  Ctrl-J, PageUp), a click or a switch then cancelled: it went to the input, or to the draft of
  the conversation left, and its Enter, there, holds it once (s36 hunt1, F7, F12).

As held_lines.AfterSwitchRefused: each holds once; Enter on the same text again sends it.
"""

from __future__ import annotations

import re

from p2pchat.tui.commands import ALIASES, COMMANDS, IRC_COMMANDS, canonical, secret_start
from p2pchat.tui.held_lines import is_message

MAX_SHOWN = 30  # characters of the text quoted in the notice
_GLUED = re.compile(r"(\S+)(/[A-Za-z]+)(?=\s|$)")
# A slash mistyped: its shifted key, the keys beside it, full-width and look-alike slashes.
_MISSLASHED = re.compile(r"\s*[?\\.,;\-\uff0f\u2215\u2044](?P<verb>[A-Za-z]+)(?=\s|$)")


def _short(text: str) -> str:
    text = text.split("\n")[0]
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def known_command(verb: str) -> bool:
    """`verb` ("/names", "/J") is one the screen runs: the parser's and /help's table, its IRC
    habits and aliases with it (s36 hunt1, F11: "x/me waves" was not held)."""
    verb = canonical(verb)
    return verb in COMMANDS or verb in IRC_COMMANDS


def every_verb() -> list[str]:
    """Every command word the screen takes, aliases included."""
    return [*COMMANDS, *IRC_COMMANDS, *ALIASES]


def misslashed(text: str) -> str | None:
    """The command ("/help") behind a mistyped slash at the start of `text` ("?help")."""
    found = _MISSLASHED.match(text)
    if found is None or not is_message(text):
        return None
    verb = "/" + found.group("verb")
    return verb if known_command(verb) else None


def glued_command(text: str) -> tuple[str, str] | None:
    """(the text before, the command) of a known command glued after other text in `text`."""
    if not is_message(text) or secret_start(text) is not None:
        return None
    for found in _GLUED.finditer(text):
        before, verb = found.group(1), found.group(2)
        if "://" in before or before.endswith("/"):  # an address, "a//b"
            continue
        if known_command(verb):
            return before, verb
    return None


def short_question(question: str) -> str:
    """"Quit?" of "Leaving stops your node: you will be offline. Quit? y: yes ..."."""
    asked = question.split("?")[0] + "?" if "?" in question else question
    return asked.rsplit(". ", 1)[-1]


# A line that starts with one of these was meant as the answer ("yes please do" to "Block
# mal?" went to the group, mal included: trial 14b, B3); other lines ("yo there", "bye
# everyone") are chat a question was in the way of.
ANSWER_WORDS = frozenset({"y", "yes", "n", "no", "b", "ok", "okay", "yeah", "yep", "sure",
                          "nope", "nah"})


def _answers(text: str) -> bool:
    """`text` begins with an answer word."""
    first = text.split(maxsplit=1)[0].casefold().rstrip(",.!;:")
    return first in ANSWER_WORDS


class TypedAfter:
    """What the next Enter holds once."""

    def __init__(self) -> None:
        self._held: str | None = None  # the text held last: Enter on it again sends it
        # conversation -> (question, the text typed for it, the key that cancelled it typed
        # it too): the conversation whose input or draft got that text
        self._cancelled: dict[str | None, tuple[str, str, bool]] = {}

    def cancelled(self, question: str, typed: str, where: str | None = None, *,
                  by_key: bool = True) -> None:
        """`typed`, going to the input of `where`, was typed as `question` was cancelled:
        `by_key`, the key that cancelled it typed its last character; else it was typed while
        the question was up, as its answer."""
        if typed.strip():
            self._cancelled[where] = (question, typed, by_key)

    def hold(self, text: str, where: str | None = None) -> str | None:
        """Why `text`, entered now in `where`'s input, stays there once (None: it goes)."""
        cancelled = self._cancelled.pop(where, None)
        if text == self._held or not text.strip():
            self._held = None
            return None
        why = None
        if cancelled is not None and is_message(text) and text.startswith(cancelled[1]) \
                and (len(text.split()) == 1 or _answers(text)):
            question, typed, by_key = cancelled
            why = (f"not sent: your '{_short(typed)}' cancelled the question"
                   f" '{short_question(question)}'; Enter again sends '{_short(text)}' as a"
                   " message") if by_key else (
                   f"not sent: '{_short(typed)}' was typed for the question"
                   f" '{short_question(question)}', which is cancelled; Enter again sends it"
                   " as a message")
        elif (verb := misslashed(text)) is not None:
            why = (f"not sent: '{_short(text.split()[0])}' looks like {verb} with its '/'"
                   " mistyped. Enter again sends it as a message; Ctrl-U clears it")
        elif (glued := glued_command(text)) is not None:
            before, verb = glued
            why = (f"not sent: '{verb}' is glued to '{_short(before)}' (a command typed after"
                   " other text?). Enter again sends it as a message; Ctrl-U clears it")
        self._held = text if why is not None else None
        return why
