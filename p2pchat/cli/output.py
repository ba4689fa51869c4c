"""How the `p2pchat` commands fail and what they print: `UserError`, JSON and peer text."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from p2pchat.core.text import is_unsafe
from p2pchat.tui.sanitize import clean

# Where the continuation lines of a multi-line message or note start in plain output: indented
# under the text, so a peer's newline can never start a line that looks like one of ours.
_INDENT = " " * 21


class UserError(Exception):
    """Something the user can fix; printed as one line on stderr, exit status 1."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def peer_lines(text: object) -> str:
    """Peer text for a terminal, newlines kept as indented continuation lines (the UI's rule)."""
    return clean(text, newlines=True).replace("\n", "\n" + _INDENT)


def print_json(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    # JSON escapes only C0 controls; escape DEL, C1 and bidi controls too, so the value stays
    # the same for programs and a terminal shown it is not driven by a peer's text.
    print("".join(f"\\u{ord(ch):04x}" if is_unsafe(ch) else ch for ch in text))
