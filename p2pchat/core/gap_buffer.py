"""What early (out-of-order) envelopes may cost: bytes per conversation and per node, and time.

An envelope that arrives past a gap in its author's log waits until the gap fills. A peer decides
what arrives, so what waits is bounded in bytes (per conversation, and for the whole node through
one shared `GapBudget`), held at most `GAP_HOLD` seconds, and released as soon as the link that
brought it closes: dropped, not kept, and asked for again by the next sync round, so nothing is
lost and nothing a peer sends can pin memory (docs/protocol.md 7.2, "Early envelopes").
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from p2pchat.core.messages import Envelope

__all__ = [
    "ENVELOPE_OVERHEAD",
    "GAP_BYTES_PER_CONVERSATION",
    "GAP_BYTES_PER_NODE",
    "GAP_HOLD",
    "GapBudget",
    "Held",
    "held_size",
]

# 1 MiB per conversation holds a whole request window of ordinary text messages (1,024 of under
# 1 KiB each), or 16 envelopes at the 64 KiB body limit; 8 MiB per node is eight such windows.
GAP_BYTES_PER_CONVERSATION = 1024 * 1024
GAP_BYTES_PER_NODE = 8 * 1024 * 1024
GAP_HOLD = 30.0  # seconds an early envelope waits for its gap before it is dropped
# What an envelope costs besides its body and signature: ids, hashes, numbers, the object.
ENVELOPE_OVERHEAD = 256


def held_size(env: Envelope) -> int:
    """What holding `env` is charged, in bytes."""
    return ENVELOPE_OVERHEAD + len(env.body) + len(env.sig)


class GapBudget:
    """The node's bytes for early envelopes, shared by every conversation's log."""

    def __init__(self, limit: int = GAP_BYTES_PER_NODE) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        """Charge `size` bytes if they fit; False (and nothing charged) if not."""
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used = max(0, self.used - size)


@dataclass(frozen=True, slots=True)
class Held:
    """One early envelope's charge: its size, the link that brought it, when it came."""

    size: int
    origin: Hashable | None
    since: float
