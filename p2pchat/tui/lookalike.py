"""A request that asked under the name of one of our contacts, as the screen says it: the node
keeps the flag whatever the request renames itself to (trial 14c, B1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from p2pchat.tui.conversation import Conversation

# lookalike_of for our own name: no name holds a control character (core/text.py valid_name)
YOU = "\x00you"


def namesakes(conv: Conversation, namesake: Conversation | None,
              contact: Mapping[str, Any]) -> tuple[str, str]:
    """(impostor_of, lookalike_of) of a request the node says asked under `namesake`'s name
    (kept by the node whatever it renames itself to, trial 14c B1): the first if `namesake` is
    VERIFIED, the second if not; YOU for one that asked under our own name."""
    if conv.state != "request":
        return "", ""
    if namesake is None:
        return "", YOU if contact.get("same_name_yours") is True else ""
    verified = contact.get("same_name_verified") is True or namesake.verified
    return (namesake.name, "") if verified else ("", namesake.name)


def lookalike_words(conv: Conversation) -> list[tuple[str, str]]:
    """A request's page: what the node's look-alike flag says (trial 14c, B1: a NEW KEY under
    bob's name renamed itself carol, and its page said nothing)."""
    if conv.impostor_of:  # shown as long as the request is, restarts included
        return [("class:notice.warning",
                 f"WARNING: a NEW KEY under the name of {conv.impostor_of}, whom you VERIFIED."
                 f" Its safety number is different: it may not be {conv.impostor_of}. Compare"
                 f" in person (/verify {conv.name}) before you accept.")]
    if conv.lookalike_of == YOU:
        return [("class:notice.warning", "Not you: another key, that asked under your name."
                 f" /verify {conv.name} before you accept.")]
    if conv.lookalike_of:
        return [("class:notice.warning",
                 f"Not your contact {conv.lookalike_of}: another key, that asked under the name"
                 f" {conv.lookalike_of}. /verify {conv.name} before you accept.")]
    return []
