"""`p2pchat group create NAME CONTACT...` refused (a word is no contact): what to type
instead, by core/group_words.py's rule, as the chat's /group create says it."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from p2pchat.core.group_words import NotAContact, how_to_quote, instead, invitees, renamed_as

COMMAND = "p2pchat group create"


def refused_create(name: str, contacts: list[str], views: list[dict[str, Any]],
                   said: str) -> str:
    """The error for the node's refusal `said`, with the contacts' views (contacts.list): the
    name we gave a contact who calls itself so (trial 9, B11), else how to quote a name with
    spaces."""
    contact = _named_contact(views)
    words = [name, *contacts]
    try:
        invitees(contacts, contact, renamed_as(views))
    except NotAContact as refused:
        hint = instead(COMMAND, words, refused, shlex.quote, contact)
        return f"{refused}: {hint}" if refused.now_called else f"{refused} ({hint})"
    # Read differently here than by the node (a contact changed since): its words, the rule
    return f"{said} ({how_to_quote(COMMAND, shlex.quote(' '.join(words)))})"


def _named_contact(views: list[dict[str, Any]]) -> Callable[[str], str | None]:
    """The fingerprint of the contact a word names (its name or fingerprint), as the node
    reads `group create`'s words."""
    def contact(word: str) -> str | None:
        fold, squeezed = word.casefold(), word.replace("-", "").replace(" ", "").casefold()
        return next((str(v["fingerprint"]) for v in views if v.get("state") == "contact" and (
            str(v.get("name")).casefold() == fold
            or str(v.get("fingerprint")).replace("-", "").casefold() == squeezed)), None)
    return contact
