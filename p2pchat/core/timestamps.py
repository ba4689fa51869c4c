"""Wall-clock times that travel or are stored as Unix milliseconds, and how they are shown.

A peer picks `sent_at`; it is shown, never trusted. The codec bounds it to what a calendar can
show (years 1970 to 9999), and `iso_from_ms` is total anyway, so a value from a damaged store or
an older version still renders instead of raising inside a view.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

# 9999-12-31T23:59:59.999Z: the last millisecond `datetime` (and ISO 8601 with 4-digit years)
# can represent. docs/protocol.md section 7 names this bound for Envelope.sent_at.
MAX_TIMESTAMP_MS = 253_402_300_799_999

_NAIVE_EPOCH = datetime(1970, 1, 1)  # naive: iso_from_ms writes the zone out itself


def iso_from_ms(ms: int) -> str:
    """`ms` as ISO 8601 UTC with milliseconds; values outside 0..MAX_TIMESTAMP_MS are clamped.

    Integer arithmetic on a timedelta, not `fromtimestamp(ms / 1000)`: no float rounding, no
    platform limits, no exception for any int.
    """
    seconds, millis = divmod(min(max(int(ms), 0), MAX_TIMESTAMP_MS), 1000)
    return f"{_iso_second(seconds)}.{millis:03d}+00:00"


@lru_cache(maxsize=256)  # every message event shows one; a burst shares its seconds
def _iso_second(seconds: int) -> str:
    return (_NAIVE_EPOCH + timedelta(seconds=seconds)).isoformat(timespec="seconds")
