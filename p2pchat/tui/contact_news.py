"""What the notice row said of a contact, kept true as the contact changes (notes/s35/
trial13a.md 18): a contact removed or blocked takes it with them, a link coming up ends what
waited for it, their being a contact again ends "their node still has you". Functions of the
screen's state (tui/state.py calls them), so ChatState stays one class of one size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pchat.tui.notice_ageing import REACH, linked_now

if TYPE_CHECKING:
    from p2pchat.tui.conversation import Conversation
    from p2pchat.tui.state import ChatState


def drop_contact_news(state: ChatState, fingerprint: str) -> None:
    """What was said of them as a contact, untrue once they are blocked or removed, and
    hidden behind newer notices it showed again when those went (18 a: "added dave; they see
    a request until they add you too" and "mallory now calls themself 'bob'" came back after
    /remove dave and /block mallory)."""
    for about in ("pending", "linking", REACH.rstrip(":"), "renamed"):
        state.drop_notices(key=f"{about}:{fingerprint}")


def state_news(state: ChatState, conv: Conversation, new_state: str) -> None:
    """`conv` goes from its state to `new_state`."""
    if conv.state == new_state:
        return
    if new_state == "contact":  # "their node still has you: /add carol links you again" is
        state.drop_notices(key=f"asking:{conv.id}")  # done (18 c: it stayed 2 minutes)
    elif new_state in ("blocked", "removed"):
        drop_contact_news(state, conv.id)


def linked_news(state: ChatState, conv: Conversation) -> None:
    """A link to `conv` came up."""
    # A node that has our request and has not added us links for a moment (a knock: its
    # Hello does not know us): "they see a request" stays true (trial 11).
    if not conv.answers:
        state.drop_notices(key=f"pending:{conv.id}")
    linked_now(state, conv.id)  # a mutual add links at once: no knock to wait out
    if conv.answers == "unanswered":
        # A node that closed us unanswered knocks on no one: a link is their node knowing us
        # again, and "closes the connection unanswered" is untrue now (18 c: it stayed 25-60 s
        # beside "online"). The watch's reason stays, so a late read of the node does not
        # say it again.
        state.drop_notices(key=f"{REACH}{conv.id}")


def replace_notice(state: ChatState, key: str) -> None:
    """Drop the notice keyed `key` from the row and from /notices: what is said next says the
    same thing with more (18 d: one /group accept listed "you joined hike 3 (bob invited you;
    ...)" and "you joined hike 3 ...: opened it")."""
    text = "\n".join(n.text for n in state.notices if n.key == key)  # one per key
    state.drop_notices(key=key)
    said = next((s for s in reversed(state.said) if text and s[2] == text), None)
    if said is not None:
        state.said.remove(said)
