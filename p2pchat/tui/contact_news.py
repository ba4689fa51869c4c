"""What the notice row said of a contact, kept true as the contact changes (notes/s35/
trial13a.md 18): a contact removed or blocked takes it with them, a link coming up ends what
waited for it, their being a contact again ends "their node still has you". Functions of the
screen's state (tui/state.py calls them), so ChatState stays one class of one size."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from p2pchat.core.contact_words import NOT_REACHED, SEES_REQUEST, request_waits
from p2pchat.event_types import ContactRequestEvent
from p2pchat.tui import news
from p2pchat.tui.notice_ageing import LINK_WAIT, LINKED, LINKED_KEY, REACH, link_lost, linked_now
from p2pchat.tui.sanitize import clean

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
        state.drop_notices(key=f"asking:{conv.id}")  # done (18 c: it stayed 2 minutes), and
        # "removed Gus M; ... They can ask again: /block ..." untrue (trial13b, B4: it stayed
        # 2 minutes after /add Gus M)
        state.drop_notices(key=removed_key(conv.id))
    elif new_state in ("blocked", "removed"):
        drop_contact_news(state, conv.id)


def removed_key(fingerprint: str) -> str:
    """The key of /remove's answer (when their node does not still have us: `asking:`)."""
    return f"removed:{fingerprint}"


def link_news(state: ChatState, conv: Conversation, up: bool) -> None:
    """A link to `conv` came up, or went down: "added carol; ... so you are linked" is
    untrue then (trial13b, B9: it stayed a minute beside "offline"), and true again when a
    link is up (trial 14a, B12: a flap as a group's link gave way to a contact's erased it)."""
    if up:
        linked_news(state, conv)
    else:  # said as "the link comes up when they are online", back at the next link (B12)
        link_lost(state, conv.id)


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


def requests_news(state: ChatState, contacts: list[dict[str, Any]],
                  before: Mapping[str, str], fresh: bool) -> None:
    """The requests of a re-read of the contacts that are news: all on a `fresh` read (start,
    reconnection: still unanswered), else those that were not requests `before` it (trial13b,
    B10: `p2pchat contacts unblock` from the CLI brought the request back silently, and no
    NEW KEY warning, where /unblock here says both). One told already is not said again,
    nor one cleared with Esc that was a request before this read (trial 14c, B7: it came
    back after a node restart)."""
    for request in contacts:
        fp = clean(request.get("fingerprint"))
        if request.get("state") != "request" or (before.get(fp) == "request" and (
                not fresh or f"request:{fp}" in state.cleared)):
            continue
        news.request_news(state, cast(ContactRequestEvent, request))
    if fresh:  # bounded: only requests still listed stay cleared
        state.cleared &= {f"request:{clean(c.get('fingerprint'))}" for c in contacts
                          if c.get("state") == "request"}


def replace_notice(state: ChatState, key: str) -> None:
    """Drop the notice keyed `key` from the row and from /notices: what is said next says the
    same thing with more (18 d: one /group accept listed "you joined hike 3 (bob invited you;
    ...)" and "you joined hike 3 ...: opened it")."""
    text = "\n".join(n.text for n in state.notices if n.key == key)  # one per key
    state.drop_notices(key=key)
    said = next((s for s in reversed(state.said) if text and s[2] == text), None)
    if said is not None:
        state.said.remove(said)


def asked_news(state: ChatState, conv: Conversation, contact: Mapping[str, Any]) -> None:
    """/add's answer for a contact not linked who had not asked us: "they see a request" once
    their node has it (`awaits_answer`), else that it waits here for their node (trial 14a,
    B18: said of a node never reached); `request_delivered` says the first when it is so."""
    conv.answers = "asked"  # their node's knock at once is no link (trial 11)
    nearby = any(n.get("fingerprint") == conv.id for n in state.nearby_now)
    said = SEES_REQUEST if contact.get("awaits_answer") is True else request_waits(
        conv.name, f"/addr {conv.name}", somewhere=bool(contact.get("addrs")) or nearby)
    state.notice("info", f"added {conv.name}; {said}", key=f"pending:{conv.id}")


def request_delivered(state: ChatState, conv: Conversation) -> bool:
    """Their node has our request now (`awaits_answer`): /add's "the request waits here"
    says "they see a request" (trial 14a, B18); whether it did."""
    key = f"pending:{conv.id}"
    if not any(n.key == key and NOT_REACHED in n.text for n in state.notices):
        return False
    state.drop_notices(key=key)
    state.notice("info", f"added {conv.name}; {SEES_REQUEST}", key=key)
    return True


def sent_news(state: ChatState, conv: Conversation, result: Any) -> None:
    """What a send's answer notes (`note`: a group with nobody else in it yet), and where a
    message to a contact not linked as one waits, and until when: their node has our request
    (`awaits_answer`: a link to it carries no chat; trial 14a, B6: one ✓ said nothing), or
    has not been reached. Kept here, nothing lost; said once per conversation while so."""
    if isinstance(result, Mapping) and isinstance(result.get("note"), str):
        state.notice("info", clean(result["note"]))
    if conv.kind == "group" or conv.online or conv.state != "contact":
        return
    if conv.awaited and "no longer knows you" in conv.unreachable:
        until = f"{conv.name}'s node no longer knows you: it goes when they add you again"
    elif conv.awaited:
        until = f"{conv.name} has not accepted your request yet: it goes when they do"
    elif conv.answers == "asked":
        until = (f"your request has not reached {conv.name}'s node yet: it goes once it has"
                 " and they accept")
    else:
        return
    state.notice("info", f"your message waits here ({until}); nothing is lost",
                 key=f"kept:{conv.id}")


def heard_from(state: ChatState, event: Mapping[str, Any]) -> None:
    """Their 1:1 message, or ours delivered to them: their node has us as a contact, so /add's
    "the request waits here" (or "they see a request") is untrue now. It stayed beside their
    reply until the next read of the node (session 36: the link came up before /add's answer,
    so no read came SETTLE after it)."""
    kind = event.get("type")
    if kind == "message" and (event.get("own") or event.get("group") is not None):
        return
    fp = clean(event.get("conversation") if kind == "message" else event.get("fingerprint"))
    conv = state.conversations.get(fp) if kind in ("message", "delivery") else None
    if conv is None or conv.kind == "group" or conv.answers not in ("asked", "awaits"):
        return
    request_answered(state, conv, linked=True)
    conv.answers = ""


def request_answered(state: ChatState, conv: Conversation, *, linked: bool) -> None:
    """Their node added us too (linked as a contact, their reply, our ✓✓): /add's "the request
    waits here" or "they see a request" says so, keyed and ageing as the linked answer, so a
    link down says "the link comes up" (trial 14b, B7: the answer went without a word)."""
    key, answer = f"pending:{conv.id}", f"{LINKED_KEY}{conv.id}"
    if not any(n.key == key for n in state.notices):
        return
    state.drop_notices(key=key)
    state.drop_notices(key=answer)
    state.notice("info", f"added {conv.name}; they added you too, so"
                         f" {LINKED if linked else LINK_WAIT}", key=answer)
    state.notices = deque((dataclasses.replace(n, answer=True) if n.key == answer else n
                           for n in state.notices), maxlen=state.notices.maxlen)
