"""How a headless process (node or relay) logs: to stderr, one line per event, never content."""

from __future__ import annotations

import logging
import sys


def configure_logging(verbosity: int) -> None:
    """0 is INFO; each -v one step more (DEBUG), each -q one step less (WARNING)."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
