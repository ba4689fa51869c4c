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


class QuestionGate:
    """Open unless a question is pending; the command runner waits on it between lines."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def wait(self) -> None:
        await self._open.wait()


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
             ("Forget ", "not forgotten"))


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
            return f"{not_done} {what}" if not_done.endswith(" in") else f"{what} {not_done}"
    return "no: nothing done"
