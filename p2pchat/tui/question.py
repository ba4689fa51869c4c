"""When a yes/no question may be put to the user, and what holds the typed lines behind it.

A command that asks (/block, /group forget) can take a moment to reach its question (the node
is asked first), while the user types on. Two rules keep a key from answering a question the
user has not seen (notes/s31/trial2.md B3):

- lines typed after the asking command wait, in order, until the question is answered or
  dropped (`QuestionGate`), so nothing typed later runs before it;
- a question that comes while the input holds text typed since is not put at all: the next
  key would answer it unseen (a "y" of a word). It is dropped, saying so and how to ask again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys

from p2pchat.tui.panes import typed_text


class QuestionGate:
    """Open unless a question is pending; the command runner waits on it between lines."""

    def __init__(self, lines: asyncio.Queue[str] | None = None) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._lines = lines  # the typed lines queued behind the one taken
        self._taken = 0  # 1 while the line taken waits for the answer

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def wait(self) -> bool:
        """True: a question was up, and this waited for its answer (`waiting` meanwhile)."""
        if self._open.is_set():
            return False
        self._taken = 1
        try:
            await self._open.wait()
        finally:
            self._taken = 0
        return True

    def waiting(self) -> int:
        """How many typed lines wait for the pending question's answer."""
        return self._taken + (self._lines.qsize() if self._lines is not None else 0)


def not_asked(question: str) -> str:
    """The notice for a question dropped because the user was typing something else."""
    asked = question.split("?")[0] + "?" if "?" in question else question
    return (f"not asked, so nothing done: {asked} (you were typing). Type the command again"
            " to be asked")


def unanswered(question: str) -> str:
    """The notice for a question cancelled (Esc, or a key that is no answer)."""
    if question.startswith("You have unsent text"):
        return "not quitting, nothing done: your unsent text is kept"
    asked = question.split("?")[0] + "?" if "?" in question else "the question"
    return f"not answered, so nothing done: {asked}"


# What a "no" to each question did (trial 3, 5: "n" to /block said nothing at all).
_NOT_DONE = (("Block ", "not blocked"), ("Leave ", "not left: you stay in"),
             ("Forget ", "not forgotten"), ("Remove ", "not removed"))


def answered_no(question: str) -> str:
    """The notice for a question answered "n": what was not done."""
    if question.startswith("That message is"):
        return "not sent: your text stays in the input to shorten"
    if "Quit" in question:
        return "not quitting"
    if " is a NEW KEY, not the " in question:  # contact_commands.impostor_question (trial 6, B12)
        return f"{question.split(' is a NEW KEY, not the ')[0]} not accepted"
    asked = question.split("?")[0]
    for verb, not_done in _NOT_DONE:
        if asked.startswith(verb):
            what = asked[len(verb):]
            what = what.split(" and delete ")[0]  # "Forget crew and delete ...": crew
            if verb == "Remove " and " from " in what:  # a member: "carol not removed from crew"
                member, group = what.rsplit(" from ", 1)
                return f"{member} {not_done} from {group}"
            return f"{not_done} {what}" if not_done.endswith(" in") else f"{what} {not_done}"
    return "no: nothing done"


# How a question is answered (trial 13a, B1: "yo what is up" typed without reading the row
# blocked mallory and sent "o what is up"). A letter alone answers nothing: the answer is typed
# and Enter gives it, so a word that starts with an answer letter is a word. The letter (or its
# word) is held beside the question until Enter; a key that makes it no answer cancels the
# question, saying so, and what was held goes to the input with that key, as typed.
_WORDS = {"y": ("y", "yes"), "n": ("n", "no")}


def _words(choices: Iterable[str]) -> list[tuple[str, str]]:
    return [(letter, word) for letter in choices for word in _WORDS.get(letter, (letter,))]


def answer_of(typed: str, choices: Iterable[str]) -> str | None:
    """The choice `typed` gives (its letter or word, any case), or None."""
    typed = typed.lower()
    return next((letter for letter, word in _words(choices) if typed == word), None)


def may_answer(typed: str, choices: Iterable[str]) -> bool:
    """`typed` may still become an answer (a start of one's letter or word)."""
    typed = typed.lower()
    return bool(typed) and any(word.startswith(typed) for _, word in _words(choices))


def as_shown(question: str, held: str, waiting: int = 0) -> str:
    """The question's row: how to answer it, the lines typed behind it that wait for the
    answer (trial 14c, B5: said nowhere, then sent), and what is typed towards an answer."""
    shown = (question.replace("y/n", "y/n + Enter", 1) if "y/n" in question
             else f"{question} (then Enter)")
    if waiting:
        shown += (" · 1 line waits for this answer: it is sent after" if waiting == 1 else
                  f" · {waiting} lines wait for this answer: they are sent after")
    return f"{shown}  answer: {held}" if held else shown


def on_key(pressed: KeyPress, held: str, choices: Iterable[str]) -> tuple[str, str]:
    """What a key does to a pending question: ("answer", letter) for Enter after an answer,
    ("hold", typed so far) while it may become one, else ("cancel", "")."""
    if pressed.key == Keys.ControlM and (choice := answer_of(held, choices)):
        return "answer", choice
    if pressed.key == Keys.ControlH and held:
        return "hold", held[:-1]
    if (typed_text(pressed) and pressed.key != Keys.BracketedPaste
            and may_answer(held + pressed.data, choices)):
        return "hold", held + pressed.data
    return "cancel", ""
