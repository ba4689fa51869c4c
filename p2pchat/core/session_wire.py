"""What both phases of a session share: the wire's constants (docs/protocol.md is the normative
description), a link's configuration, the events a session reports, and the handshake payload.

`core/session.py` composes the phases: `core/handshake.py` (XX or IK, plain or under a network
PSK) and `core/transport.py` (records in chunks, keepalives, close, on-demand rekey).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.framing import MAX_CHUNK, MAX_FRAME, TAG_LEN

# ---------------------------------------------------------------------------------------------
# Wire constants (docs/protocol.md is the normative description)
# ---------------------------------------------------------------------------------------------

XX_PROTOCOL: Final = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
IK_PROTOCOL: Final = "Noise_IK_25519_ChaChaPoly_BLAKE2b"
KK_PROTOCOL: Final = "Noise_KK_25519_ChaChaPoly_BLAKE2b"
# Inside a network (docs/protocol.md, "Networks"): the same patterns with the network's PSK mixed
# in before the first message, so without the PSK not even the first payload can be read and
# neither static key is ever sent to (or accepted from) an outsider.
XX_PSK_PROTOCOL: Final = "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b"
IK_PSK_PROTOCOL: Final = "Noise_IKpsk0_25519_ChaChaPoly_BLAKE2b"

# The prologue binds our protocol name and version into every handshake hash, so a peer speaking
# another version (or another application using the same Noise pattern) fails the handshake.
PROLOGUE_PREFIX: Final = b"p2pchat/1 "

# Handshake frame kinds: the byte before each handshake message. The responder needs it to tell
# XX from IK before it can try to read the Noise message; the initiator needs it to tell an IK
# answer from a "retry with XX".
KIND_XX1: Final = 0x01
KIND_XX2: Final = 0x02
KIND_XX3: Final = 0x03
KIND_IK1: Final = 0x11
KIND_IK2: Final = 0x12
KIND_RETRY_XX: Final = 0x20
# The same messages of the psk0 patterns: the 0x40 bit says "network handshake". The responder
# tries each of its networks' PSKs on the first message (at most MAX_NETWORK_PSKS).
KIND_PSK: Final = 0x40
MAX_NETWORK_PSKS: Final = 8
PSK_LEN: Final = 32

# Transport inner types: the first plaintext byte of every transport message.
T_DATA_MORE: Final = 0x00
T_DATA_FINAL: Final = 0x01
T_KEEPALIVE: Final = 0x02
T_CLOSE: Final = 0x03
T_REKEY_INIT: Final = 0x10
T_REKEY_REPLY: Final = 0x11
T_REKEY_SWITCH: Final = 0x12

MAX_NOISE_MESSAGE: Final = MAX_FRAME
# Our handshake messages are ~200 bytes; refusing anything much larger before running any
# crypto keeps an unauthenticated peer from making us hash 64 KiB blobs. Room is left for
# future payload fields.
MAX_HANDSHAKE_FRAME: Final = 4096
MAX_CLOSE_REASON: Final = 200  # bytes of UTF-8 we send, characters we show
# IK timestamps are signed 64-bit, like every integer the node stores (SQLite INTEGER): a larger
# one from an authenticated contact would otherwise blow up the replay guard's persistence.
MAX_IK_TIMESTAMP: Final = 2**63 - 1
MAX_REKEY_EVERY: Final = 2**32 - 1
FRAME_OVERHEAD: Final = 2 + TAG_LEN + 1  # length prefix, tag, inner type

# Payload field names (msgpack map keys).
F_ED25519: Final = "ed25519"
F_TIMESTAMP: Final = "ts"
F_REKEY: Final = "rekey"
F_REVISION: Final = "rev"

# Versioning (docs/protocol.md, "Versions"): the prologue's `p2pchat/1` is the major version,
# which two peers must share to complete a handshake at all. Within it, each handshake payload
# announces the revision of the protocol page the sender follows (absent: 1). A peer below the
# revision we need is told so in words (a CLOSE reason) after the handshake, never just dropped.
PROTOCOL_REVISION: Final = 6
MIN_REVISION: Final = 1  # the oldest revision this implementation still talks to
MAX_REVISION: Final = 2**16 - 1


# ---------------------------------------------------------------------------------------------
# Configuration, events, errors
# ---------------------------------------------------------------------------------------------


def wire_size(record_len: int) -> int:
    """Bytes on the wire for one record of `record_len` bytes (every chunk fully framed)."""
    chunks = max(1, -(-record_len // MAX_CHUNK))
    return record_len + chunks * FRAME_OVERHEAD


@dataclass(frozen=True)
class SessionConfig:
    """Limits and timers of one link. Times are seconds on the caller's monotonic clock."""

    max_record: int = 1 << 20  # largest app record we send or accept (bytes)
    rekey_every: int = 10_000  # transport messages we send between automatic Rekey()s
    # Short on purpose: a silent link (half-open TCP, a frozen peer, a stalled forwarder) is
    # noticed and replaced within seconds; a keepalive is one small frame.
    keepalive_interval: float = 2.0  # send a keepalive after this long without sending
    idle_timeout: float = 7.0  # close after this long without receiving
    # From creation to Established: milliseconds on a LAN, so a slow one is most likely a
    # connection held open to take a slot.
    handshake_timeout: float = 5.0
    rekey_timeout: float = 10.0  # an on-demand rekey must finish within this
    max_send_buffer: int = 8 << 20  # bytes queued for the socket before send_record refuses
    min_revision: int = MIN_REVISION  # peers announcing less are told so and closed
    # What this side announces: the page it follows (lower only to act as an older peer, in tests).
    revision: int = PROTOCOL_REVISION

    def __post_init__(self) -> None:
        if self.max_record < 0:
            raise ValueError("max_record must be >= 0")
        if not 1 <= self.rekey_every <= MAX_REKEY_EVERY:
            raise ValueError(f"rekey_every must be in 1..{MAX_REKEY_EVERY}")
        for name in ("keepalive_interval", "idle_timeout", "handshake_timeout", "rekey_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if not 1 <= self.min_revision <= MAX_REVISION:
            raise ValueError(f"min_revision must be in 1..{MAX_REVISION}")
        if not 1 <= self.revision <= MAX_REVISION:
            raise ValueError(f"revision must be in 1..{MAX_REVISION}")
        if self.max_send_buffer < wire_size(self.max_record):
            # Otherwise a record that passes the size check could never be queued.
            raise ValueError("max_send_buffer must hold at least one max_record record")


DEFAULT_CONFIG: Final = SessionConfig()


@dataclass(frozen=True)
class Established:
    """The handshake finished. `remote_key` is the peer's Ed25519 key, proven by Noise."""

    remote_key: bytes
    handshake_hash: bytes
    pattern: str  # "XX" or "IK" (an IK attempt that fell back reports "XX")
    # The network PSK this handshake used (one of the session's `psks`), None for a plain one.
    psk: bytes | None = field(default=None, repr=False)
    revision: int = field(default=1, compare=False)  # the protocol revision the peer announced


@dataclass(frozen=True)
class RecordReceived:
    record: bytes


@dataclass(frozen=True)
class KeyMismatch:
    """We dialled expecting `expected`, and the peer at that address proved `presented`.

    Always followed by `Closed`: the node should warn loudly ("peer at this address presented a
    different key") and never treat the link as the expected contact.
    """

    expected: bytes
    presented: bytes


@dataclass(frozen=True)
class Closed:
    reason: str


Event: TypeAlias = Established | RecordReceived | KeyMismatch | Closed


class LocalProtocolError(ProtocolError):
    """Our own caller misused the session (e.g. sent before Established, or after closing)."""


# ---------------------------------------------------------------------------------------------
# The handshake payload and close reasons
# ---------------------------------------------------------------------------------------------


def prologue(protocol_name: str) -> bytes:
    return PROLOGUE_PREFIX + protocol_name.encode("ascii")


def encode_payload(fields: Mapping[str, object]) -> bytes:
    return pack(dict(fields))


def decode_payload(data: bytes) -> dict[str, object]:
    """A handshake payload: a msgpack map with string keys. Unknown keys are ignored so later
    versions can add fields; everything is size-limited because it comes from a stranger."""
    obj = unpack(data, max_len=MAX_HANDSHAKE_FRAME, max_str=MAX_HANDSHAKE_FRAME,
                 max_bin=MAX_HANDSHAKE_FRAME, max_array=256, max_map=64,
                 what="handshake payload")
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise ProtocolError("handshake payload is not a map with string keys")
    return obj


def revision(payload: Mapping[str, object]) -> int:
    """The protocol revision a handshake payload announces; 1 when it says nothing."""
    if F_REVISION not in payload:
        return 1
    return get_int(payload, F_REVISION, 1, MAX_REVISION)


def get_int(payload: Mapping[str, object], name: str, low: int, high: int) -> int:
    value = payload.get(name)
    # bool is an int subclass; msgpack never yields one for an int, but be exact anyway.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(f"handshake payload field {name!r} missing or out of range")
    return value


def clean_reason(data: bytes) -> str:
    """A peer's close reason, made safe to log and show: no control characters, bounded."""
    text = data.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:MAX_CLOSE_REASON]


def encode_reason(reason: str) -> bytes:
    # Cut on a character boundary so the peer never sees half a UTF-8 sequence.
    return reason.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode("utf-8")
