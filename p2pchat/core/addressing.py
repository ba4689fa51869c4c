"""Which conversation a typed name means: a contact or a group (issue 22).

A group's title may equal a contact's name; that must never silently pick one. `#NAME` means
the group, `@NAME` the contact; a bare name that fits both is refused as ambiguous, with how to
pick. Pure: the caller says what each name matches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["Ambiguous", "resolve"]

Kind = Literal["contact", "group"]


class Ambiguous(Exception):
    """The name fits a contact and a group: the message says how to pick."""


def resolve(who: str, is_contact: Callable[[str], bool], is_group: Callable[[str], bool]
            ) -> tuple[Kind, str]:
    """("contact" | "group", the name without its marker). A name that fits neither goes to
    the contact lookup, whose error says so."""
    text = who.strip()
    if text.startswith("#") and len(text) > 1:
        return "group", text[1:]
    if text.startswith("@") and len(text) > 1:
        return "contact", text[1:]
    contact, group = is_contact(text), is_group(text)
    if contact and group:
        raise Ambiguous(f"{text!r} is ambiguous: it is a contact and a group. Write"
                        f" '#{text}' for the group, or '@{text}' (or their fingerprint) for the"
                        " contact")
    return ("group" if group and not contact else "contact"), text
