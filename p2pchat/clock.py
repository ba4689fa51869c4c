"""The wall clock, for what must carry a date: message times, IK timestamps, the presence day.

Everything else (timeouts, keepalives, backoff) runs on the event loop's monotonic clock, so a
step of the wall clock moves only these. Tests step it through a hook, since stepping the host's
real clock would disturb every process on the machine: $P2PCHAT_TEST_CLOCK_SKEW_FILE names a file
holding seconds to add to the wall clock; it is re-read at most every 50 ms and anything but a
number there counts as 0.
"""

from __future__ import annotations

import os
import time

SKEW_ENV = "P2PCHAT_TEST_CLOCK_SKEW_FILE"
_MAX_SKEW_S = 10 * 365 * 86400
_REREAD_S = 0.05

_skew_file = os.environ.get(SKEW_ENV) or None
_cached: tuple[float, int] = (float("-inf"), 0)  # (monotonic time read, skew in ns)


def wall_ns() -> int:
    """Nanoseconds since the Unix epoch."""
    return time.time_ns() + (_skew_ns() if _skew_file else 0)


def wall_time() -> float:
    """Seconds since the Unix epoch."""
    return wall_ns() / 1e9


def _skew_ns() -> int:
    global _cached
    now = time.monotonic()
    if now - _cached[0] < _REREAD_S:
        return _cached[1]
    skew = 0
    try:
        assert _skew_file is not None
        with open(_skew_file, "rb") as f:
            value = float(f.read(64).decode("ascii").strip() or "0")
        if abs(value) <= _MAX_SKEW_S:
            skew = int(value * 1e9)
    except (OSError, ValueError, UnicodeDecodeError):
        skew = 0
    _cached = (now, skew)
    return skew
