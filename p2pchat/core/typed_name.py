"""A name as typed: `"Carol S"` is the name Carol S, quotes and all taken off, as /group create
reads its words (shlex); one rule for every place a name is typed (trial 11: /rename carol
"Carol S" kept the quotes in the name)."""

from __future__ import annotations

import shlex


def unquoted(text: str) -> str:
    """`text` without the quotes around it when it is one quoted word ("Carol S", 'Carol S');
    else as typed (an unclosed quote, or quotes inside a name, stay)."""
    text = text.strip()
    if text[:1] not in ("'", '"'):
        return text
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    return words[0] if len(words) == 1 else text


def first_quoted(text: str) -> tuple[str, str] | None:
    """A quoted name at the start of `text` and what follows it, or None when it starts
    with none: `"Carol S" hi` is ('Carol S', 'hi')."""
    text = text.strip()
    end = text.find(text[:1], 1) if text[:1] in ("'", '"') else -1
    if end < 0 or text[end + 1:end + 2] not in ("", " ", "\t"):
        return None
    return text[1:end], text[end + 1:].strip()
