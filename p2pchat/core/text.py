"""What text written by others may contain before it reaches a terminal.

Names, notes and adverts end up on screens: control characters could drive a terminal (escape
sequences), and bidi overrides could make one name display as another. One rule for all of them,
so anything the wire accepts can also be stored and shown.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_unsafe(ch: str, *, newlines: bool = False) -> bool:
    """Whether one character must not reach a terminal (a newline only where allowed)."""
    if ch == "\n" and newlines:
        return False
    return unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS


def first_unsafe(text: str, *, newlines: bool = False) -> str | None:
    """The first character of `text` that must not be shown, or None."""
    return next((ch for ch in text if is_unsafe(ch, newlines=newlines)), None)


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
