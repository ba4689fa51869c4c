"""A request that asked under the name of one of our contacts, as the screen says it: the node
keeps the flag whatever the request renames itself to (trial 14c, B1)."""

from __future__ import annotations

from p2pchat.tui.conversation import Conversation


def namesakes(conv: Conversation, namesake: Conversation | None, verified: bool) -> tuple[str, str]:
    """(impostor_of, lookalike_of) of a request the node says asked under `namesake`'s name
    (kept by the node whatever it renames itself to, trial 14c B1): the first if `namesake` is
    VERIFIED, the second if not."""
    if namesake is None or conv.state != "request":
        return "", ""
    return (namesake.name, "") if verified or namesake.verified else ("", namesake.name)


def lookalike_words(conv: Conversation) -> list[tuple[str, str]]:
    """A request's page: what the node's look-alike flag says (trial 14c, B1: a NEW KEY under
    bob's name renamed itself carol, and its page said nothing)."""
    if conv.impostor_of:  # shown as long as the request is, restarts included
        return [("class:notice.warning",
                 f"WARNING: a NEW KEY under the name of {conv.impostor_of}, whom you VERIFIED."
                 f" Its safety number is different: it may not be {conv.impostor_of}. Compare"
                 f" in person (/verify {conv.name}) before you accept.")]
    if conv.lookalike_of:
        return [("class:notice.warning",
                 f"Not your contact {conv.lookalike_of}: another key, that asked under the name"
                 f" {conv.lookalike_of}. /verify {conv.name} before you accept.")]
    return []
