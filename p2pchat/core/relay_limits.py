"""The relay's bounds: the sizes its records may take and every limit it enforces.

Apart from the records' codec (relay_messages.py) and the relay's state (relay.py), so that
`p2pchat relay --help` can show the defaults without loading them: the CLI builds its whole
parser for every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pchat.core.framing import MAX_CHUNK

KEY_LEN: Final = 32  # an Ed25519 public key
# One relay record travels in exactly one Noise transport message of the relay session: no
# chunking, so the relay never reassembles anything and a frame's size is its record's bucket.
MAX_RELAY_RECORD: Final = MAX_CHUNK  # 65518
# Fixed bytes around `data` in a Send or Deliver at most: array header, code, bin8 key (2 + 32),
# stream (uint32: 5), bin16 header of data, bin16 header of pad.
DATA_OVERHEAD: Final = 1 + 1 + 2 + KEY_LEN + 5 + 3 + 3
MAX_DATA: Final = MAX_RELAY_RECORD - DATA_OVERHEAD  # 65471: the largest that always fits
MAX_RATE: Final = 2**32 - 1  # rates announced in Attached


@dataclass(frozen=True)
class RelayLimits:
    """Every bound the relay enforces. Sizes in bytes, times in seconds, rates per second."""

    max_clients: int = 200
    max_pending: int = 64
    max_pending_per_host: int = 8  # below max_pending: several addresses to fill it
    max_clients_per_host: int = 16
    attach_timeout: float = 5.0  # an honest client attaches in a round trip or two
    idle_timeout: float = 60.0
    max_data: int = MAX_DATA
    max_queue: int = 1 << 20
    high_water: int = 256 * 1024
    stall_timeout: float = 5.0
    byte_rate: int = 4 << 20
    frame_rate: int = 2000
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_clients", "max_pending", "max_pending_per_host",
                     "max_clients_per_host", "max_queue", "high_water"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("attach_timeout", "idle_timeout", "stall_timeout", "burst_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0")
        if not 1 <= self.max_data <= MAX_DATA:
            raise ValueError(f"max_data must be 1..{MAX_DATA}")
        if not 1 <= self.byte_rate <= MAX_RATE or not 1 <= self.frame_rate <= MAX_RATE:
            raise ValueError(f"rates must be 1..{MAX_RATE}")
        if self.high_water > self.max_queue:
            raise ValueError("high_water must not exceed max_queue")
