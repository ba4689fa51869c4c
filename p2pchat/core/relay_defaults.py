"""The relay's fixed sizes and its default limits, as plain numbers.

Apart from `RelayLimits` (relay_limits.py, a dataclass) so that `p2pchat relay --help` can show
the defaults without loading `dataclasses` (and `inspect` behind it, about 7 ms): every command
builds the whole parser, `p2pchat send` and `p2pchat --help` included.
"""

from __future__ import annotations

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

# The defaults of RelayLimits' fields (sizes in bytes, times in seconds, rates per second).
MAX_CLIENTS: Final = 200
MAX_PENDING: Final = 64
MAX_PENDING_PER_HOST: Final = 8  # below MAX_PENDING: several addresses to fill it
MAX_CLIENTS_PER_HOST: Final = 16
ATTACH_TIMEOUT: Final = 5.0  # an honest client attaches in a round trip or two
IDLE_TIMEOUT: Final = 60.0
MAX_QUEUE: Final = 1 << 20
HIGH_WATER: Final = 256 * 1024
STALL_TIMEOUT: Final = 5.0
BYTE_RATE: Final = 4 << 20
FRAME_RATE: Final = 2000
BURST_SECONDS: Final = 1.0
