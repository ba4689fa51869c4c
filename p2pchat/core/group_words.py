"""`group create NAME CONTACT...`: the words after NAME are contacts to invite, and each must
be one, else nothing is created (trial 7, B1: "team bob carol" became one group's name). One
rule for the chat's /group create and the node's groups.create (which the CLI asks); each
resolves a word to a contact its own way and gives that here as `contact`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

NOT_A_CONTACT = "nothing created: "  # how NotAContact's message starts, across the socket


class NotAContact(ValueError):
    """A word after the group's name is no contact: nothing is created."""

    def __init__(self, word: str) -> None:
        super().__init__(f"{NOT_A_CONTACT}{word!r} is not a contact")
        self.word = word


def invitees(words: Iterable[str], contact: Callable[[str], T | None]) -> list[T]:
    """The contact each word names, in order, each once; NotAContact for the first that
    names none."""
    found: list[T] = []
    for word in words:
        who = contact(word)
        if who is None:
            raise NotAContact(word)
        if who not in found:
            found.append(who)
    return found


def how_to_quote(command: str, quoted_name: str) -> str:
    """What to type instead: the rule, and the whole as one quoted name."""
    return (f"{command} NAME CONTACT... invites contacts; a name with spaces goes in quotes:"
            f" {command} {quoted_name}")


def and_invited(names: list[str]) -> str:
    """" and invited bob and carol (they join when they accept)" (nothing when nobody was)."""
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f" and invited {listed} (they join when they accept)"
