"""What text written by others may contain before it reaches a terminal, and what a name is.

Names, notes and adverts end up on screens: control characters could drive a terminal (escape
sequences), and bidi overrides could make one name display as another. One rule for all of them,
so anything the wire accepts can also be stored and shown.
"""

from __future__ import annotations

import re
import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_CHARS = 64

# Unicode's Cc category is closed (C0, DEL and C1, fixed since Unicode 1.1), so one character
# class covers it: every name lookup and received text is scanned, and a regex scans in C.
_UNSAFE = "\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_UNSAFE_ANY = re.compile(f"[{_UNSAFE}\n]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[{_UNSAFE}]")


class BadName(ValueError):
    """A display name breaks the name rule (`name_problem`); the message says how."""


def is_unsafe(ch: str, *, newlines: bool = False) -> bool:
    """Whether one character must not reach a terminal (a newline only where allowed)."""
    if ch == "\n" and newlines:
        return False
    return unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS


def first_unsafe(text: str, *, newlines: bool = False) -> str | None:
    """The first character of `text` that must not be shown, or None."""
    found = (_UNSAFE_BUT_NEWLINE if newlines else _UNSAFE_ANY).search(text)
    return None if found is None else found.group()


def text_problem(value: str, max_chars: int, *, newlines: bool = False) -> str | None:
    """Why `value` may not be stored or shown as a name or note, or None when it may."""
    if len(value) > max_chars:
        return f"{len(value)} characters exceeds the limit of {max_chars}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (lone surrogate)"
    unsafe = first_unsafe(value, newlines=newlines)
    if unsafe is not None:
        return f"control character U+{ord(unsafe):04X} not allowed"
    return None


def name_problem(name: str) -> str | None:
    """Why `name` is not a display name, or None: THE name rule (docs/protocol.md section 7).

    A name is 1 to 64 characters in Unicode NFC, without leading or trailing white space, with no
    control (Cc) or bidi-control character. The wire (Hello, ContactRequest, ContactAccept), the
    identity file and the contact store all apply this one rule, so a name one of them accepts
    is never refused by another.
    """
    problem = text_problem(name, MAX_NAME_CHARS)
    if problem is not None:
        return problem
    if not name:
        return "a name must not be empty"
    if name != name.strip():
        return "a name must not start or end with white space"
    if not unicodedata.is_normalized("NFC", name):
        return "a name must be in Unicode NFC form"
    return None


def valid_name(text: str) -> str:
    """What a person typed, made a name (NFC, trimmed); raises BadName if the rule refuses it."""
    try:
        name = unicodedata.normalize("NFC", text).strip()
    except (TypeError, UnicodeError):
        raise BadName("a name is text") from None
    problem = name_problem(name)
    if problem is not None:
        raise BadName(f"name: {problem}")
    return name


def counted(n: int, noun: str) -> str:
    """A count with its noun, for people to read: "1 member", "2 members"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def membership(members: int, invited: int) -> str:
    """A group's size for people to read: "3 members, 1 invited". `members` counts everyone in
    the chain (the API's field), `invited` those of them not seen to accept yet; only the others
    are called members, as Signal shows pending invitations apart."""
    invited = max(0, min(invited, members))
    size = counted(members - invited, "member")
    return f"{size}, {invited} invited" if invited else size


def group_size(members: int, invited: int, online: int | None = None) -> str:
    """A group's size, and who else is online (`online`: the others linked to us, the API's
    count; None: not said), one rule for the chat's header and lists and the CLI's:
    "1 member (you)", "3 members, 1 invited, 1 other online" (trial 11: "1 member, 0 online"
    read as if you were not running)."""
    invited = max(0, min(invited, members))
    if members - invited <= 1:  # only you have joined: nobody else to be online
        return "1 member (you)" + (f", {invited} invited" if invited else "")
    size = membership(members, invited)
    if online is None:
        return size
    return f"{size}, {online} {'other' if online == 1 else 'others'} online"


def hidden_nearby(n: int) -> str:
    """What `peers` and the chat screen say of the nearby nodes whose adverts are sealed for
    networks we are not in (their count is all anyone outside learns)."""
    return f"{counted(n, 'node')} nearby in networks you are not in (not shown)"


def human_size(size: float) -> str:
    """A byte count as people read it: "512 B", "1.5 MiB" (files' offers and progress)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def split_text(text: str, limit: int) -> list[str]:
    """A message too long to send, as parts of at most `limit` UTF-8 bytes each, broken after
    a line or a word where one is near the end, never inside a character; blank parts dropped.
    The chat screen (tui/commands.py) and `p2pchat send --split` split the same way."""
    parts: list[str] = []
    rest = text
    while len(rest.encode("utf-8", "surrogatepass")) > limit:
        room = rest.encode("utf-8", "surrogatepass")[:limit]
        cut = len(room.decode("utf-8", "ignore"))  # whole characters only
        window = rest[:cut]
        at = window.rfind("\n") + 1  # a line end first: a pasted line stays whole
        line_end = at > cut // 2
        if not line_end:
            at = window.rfind(" ") + 1
        if at <= cut // 2:
            at = cut  # no break near the end: cut the word
        parts.append(rest[:at - 1] if line_end else rest[:at])  # the line end is the break
        rest = rest[at:]
    parts.append(rest)
    return [part for part in parts if part.strip()]
