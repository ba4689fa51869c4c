"""How a headless process (node or relay) logs: to stderr, one line per event, never content.

Under systemd, stderr goes to the journal, which stamps each line with its own time and reads
a `<N>` syslog priority at the start of a line: there the lines carry the priority and no
timestamp of their own. Everywhere, a line break inside a message is written as `\\n`, so one
event is one line (one journal entry) whatever it says.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# syslog priorities (RFC 5424), which journald reads from a "<N>" line prefix.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


class _Journal(_OneLine):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


def under_journald(stream: TextIO) -> bool:
    """systemd sets JOURNAL_STREAM to the device and inode of the journal stream it gave us;
    only if that is really our stderr (not inherited by something we piped) is it the journal."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return bool(expected) and expected == f"{st.st_dev}:{st.st_ino}"


def configure_logging(verbosity: int) -> None:
    """0 is INFO; each -v one step more (DEBUG), each -q one step less (WARNING)."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    if under_journald(sys.stderr):
        handler.setFormatter(_Journal("%(levelname)s %(message)s"))
    else:
        handler.setFormatter(_OneLine("%(asctime)s %(levelname)s %(message)s",
                                      datefmt="%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler])
