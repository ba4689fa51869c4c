"""What a `contacts` subcommand did and what is true now, in one sentence, never a `contacts`
list row (trial 13c, B7: `add` printed "erin   offline ..." above "...so you are linked";
`unblock` printed only a row, where `block` says "Blocked carol: ...")."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from p2pchat.cli.contact_warnings import impostor_warning
from p2pchat.core.contact_words import SEES_REQUEST, chats, request_waits
from p2pchat.tui.sanitize import clean

# Whether a contact is linked now, or within a few seconds (a requester is often dialled again
# just after an accept); the contacts list, read only when a warning names a verified namesake.
LinkedSoon = Callable[[dict[str, Any]], bool]
Contacts = Callable[[], list[dict[str, Any]]]


def added(contact: dict[str, Any], linked_soon: LinkedSoon) -> str:
    """What `contacts add` did; their request waiting makes it mutual: said so, after waiting
    for the link as `accept` does (trial 7, 18: "they see a request" was said of it); else
    "they see a request" once their node has it, or where it waits (`nearby`: discovery sees
    their node; trial 14a, B18: said of a node never reached)."""
    name = clean(contact["name"])
    if contact.get("they_asked"):
        if linked_soon(contact):
            return f"Added {name}; they had added you too, so you are linked: you can chat."
        return (f"Added {name}; they had added you too, so you can chat: messages wait until"
                " they are online.")
    if chats(contact) and contact.get("asked") is not True:  # their node said it has us
        return f"Added {name}: linked, you can chat."
    if contact.get("awaits_answer") is True:  # their node has it (trial 14a, B18)
        return f"Added {name}: {SEES_REQUEST}."
    return f"Added {name}; " + request_waits(
        name, f"p2pchat contacts addr {shlex.quote(name)}",
        somewhere=bool(contact.get("addrs")) or contact.get("nearby") is True) + "."


def unblocked(contact: dict[str, Any], linked_soon: LinkedSoon, contacts: Contacts) -> str:
    """`contacts unblock`: back to what it was, said as such; a request keeps its warning of a
    new key under a verified contact's name (trial 9: the warning names that contact)."""
    name = clean(contact["name"])
    quoted = shlex.quote(name)
    if contact.get("state") == "request":
        warning = impostor_warning(contact, contacts()) if contact.get("same_name_as") else ""
        return (f"Unblocked {name}: a request again, not a contact; p2pchat contacts accept"
                f" {quoted} to chat." + (f" {warning}" if warning else ""))
    if linked_soon(contact):
        return f"Unblocked {name}: a contact again, linked: you can chat."
    return (f"Unblocked {name}: a contact again; you can chat: messages wait until they are"
            " online.")


def said_contact(action: str, who: str, contact: dict[str, Any], linked_soon: LinkedSoon,
                 contacts: Contacts) -> str:
    """The sentence for `add`, `unblock`, `rename`, `verify` and `addr` (`who`: as typed)."""
    name = clean(contact["name"])
    if action == "add":
        return added(contact, linked_soon)
    if action == "unblock":
        return unblocked(contact, linked_soon, contacts)
    if action == "rename":
        return f"Renamed {clean(who)} to {name}."
    if action == "verify" and contact.get("verified") is True:  # the chat's /verify words
        return f"Marked {name} verified: a new key under their name will be flagged."
    if action == "verify":
        return f"{name} is not marked verified any more."
    where = ", ".join(clean(a) for a in contact.get("addrs") or [])
    return f"{name} is reached at {where or 'wherever discovery finds them'}."
