"""The view-model as styled text (prompt_toolkit's (style, text) fragments), one pane at a time.

No terminal needed: the app draws these, and tests read them. All text here was sanitised when
it entered the state.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime

from prompt_toolkit.utils import get_cwidth

from p2pchat.tui.state import ChatState, Conversation, Message

Fragments = list[tuple[str, str]]

# Distinct on dark and light terminals; own messages have their own colour.
AUTHOR_COLOURS = ("ansicyan", "ansigreen", "ansimagenta", "ansiyellow", "ansiblue", "ansired",
                  "#ff8700", "#5fafff", "#d75fd7", "#87d700")
OWN_STYLE = "class:own"
STATUS_MARKS = {"queued": "· queued", "sent": "✓ sent", "delivered": "✓✓ delivered"}

STYLE_RULES = {
    "conv": "",
    "conv.selected": "reverse",
    "conv.request": "ansiyellow",
    "online": "ansigreen",
    "offline": "ansibrightblack",
    "unread": "bold ansibrightred",
    "time": "ansibrightblack",
    "own": "bold",  # the terminal's own colour: readable on dark and light backgrounds
    "mark": "ansibrightblack",
    "mark.delivered": "ansigreen",
    "status": "reverse",
    "status.warn": "reverse ansired",
    "notice.info": "",
    "notice.error": "ansired",
    "notice.warning": "bold ansired",
    "notice.request": "ansiyellow",
    "title": "bold",
    "empty": "ansibrightblack italic",
    "separator": "ansibrightblack",
}


def author_style(author: str, own: bool) -> str:
    if own:
        return OWN_STYLE
    # crc32, not hash(): the same person keeps the same colour across runs.
    return "bold fg:" + AUTHOR_COLOURS[zlib.crc32(author.encode()) % len(AUTHOR_COLOURS)]


def fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells, with an ellipsis when cut."""
    if get_cwidth(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = get_cwidth(ch)
        if used + w > width - 1:
            break
        out += ch
        used += w
    return out + "…"


def local_time(sent_at: str, today: date | None = None) -> str:
    """HH:MM in local time; with the date when it is not today."""
    try:
        when = datetime.fromisoformat(sent_at).astimezone()
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31 moved east of UTC
        return "??:??"
    if when.date() == (today or datetime.now().astimezone().date()):
        return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def conversation_list(state: ChatState, width: int) -> Fragments:
    out: Fragments = [("class:title", fit(" Conversations", width) + "\n")]
    order = state.order()
    if not order:
        out.append(("class:empty", " none yet: /add\n"))
    for conv in order:
        out += _conversation_row(conv, conv.fingerprint == state.selected, width)
    return out


def _conversation_row(conv: Conversation, selected: bool, width: int) -> Fragments:
    base = "class:conv.selected" if selected else "class:conv"
    if conv.state == "request":
        dot, dot_style = "?", "class:conv.request"
    elif conv.online:
        dot, dot_style = "●", "class:online"
    else:
        dot, dot_style = "○", "class:offline"
    badge = f" ({conv.unread})" if conv.unread else ""
    label = fit(conv.name, max(1, width - 3 - get_cwidth(badge)))
    pad = " " * max(0, width - 3 - get_cwidth(label) - get_cwidth(badge))
    name_style = base + (" class:conv.request" if conv.state == "request" else "")
    return [
        (base, " "), (f"{base} {dot_style}", dot), (base, " "),
        (name_style, label), (base + " class:unread", badge), (base, pad + "\n"),
    ]


def history(state: ChatState, today: date | None = None) -> tuple[Fragments, int]:
    """The selected conversation, oldest first, and how many lines it takes."""
    conv = state.current
    if conv is None:
        return [("class:empty", "No conversation selected. /add a contact, or /help.")], 1
    if conv.state == "request":
        note = f' ("{conv.note}")' if conv.note else ""
        text = (f"{conv.name} asks to connect{note}.\n"
                f"/accept {conv.name} to chat, /block {conv.name} to refuse,"
                f" /safety {conv.name} to check who it is.")
        return [("class:notice.request", text)], 2
    if not conv.messages:
        loading = "" if conv.loaded else " (loading)"
        return [("class:empty", f"No messages with {conv.name} yet{loading}.")], 1
    out: Fragments = []
    lines = 0
    for index, message in enumerate(conv.messages):
        if index:
            out.append(("", "\n"))
        out += _message(message, today)
        lines += message.text.count("\n") + 1
    return out, lines


def _message(message: Message, today: date | None) -> Fragments:
    stamp = local_time(message.sent_at, today)
    out: Fragments = [("class:time", stamp + " "),
                      (author_style(message.author, message.own), message.author_name),
                      ("", ": ")]
    indent = " " * (get_cwidth(stamp) + 1)
    out.append(("", message.text.replace("\n", "\n" + indent)))
    if message.own and message.status:
        mark_style = "class:mark.delivered" if message.status == "delivered" else "class:mark"
        out.append((mark_style, "  " + STATUS_MARKS.get(message.status, message.status)))
    return out


def _networks_part(state: ChatState) -> list[str]:
    """The networks we are in, when any: they decide who can see and reach us."""
    return [f"network {', '.join(state.networks)}"] if state.networks else []


def status_line(state: ChatState) -> Fragments:
    me = state.me
    parts = [
        f" {me.name} {me.fingerprint[:7]}",
        f"links {state.links}",
        f"mDNS {'on' if state.mdns else 'off'}",
        f"presence {state.presence or '?'}",
        *_networks_part(state),
        state.mode,
    ]
    out: Fragments = [("class:status", " │ ".join(parts) + " ")]
    if not state.connected:
        out.append(("class:status.warn", " DISCONNECTED from the node: /quit "))
    return out


def notices(state: ChatState, limit: int) -> Fragments:
    out: Fragments = []
    for notice in list(state.notices)[-limit:]:
        if out:
            out.append(("", "\n"))
        out.append((f"class:notice.{notice.kind}", notice.text))
    return out
