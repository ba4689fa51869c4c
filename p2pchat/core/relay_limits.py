"""The relay's bounds: the sizes its records may take and every limit it enforces.

Apart from the records' codec (relay_messages.py) and the relay's state (relay.py), so that
loading the limits loads neither. The numbers themselves are in relay_defaults.py, which
`p2pchat relay --help` reads without this module's dataclass; the sizes are re-exported here
for the codec and the state.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2pchat.core import relay_defaults as d
from p2pchat.core.relay_defaults import DATA_OVERHEAD as DATA_OVERHEAD
from p2pchat.core.relay_defaults import KEY_LEN as KEY_LEN
from p2pchat.core.relay_defaults import MAX_DATA as MAX_DATA
from p2pchat.core.relay_defaults import MAX_RATE as MAX_RATE
from p2pchat.core.relay_defaults import MAX_RELAY_RECORD as MAX_RELAY_RECORD


@dataclass(frozen=True)
class RelayLimits:
    """Every bound the relay enforces. Sizes in bytes, times in seconds, rates per second."""

    max_clients: int = d.MAX_CLIENTS
    max_pending: int = d.MAX_PENDING
    max_pending_per_host: int = d.MAX_PENDING_PER_HOST
    max_clients_per_host: int = d.MAX_CLIENTS_PER_HOST
    attach_timeout: float = d.ATTACH_TIMEOUT
    idle_timeout: float = d.IDLE_TIMEOUT
    max_data: int = MAX_DATA
    max_queue: int = d.MAX_QUEUE
    high_water: int = d.HIGH_WATER
    stall_timeout: float = d.STALL_TIMEOUT
    byte_rate: int = d.BYTE_RATE
    frame_rate: int = d.FRAME_RATE
    burst_seconds: float = d.BURST_SECONDS

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
