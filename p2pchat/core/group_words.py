"""`group create NAME CONTACT...`: the words after NAME are contacts to invite, and each must
be one, else nothing is created (trial 7, B1: "team bob carol" became one group's name). One
rule for the chat's /group create and the node's groups.create (which the CLI asks); each
resolves a word to a contact its own way and gives that here as `contact`."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

NOT_A_CONTACT = "nothing created: "  # how NotAContact's message starts, across the socket


class NotAContact(ValueError):
    """A word after the group's name is no contact: nothing is created. `now_called`: the
    name of the contact that calls itself `word` (we renamed them), when one does."""

    def __init__(self, word: str, now_called: str | None = None,
                 others: Sequence[str] = (), split: bool = False) -> None:
        """`others`: the words after `word` that name no contact either, said with it (trial
        13c, B10: "'with' is not a contact (add and as a contact first ...)"). `split`: the
        words from `word` on are `now_called` unquoted, not a name anyone calls themself
        (trial 14c, B3: "Bob B" typed bare said "Bob is now called 'Bob B'")."""
        unknown = [word, *(w for w in others if w != word)]
        super().__init__(f"{NOT_A_CONTACT}{word!r} is no contact; did you mean {now_called!r}"
                         " (in quotes)" if now_called and split
                         else f"{NOT_A_CONTACT}{word} is now called {now_called!r}" if now_called
                         else f"{NOT_A_CONTACT}{_and(unknown)} is not a contact"
                         if len(unknown) == 1 else
                         f"{NOT_A_CONTACT}{_and(unknown)} are not contacts")
        self.word = word
        self.now_called = now_called
        self.unknown = unknown


def _and(words: Sequence[str]) -> str:
    """'a', 'b' and 'c'."""
    quoted = [repr(w) for w in words]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


# Words a group's name is seldom made of, typed between contacts' names ("crew with bob and
# carol"): a hint leaves them out rather than offering "crew with" as the name (trial 13c, B10)
FILLER = frozenset({"with", "and", "&", "+", "plus", "for", "to"})


def listed(words: Iterable[str], contact: Callable[[str], object | None]) -> list[str]:
    """The words as contacts' names. With a comma anywhere, commas separate names and spaces
    don't: "bob, Carol S" is bob and Carol S, as a list is written (trial 10, B7; trial 11:
    "bob, Carol S" read as bob, Carol and S). Without one, each word is a name. A word naming
    a contact whole (commas and all, as typed in quotes) stays whole."""
    words = list(words)
    if not any("," in word for word in words):
        return words
    parts: list[str] = []
    run: list[str] = []

    def close() -> None:
        name = " ".join(piece.strip() for piece in run if piece.strip())
        if name:
            parts.append(name)
        run.clear()
    for word in words:
        if "," in word and contact(word) is not None:
            close()
            parts.append(word)
            continue
        first, *after = word.split(",")
        run.append(first)
        for piece in after:
            close()
            run.append(piece)
    close()
    return parts


def invitees(words: Iterable[str], contact: Callable[[str], T | None],
             now_called: Callable[[str], str | None] = lambda word: None) -> list[T]:
    """The contact each word names, in order, each once; NotAContact for the first that
    names none (with the name of the contact that calls itself so, from `now_called`)."""
    found: list[T] = []
    unknown: list[str] = []
    words = listed(words, contact)
    for at, word in enumerate(words):
        who = contact(word)
        if who is None:
            whole = _split_name(words[at:], contact)
            if not unknown and whole:
                raise NotAContact(word, whole, split=True)
            if not unknown and now_called(word):
                raise NotAContact(word, now_called(word))
            unknown.append(word)
        elif who not in found:
            found.append(who)
    if unknown:  # every word that names no contact, said at once
        raise NotAContact(unknown[0], None, unknown[1:])
    return found


def _split_name(words: Sequence[str], contact: Callable[[str], object | None]) -> str:
    """The longest run of `words` from the first that names a contact whole ("Bob B" typed
    without quotes), or ""."""
    return next((" ".join(words[:n]) for n in range(len(words), 1, -1)
                 if contact(" ".join(words[:n])) is not None), "")


def renamed_as(contacts: Iterable[Mapping[str, Any]]) -> Callable[[str], str | None]:
    """`now_called` from contact views (docs/api.md): the name we gave the one contact whose
    own name (`announced_name`) is the word, when we call them otherwise (trial 9, B11:
    carol, renamed 'Carol S', got "a name with spaces goes in quotes")."""
    views = [c for c in contacts if c.get("state") == "contact"]

    def now_called(word: str) -> str | None:
        fold = unicodedata.normalize("NFKC", word).casefold()  # as the node keeps it
        names = {str(c.get("name")) for c in views if c.get("announced_name") == fold
                 and unicodedata.normalize("NFKC", str(c.get("name"))).casefold() != fold}
        return names.pop() if len(names) == 1 else None
    return now_called


def instead(command: str, words: list[str], refused: NotAContact,
            quote: Callable[[str], str], contact: Callable[[str], object | None]) -> str:
    """What to type instead of `command` + `words` (NAME, then contacts, as `contact` tells
    them): the renamed contact under their name now; else the rule, and the whole as one
    quoted name."""
    if refused.now_called is None and any("," in word for word in words[1:]):
        # a list, plainly: never "the whole as one name" (it would carry the list along)
        return f"{command} NAME CONTACT, CONTACT... invites contacts, each one of yours"
    if refused.now_called is None:
        return _not_a_contact(command, words, refused.word, quote, contact)
    fixed = listed(words[1:], contact)
    at = fixed.index(refused.word)
    # "bob Carol S": Carol, now called 'Carol S', takes the S along (no stray words, trial 11)
    called = [word.casefold() for word in refused.now_called.split()]
    rest = called[1:] if called[:1] == [refused.word.casefold()] else []
    tail = fixed[at + 1:]
    if rest and [word.casefold() for word in tail[:len(rest)]] == rest:
        tail = tail[len(rest):]
    fixed = [*fixed[:at], refused.now_called, *tail]
    return f"{command} {' '.join(quote(word) for word in [words[0], *fixed])}"


def _not_a_contact(command: str, words: list[str], word: str, quote: Callable[[str], str],
                   contact: Callable[[str], object | None]) -> str:
    """`word` names no contact. Words before the first contact may be a name with spaces
    ("hike 3 alice": 'hike 3' alice); a word after a contact cannot be (trial 13, B9: "hike2
    alice dave" was offered as the group 'hike2 alice dave'): add them first, or leave out."""
    known = [contact(w) is not None for w in words]
    first = next((at for at in range(1, len(words)) if known[at]), len(words))
    if word not in words[1:]:  # a part of a word: the rule, the whole as one quoted name
        return how_to_quote(command, quote(" ".join(words)))
    contacts = [quote(w) for w, k in zip(words[first:], known[first:], strict=True) if k]
    strangers = [w for w in words[first:] if not contact(w)]
    filler = all(w.casefold() in FILLER for w in words[1:first])
    if not strangers and not filler:  # the quoted name, then contacts: it works as offered
        return how_to_quote(command, " ".join([quote(" ".join(words[:first])), *contacts]))
    if not strangers:  # "crew with bob carol": 'crew with' is seldom meant (trial 13c, B10)
        return f"{command} NAME CONTACT... invites contacts: {command} " + \
            " ".join([quote(words[0]), *contacts])
    # trial 13b, B6: "climbing with bob and carol" was offered '"climbing with" bob and carol',
    # refused again for 'and'; trial 13c, B10: then 'with' and 'and' mixed in one sentence.
    # Without every word that names no contact, and the quoted name when it is more than filler
    unknown = [w for w in words[1:] if not contact(w)]
    name = words[0] if filler else " ".join(words[:first])
    adding = "/add FINGERPRINT" if command.startswith("/") else \
        "p2pchat contacts add FINGERPRINT --name"
    who = f"{quote(unknown[0])} as a contact" if len(unknown) == 1 else "them"
    return (f"add {who} first ({adding} {quote(unknown[0]) if len(unknown) == 1 else 'NAME'}),"
            f" then invite them; or now without them: {command} {quote(name)}"
            f" {' '.join(contacts)}")


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
