"""What the chat prints on the terminal once its screen is gone, wrapped to the terminal at
spaces, and never inside a short quoted command: the terminal itself cut "'kill 366" /
"7' stops it." at 60 columns (trial 4, B14), and a pasted half does nothing."""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import textwrap

KEEP_WHOLE = 40  # a quoted span up to this long stays on one line
_QUOTED = re.compile(r"'[^'\n]{1," + str(KEEP_WHOLE) + "}'")
_GLUE = "\x00"  # stands for a space that must not break while wrapping


def wrapped(text: str, width: int) -> str:
    glued = _QUOTED.sub(lambda m: m.group(0).replace(" ", _GLUE), text)
    lines = textwrap.wrap(glued, max(20, width - 1), break_on_hyphens=False,
                          break_long_words=False)
    return "\n".join(lines).replace(_GLUE, " ")


def say(text: str) -> None:
    """`text` on stderr, wrapped to the terminal's width (as is when it goes to a file)."""
    tty = sys.stderr.isatty()
    with contextlib.suppress(OSError):  # a terminal gone (EIO): nobody reads it any more
        print(wrapped(text, shutil.get_terminal_size().columns) if tty else text, file=sys.stderr)


def say_as_is(text: str) -> None:
    """`text` on stderr as typed (its own line breaks), e.g. a draft not sent."""
    with contextlib.suppress(OSError):
        print(text, file=sys.stderr)
