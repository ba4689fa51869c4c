"""/receipts [N]: who holds one of your group messages and who does not yet (issue 24, "who has
it"), as Signal's message info lists "delivered to" and "sent to". The ✓✓ n/m beside the message
counts them; this names them, from the node's `delivered_to` and the group's members."""

from __future__ import annotations

from typing import Any

from p2pchat.core.contact_words import member_presence
from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.conversation import Conversation, Message
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState

HISTORY_READ = 500  # of the node's log, to find the message's `delivered_to` (controller's)
MAX_NAMES = 200  # names per line shown; the rest are counted
RECEIPTS = "receipts:"  # the page's source: RECEIPTS + the group's id + " " + the message's


async def receipts(state: ChatState, backend: ChatBackend, rest: str) -> None:
    """The page for your Nth newest message in the open group (1, the newest, by default)."""
    conv = state.current
    if conv is None or conv.kind != "group":
        raise BackendError("usage", "/receipts works in a group: open one first (/msg GROUP)")
    rest = rest.strip()
    if rest and not rest.isdigit():
        raise BackendError("usage", "usage: /receipts [N]: your Nth newest message (1: the last)")
    mine = [m for m in conv.messages if m.own and not m.system]
    number = int(rest or "1")
    if not mine:
        raise BackendError("usage", f"you have written nothing in {conv.name} yet")
    if not 1 <= number <= len(mine):
        raise BackendError("usage", f"/receipts N: 1 to {len(mine)} (your messages here)")
    await _show(state, backend, conv, mine[-number])


async def follow(state: ChatState, backend: ChatBackend, source: str) -> None:
    """The open receipts page (`source`: RECEIPTS + group id + " " + message id) drawn again
    from the node: it follows receipts as they come (trial 11: it was a snapshot)."""
    group, _, message_id = source.removeprefix(RECEIPTS).partition(" ")
    conv = state.conversations.get(group)
    message = conv.find(message_id) if conv is not None else None
    if conv is not None and message is not None:
        await _show(state, backend, conv, message)


async def _show(state: ChatState, backend: ChatBackend, conv: Conversation,
                message: Message) -> None:
    held, sent_to = await _delivered_to(backend, conv.id, message)
    members = await backend.group_members(conv.id)
    lines = lines_for(held, members, sent_to, message.status)
    if conv.state in ("removed", "left") and any(line.startswith("  not yet") for line in lines):
        how = "you were removed" if conv.state == "removed" else "you left"
        lines[2:2] = [f"  (as known when {how}: no receipt reaches you since, so those not"
                      " yet may have it now)"]
    state.show_page(f"Who has your message {_quote(message)}", lines,
                    source=f"{RECEIPTS}{conv.id} {message.id}")


async def _delivered_to(backend: ChatBackend, conv: str, message: Message
                        ) -> tuple[set[str] | None, list[str] | None]:
    """The message's `delivered_to` and `sent_to` as the node keeps them now (None: the node
    did not say)."""
    for event in await backend.history(conv, HISTORY_READ):
        if clean(event.get("id")) == message.id:
            held, sent_to = event.get("delivered_to"), event.get("sent_to")
            return ({clean(f) for f in held} if isinstance(held, list) else None,
                    [clean(f) for f in sent_to] if isinstance(sent_to, list) else None)
    return None, None


def lines_for(held: set[str] | None, members: list[dict[str, Any]],
              sent_to: list[str] | None = None, status: str | None = None) -> list[str]:
    """Delivered to whom, and who not yet (and why, where we know: offline, not joined).
    `sent_to`: who the message was for when it was sent (the node's), so a member who joined
    later is not listed and one who left since still is; None: the current members.
    `status`: the message's, so the mark is the line's ("· 0/1" queued: "·", trial 13b B16)."""
    others = [m for m in members if not m.get("you")]
    if sent_to is not None:
        by_fp = {clean(m.get("fingerprint")): m for m in others}
        others = [by_fp.get(fp) or {"fingerprint": fp, "name": fp[:8], "gone": True}
                  for fp in sent_to]
    if held is None:
        return ["  the node's log has no delivery record for this message (older than its"
                f" newest {HISTORY_READ}? `p2pchat log GROUP --json` has them all)"]
    if not others:  # "✓✓ delivered to 0 of 0", "every member has it" (trial 11, B13 b)
        return ["  nobody else was in the group when you wrote it: no one to deliver it to"
                " (· 0/0 only you); it stays in the group's log here"]
    got = [m for m in others if clean(m.get("fingerprint")) in held]
    missing = [m for m in others if clean(m.get("fingerprint")) not in held]
    tick = "✓✓" if not missing else "✓"  # a double tick only once all have it (trial1 B3)
    if not got and status == "queued":  # render.py's mark for it: one mark, one state (B16)
        tick = "·"
    lines = [f"  {tick} delivered to {len(got)} of {len(others)}: {_names(got) or 'nobody yet'}"]
    if missing:
        why = [f"{_name(m)} ({_why(m)})" for m in missing[:MAX_NAMES]]
        more = len(missing) - len(why)
        lines.append("  not yet: " + ", ".join(why) + (f" and {more} more" if more > 0 else ""))
    else:
        lines.append("  every member has it")
    return [*lines, "", "A member counts when its node confirms it holds the message; one"
                        " who is offline gets it from any member later."]


def _name(member: dict[str, Any]) -> str:
    return ("~" if member.get("contact") is False else "") + clean(member.get("name"))


def _names(members: list[dict[str, Any]]) -> str:
    shown = ", ".join(_name(m) for m in members[:MAX_NAMES])
    more = len(members) - MAX_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _why(member: dict[str, Any]) -> str:
    if member.get("gone"):
        return "no longer a member"
    if member.get("invited"):
        return "invited, has not joined yet"
    return member_presence(member)  # "~erin (not linked)", not a guessed offline (trial 13, B4)


def _quote(message: Message) -> str:
    text = " ".join(message.text.split())
    return repr(text if len(text) <= 40 else text[:39] + "…")
