"""One peer link as a sans-IO state machine: Noise handshake, then encrypted transport.

Like h11, a `Session` never touches a socket or a clock. The caller feeds it the bytes that
arrived (`receive_data`) and gets events back, asks it for the bytes to write (`data_to_send`),
and drives its timers by calling `tick(now)` with a monotonic time. Because the session is only
bytes in / bytes out, the same object runs unchanged over TCP or inside a relay's opaque frames.

The wire format is specified in ``docs/protocol.md``; the constants below are that document's
numbers. In short:

* Handshake: ``Noise_XX_25519_ChaChaPoly_BLAKE2b`` (first contact) or
  ``Noise_IK_25519_ChaChaPoly_BLAKE2b`` (the initiator knows the responder's key), with a
  "retry with XX" answer when an IK first message cannot be accepted. Each handshake frame is one
  kind byte followed by the Noise message. Inside a network the same patterns run with the
  network's PSK (``psk0``), and the kind byte has its 0x40 bit set.
* Transport: each frame is one Noise transport message whose plaintext is one inner-type byte
  followed by data (record chunks, keepalive, close, on-demand rekey handshake).
* Every frame, handshake or transport, carries the 2-byte length prefix of `framing.py`.

Protocol errors never escape `receive_data`: they turn into a `Closed` event, and once closed the
session ignores all further input. Only local misuse (sending before the handshake finished, a
record over the limit, a full send buffer) raises.
"""

from __future__ import annotations

import contextlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from types import MappingProxyType
from typing import Final, TypeAlias

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import NoiseError, ProtocolError
from p2pchat.core.framing import (
    MAX_CHUNK,
    MAX_FRAME,
    TAG_LEN,
    FrameDecoder,
    encode_frame,
    frame_header,
)
from p2pchat.core.identity import Identity, IdentityError, x25519_from_ed25519_public
from p2pchat.core.noise import CipherState, HandshakeState

__all__ = [
    "IK_PROTOCOL",
    "IK_PSK_PROTOCOL",
    "KK_PROTOCOL",
    "MAX_CHUNK",
    "MAX_IK_TIMESTAMP",
    "MIN_REVISION",
    "PROLOGUE_PREFIX",
    "PROTOCOL_REVISION",
    "XX_PROTOCOL",
    "XX_PSK_PROTOCOL",
    "Closed",
    "Established",
    "Event",
    "KeyMismatch",
    "LocalProtocolError",
    "RecordReceived",
    "ReplayGuard",
    "Session",
    "SessionConfig",
]

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
_FRAME_OVERHEAD: Final = 2 + TAG_LEN + 1  # length prefix, tag, inner type

# Payload field names (msgpack map keys).
F_ED25519: Final = "ed25519"
F_TIMESTAMP: Final = "ts"
F_REKEY: Final = "rekey"
F_REVISION: Final = "rev"

# Versioning (docs/protocol.md, "Versions"): the prologue's `p2pchat/1` is the major version,
# which two peers must share to complete a handshake at all. Within it, each handshake payload
# announces the revision of the protocol page the sender follows (absent: 1). A peer below the
# revision we need is told so in words (a CLOSE reason) after the handshake, never just dropped.
PROTOCOL_REVISION: Final = 3
MIN_REVISION: Final = 1  # the oldest revision this implementation still talks to
MAX_REVISION: Final = 2**16 - 1

_EMPTY_GUARD: Mapping[bytes, int] = MappingProxyType({})


# ---------------------------------------------------------------------------------------------
# Configuration, events, errors
# ---------------------------------------------------------------------------------------------


def _wire_size(record_len: int) -> int:
    """Bytes on the wire for one record of `record_len` bytes (every chunk fully framed)."""
    chunks = max(1, -(-record_len // MAX_CHUNK))
    return record_len + chunks * _FRAME_OVERHEAD


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
        if self.max_send_buffer < _wire_size(self.max_record):
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


class ReplayGuard:
    """The newest IK timestamp accepted from each peer, shared by all sessions of one node.

    An IK first message is a complete, authenticated message that anyone who recorded it can
    send again; the timestamp inside it must be strictly greater than the last one accepted
    from that peer (as WireGuard does). The node persists the timestamps of its contacts so a
    restart keeps refusing their replays.

    Contacts are `pinned`: never forgotten, however many other keys come by. Any other key is
    remembered in a bounded table, the least recently seen forgotten first, so throwaway keys
    can neither grow memory nor push a contact out. A forgotten key's old first message passes
    this check, but the replayer holds no keys: the responder waits for a transport message
    before the link counts as established (key confirmation), and none comes.
    """

    def __init__(self, initial: Mapping[bytes, int] = _EMPTY_GUARD, *,
                 pinned: Iterable[bytes] = (), max_peers: int = 4096):
        if max_peers < 1:
            raise ValueError("max_peers must be >= 1")
        self._max_peers = max_peers
        self._pinned = {bytes(key) for key in pinned}
        self.latest: dict[bytes, int] = {}  # least recently seen first
        for key, ts in initial.items():
            self.latest[bytes(key)] = int(ts)
        self._trim()

    def pin(self, key: bytes) -> None:
        """Never forget `key` (a contact)."""
        self._pinned.add(bytes(key))

    def unpin(self, key: bytes) -> None:
        self._pinned.discard(bytes(key))
        self._trim()

    def pinned_latest(self) -> dict[bytes, int]:
        """The timestamps of pinned keys: what the node keeps across restarts."""
        return {key: ts for key, ts in self.latest.items() if key in self._pinned}

    def check_and_update(self, peer_ed25519_key: bytes, ts: int) -> bool:
        """True (and remember `ts`) if `ts` is newer than anything seen from this peer."""
        last = self.latest.pop(peer_ed25519_key, None)
        if last is not None and ts <= last:
            self.latest[peer_ed25519_key] = last
            return False
        # Re-inserting moves the peer to the end: dict order is least recently seen first, so
        # a peer under a replay flood is the last to be forgotten.
        self.latest[peer_ed25519_key] = ts
        self._trim()
        return True

    def _trim(self) -> None:
        unpinned = len(self.latest) - len(self._pinned.intersection(self.latest))
        if unpinned <= self._max_peers:
            return
        for key in list(self.latest):
            if key not in self._pinned:
                del self.latest[key]
                unpinned -= 1
                if unpinned <= self._max_peers:
                    return


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _prologue(protocol_name: str) -> bytes:
    return PROLOGUE_PREFIX + protocol_name.encode("ascii")


def _encode_payload(fields: Mapping[str, object]) -> bytes:
    return pack(dict(fields))


def _decode_payload(data: bytes) -> dict[str, object]:
    """A handshake payload: a msgpack map with string keys. Unknown keys are ignored so later
    versions can add fields; everything is size-limited because it comes from a stranger."""
    obj = unpack(data, max_len=MAX_HANDSHAKE_FRAME, max_str=MAX_HANDSHAKE_FRAME,
                 max_bin=MAX_HANDSHAKE_FRAME, max_array=256, max_map=64,
                 what="handshake payload")
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise ProtocolError("handshake payload is not a map with string keys")
    return obj


def _revision(payload: Mapping[str, object]) -> int:
    """The protocol revision a handshake payload announces; 1 when it says nothing."""
    if F_REVISION not in payload:
        return 1
    return _get_int(payload, F_REVISION, 1, MAX_REVISION)


def _get_int(payload: Mapping[str, object], name: str, low: int, high: int) -> int:
    value = payload.get(name)
    # bool is an int subclass; msgpack never yields one for an int, but be exact anyway.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(f"handshake payload field {name!r} missing or out of range")
    return value


def _clean_reason(data: bytes) -> str:
    """A peer's close reason, made safe to log and show: no control characters, bounded."""
    text = data.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:MAX_CLOSE_REASON]


def _encode_reason(reason: str) -> bytes:
    # Cut on a character boundary so the peer never sees half a UTF-8 sequence.
    return reason.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode("utf-8")


class _State(Enum):
    INITIATOR_IK_SENT = auto()  # sent IK1; expecting IK2 or RETRY_XX
    INITIATOR_XX_SENT = auto()  # sent XX1; expecting XX2
    RESPONDER_START = auto()  # expecting XX1 or IK1
    RESPONDER_RETRY_SENT = auto()  # refused an IK1, sent RETRY_XX; expecting XX1
    RESPONDER_XX2_SENT = auto()  # expecting XX3
    # Sent IK2: keys are split, but an IK1 can be replayed by anyone, so the link counts as
    # established only once the initiator's first transport message proves it holds the keys.
    RESPONDER_IK_CONFIRMING = auto()
    TRANSPORT = auto()


# ---------------------------------------------------------------------------------------------
# Session
# ---------------------------------------------------------------------------------------------


class Session:
    """One end of one peer link. See the module docstring and docs/protocol.md."""

    def __init__(
        self,
        *,
        identity: Identity,
        initiator: bool,
        now: float,
        remote_key: bytes | None = None,
        ik_timestamp: int = 0,
        replay_guard: ReplayGuard | None = None,
        allow_xx: bool = True,
        config: SessionConfig = DEFAULT_CONFIG,
        random: Callable[[int], bytes] = os.urandom,
        psks: Sequence[bytes] = (),
        allow_plain: bool = True,
        plain_from: Callable[[bytes], bool] | None = None,
    ) -> None:
        """`psks`: the network PSKs. An initiator passes at most one (the network it dials
        in); a responder passes every network it answers for. `allow_plain`: whether a
        responder also takes handshakes without a PSK (`allow_xx` still rules plain XX);
        `plain_from`, if given, the Ed25519 keys it takes a plain IK from (checked before
        IK2 is sent, so anyone else learns nothing, not even that we are here)."""
        if remote_key is not None and not initiator:
            raise ValueError("only an initiator can expect a remote key")
        if len(psks) > (1 if initiator else MAX_NETWORK_PSKS):
            raise ValueError("too many network PSKs")
        if any(len(psk) != PSK_LEN for psk in psks):
            raise ValueError(f"a network PSK is {PSK_LEN} bytes")
        self._psks = tuple(bytes(psk) for psk in psks)
        self._allow_plain = allow_plain
        self._plain_from = plain_from
        self._used_psk: bytes | None = self._psks[0] if initiator and self._psks else None
        if not 0 <= ik_timestamp <= MAX_IK_TIMESTAMP:
            raise ValueError("ik_timestamp must be in 0..2**63-1")
        self._identity = identity
        self._initiator = initiator
        self._config = config
        self._random = random
        self._allow_xx = allow_xx
        # A private guard only protects this one session; a node passes its shared guard.
        self._replay_guard = replay_guard if replay_guard is not None else ReplayGuard()
        self._expected_key = None if remote_key is None else bytes(remote_key)

        self._decoder = FrameDecoder()
        self._out = bytearray()
        self._events: list[Event] = []
        self._now = now
        self._created = now
        self._closed = False

        # Handshake phase.
        self._hs: HandshakeState | None = None
        self._state: _State
        # Transport phase (set by _finish_handshake).
        self._remote_key: bytes | None = None
        self._remote_static: bytes | None = None
        self._handshake_hash: bytes | None = None
        self._pattern: str | None = None
        self._peer_revision = 1  # what the peer's handshake payload announced
        self._send: CipherState | None = None
        self._recv: CipherState | None = None
        self._send_count = 0
        self._recv_count = 0
        self._recv_rekey_every = config.rekey_every  # replaced by the peer's announced value
        self._last_sent = now
        self._last_received = now
        self._chunks = bytearray()  # reassembly of the record being received
        # Handshake hash of the latest completed handshake; each on-demand rekey chains on it.
        self._chain_hash = b""
        self._rekey_hs: HandshakeState | None = None  # our on-demand rekey awaiting its reply
        self._rekey_recv: CipherState | None = None  # peer's new key, used after its SWITCH
        self._rekey_started = now

        if not initiator:
            self._state = _State.RESPONDER_START
        elif self._expected_key is not None:
            # Local input: an invalid key raises IdentityError (a ValueError) right here.
            rs = x25519_from_ed25519_public(self._expected_key)
            self._hs = self._handshake(self._protocol("IK"), initiator=True, rs=rs,
                                       psk=self._used_psk)
            payload = {
                F_ED25519: identity.public_key,
                F_TIMESTAMP: ik_timestamp,
                F_REKEY: config.rekey_every,
                F_REVISION: self._config.revision,
            }
            self._queue_handshake(self._kind(KIND_IK1),
                                  self._hs.write_message(_encode_payload(payload)))
            self._state = _State.INITIATOR_IK_SENT
        else:
            self._start_xx()

    # -- public state -------------------------------------------------------------------------

    @property
    def established(self) -> bool:
        return self._state is _State.TRANSPORT and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def initiator(self) -> bool:
        return self._initiator

    @property
    def remote_key(self) -> bytes | None:
        """The peer's Ed25519 key once the handshake proved it; None before."""
        return self._remote_key

    @property
    def handshake_hash(self) -> bytes | None:
        """The first handshake's hash (channel binding); on-demand rekeys do not change it."""
        return self._handshake_hash

    @property
    def pattern(self) -> str | None:
        return self._pattern

    @property
    def peer_revision(self) -> int:
        """The protocol revision the peer's handshake announced (1 until it says otherwise)."""
        return self._peer_revision

    @property
    def pending_send_bytes(self) -> int:
        """Bytes queued and not yet taken by `data_to_send` (for the caller's backpressure)."""
        return len(self._out)

    # -- public API ---------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the peer; `b""` means the connection reached EOF (as in h11)."""
        self._now = now
        if self._closed:
            return []
        self._events = []
        if not data:
            if self._decoder.buffered:
                reason = "connection closed by peer in the middle of a frame"
            elif self._state is not _State.TRANSPORT:
                reason = "connection closed by peer during handshake"
            else:
                # An attacker can cut a TCP stream; only an authenticated CLOSE is a clean end.
                reason = "connection closed by peer without a close message"
            self._fail(reason, notify_peer=False)
            return self._take_events()
        try:
            self._decoder.receive_data(bytes(data))
            while not self._closed:
                frame = self._decoder.next_frame()
                if frame is None:
                    break
                if self._state in (_State.TRANSPORT, _State.RESPONDER_IK_CONFIRMING):
                    self._on_transport_frame(bytes(frame))
                else:
                    self._on_handshake_frame(bytes(frame))
        except (ProtocolError, ValueError) as exc:
            # NoiseError and IdentityError land here too: anything the peer got wrong.
            self._fail(str(exc) or type(exc).__name__)
        return self._take_events()

    def send_record(self, record: bytes, now: float) -> None:
        """Queue one app record (any bytes up to `config.max_record`) for the peer."""
        self._now = now
        self._check_usable()
        if len(record) > self._config.max_record:
            raise ValueError(
                f"record of {len(record)} bytes is over the limit of {self._config.max_record}"
            )
        if len(self._out) + _wire_size(len(record)) > self._config.max_send_buffer:
            raise LocalProtocolError("send buffer full: drain data_to_send() first")
        view = memoryview(record)
        # Full-size MORE chunks, then one FINAL chunk holding the rest (1..MAX_CHUNK bytes, or
        # nothing at all for an empty record).
        last = 0 if not record else (len(record) - 1) // MAX_CHUNK * MAX_CHUNK
        for start in range(0, last, MAX_CHUNK):
            self._send_transport(T_DATA_MORE, view[start : start + MAX_CHUNK])
        self._send_transport(T_DATA_FINAL, view[last:])

    def data_to_send(self) -> bytes:
        """Everything queued for the socket, in order; the queue is emptied."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def tick(self, now: float) -> list[Event]:
        """Run timers: handshake, idle and rekey timeouts, keepalives. Call about once a second."""
        self._now = now
        if self._closed:
            return []
        self._events = []
        cfg = self._config
        if self._state is not _State.TRANSPORT:
            if now - self._created >= cfg.handshake_timeout:
                self._fail("handshake timed out", notify_peer=False)
        elif now - self._last_received >= cfg.idle_timeout:
            self._fail(f"idle timeout: nothing received for {cfg.idle_timeout:g} s")
        elif (
            self._rekey_hs is not None or self._rekey_recv is not None
        ) and now - self._rekey_started >= cfg.rekey_timeout:
            self._fail("rekey timed out")
        elif now - self._last_sent >= cfg.keepalive_interval:
            self._send_transport(T_KEEPALIVE, b"")
        return self._take_events()

    def rekey_now(self, now: float) -> None:
        """Get fresh keys in both directions now: a Noise KK handshake inside the transport.

        Records keep flowing while it runs; nothing is lost or reordered. If a rekey (ours or
        the peer's) is already under way this does nothing: that one yields fresh keys too.
        """
        self._now = now
        self._check_usable()
        if self._rekey_hs is not None or self._rekey_recv is not None:
            return
        hs = self._new_kk(initiator=True)
        message = hs.write_message(_encode_payload({}))
        self._rekey_hs = hs
        self._rekey_started = now
        self._send_transport(T_REKEY_INIT, message)

    def close(self, reason: str) -> None:
        """Close the link; if established, queue an encrypted CLOSE carrying `reason`.

        No `Closed` event follows (the caller knows). Drain `data_to_send` once more, then close
        the socket.
        """
        if self._closed:
            return
        if self._state is _State.TRANSPORT:
            self._send_transport(T_CLOSE, _encode_reason(reason))
        self._closed = True

    # -- handshake ----------------------------------------------------------------------------

    def _handshake(self, protocol: str, *, initiator: bool, rs: bytes | None = None,
                   prologue_extra: bytes = b"", psk: bytes | None = None) -> HandshakeState:
        """A handshake with our static key; the prologue binds protocol name and version."""
        return HandshakeState(
            protocol,
            initiator,
            _prologue(protocol) + prologue_extra,
            s=self._identity.x25519_private,
            rs=rs,
            random=self._random,
            psks=() if psk is None else (psk,),
        )

    def _protocol(self, pattern: str) -> str:
        """The protocol name of `pattern` ("XX" or "IK") in this session's mode."""
        if self._used_psk is None:
            return XX_PROTOCOL if pattern == "XX" else IK_PROTOCOL
        return XX_PSK_PROTOCOL if pattern == "XX" else IK_PSK_PROTOCOL

    def _kind(self, kind: int) -> int:
        return kind | KIND_PSK if self._used_psk is not None else kind

    def _start_xx(self) -> None:
        self._hs = self._handshake(self._protocol("XX"), initiator=True, psk=self._used_psk)
        # A plain XX1's payload travels in clear text: it carries nothing but an empty map.
        # Under psk0 it is encrypted, which is what lets the responder check the PSK first.
        self._queue_handshake(self._kind(KIND_XX1),
                              self._hs.write_message(_encode_payload({})))
        self._state = _State.INITIATOR_XX_SENT

    def _first_read(self, pattern: str, message: bytes,
                    with_psk: bool) -> tuple[HandshakeState, bytes]:
        """Read a first handshake message: plainly, or with whichever network PSK opens it.

        Each wrong PSK fails at the first AEAD tag, before any static key is decrypted, so
        trying them all costs at most len(psks) reads and reveals nothing."""
        if not with_psk:
            if not self._allow_plain:
                raise ProtocolError("handshake without a network key refused")
            self._used_psk = None
            hs = self._handshake(self._protocol(pattern), initiator=False)
            return hs, hs.read_message(message)
        for psk in self._psks:
            self._used_psk = psk
            hs = self._handshake(self._protocol(pattern), initiator=False, psk=psk)
            try:
                return hs, hs.read_message(message)
            except NoiseError:
                continue
        self._used_psk = None
        raise ProtocolError("handshake under no network key of ours")

    def _on_handshake_frame(self, frame: bytes) -> None:
        if len(frame) > MAX_HANDSHAKE_FRAME:
            raise ProtocolError(f"handshake frame of {len(frame)} bytes is too large")
        kind, message = frame[0], frame[1:]
        state = self._state
        base, with_psk = kind & ~KIND_PSK, bool(kind & KIND_PSK)
        if state is _State.RESPONDER_START and base == KIND_IK1:
            self._responder_ik1(message, with_psk=with_psk)
        elif state in (_State.RESPONDER_START, _State.RESPONDER_RETRY_SENT) and base == KIND_XX1:
            self._responder_xx1(message, with_psk=with_psk)
        elif with_psk == (self._used_psk is not None) or kind == KIND_RETRY_XX:
            self._on_mode_frame(base, message)
        else:
            raise ProtocolError("handshake frame of the other mode (network or plain)")

    def _on_mode_frame(self, kind: int, message: bytes) -> None:
        """A later handshake frame, its kind stripped of the psk bit (which matched)."""
        state = self._state
        if state is _State.RESPONDER_XX2_SENT and kind == KIND_XX3:
            self._responder_xx3(message)
        elif state is _State.INITIATOR_IK_SENT and kind == KIND_IK2:
            self._initiator_ik2(message)
        elif state is _State.INITIATOR_IK_SENT and kind == KIND_RETRY_XX:
            if message:
                raise ProtocolError("retry-with-XX frame carries unexpected data")
            self._start_xx()  # only once: in INITIATOR_XX_SENT a second retry is an error
        elif state is _State.INITIATOR_XX_SENT and kind == KIND_XX2:
            self._initiator_xx2(message)
        else:
            raise ProtocolError("unexpected handshake frame kind at this point")

    def _responder_ik1(self, message: bytes, *, with_psk: bool) -> None:
        try:
            hs, plaintext = self._first_read("IK", message, with_psk)
            payload = _decode_payload(plaintext)
            remote = self._proven_identity(payload, hs.remote_static)
            if not with_psk and self._plain_from is not None and not self._plain_from(remote):
                raise ProtocolError("plain IK from a key we do not take it from")
            ts = _get_int(payload, F_TIMESTAMP, 0, MAX_IK_TIMESTAMP)
            peer_rekey = _get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
            # Checked last, so only an authenticated first message can advance the guard.
            if not self._replay_guard.check_and_update(remote, ts):
                raise ProtocolError("IK timestamp not newer than the last one (replayed?)")
        except (ProtocolError, ValueError) as exc:
            # The initiator may hold an old key of ours, or this is a replay: let it run XX,
            # which proves both keys afresh, unless we only take peers that already know us,
            # or take no plain handshake at all (a relay only for networks: not a byte back).
            retry = bool(self._psks) if with_psk else self._allow_plain and self._allow_xx
            if not retry:
                raise ProtocolError(f"IK handshake refused ({exc}); XX not allowed") from None
            self._used_psk = None
            self._queue_handshake(KIND_RETRY_XX, b"")
            self._state = _State.RESPONDER_RETRY_SENT
            return
        reply = hs.write_message(_encode_payload({F_REKEY: self._config.rekey_every,
                                                  F_REVISION: self._config.revision}))
        self._queue_handshake(self._kind(KIND_IK2), reply)
        self._finish_handshake(hs, remote, "IK", peer_rekey, _revision(payload),
                               confirmed=False)

    def _responder_xx1(self, message: bytes, *, with_psk: bool) -> None:
        # Inside a network, XX is how members first meet; the PSK already kept outsiders out.
        if not with_psk and not self._allow_xx:
            raise ProtocolError("XX handshake refused: only peers that know our key may connect")
        hs, plaintext = self._first_read("XX", message, with_psk)
        _decode_payload(plaintext)  # must be a map; nothing in it is used yet
        payload = {F_ED25519: self._identity.public_key, F_REKEY: self._config.rekey_every,
                   F_REVISION: self._config.revision}
        self._queue_handshake(self._kind(KIND_XX2), hs.write_message(_encode_payload(payload)))
        self._hs = hs
        self._state = _State.RESPONDER_XX2_SENT

    def _responder_xx3(self, message: bytes) -> None:
        hs = self._hs
        assert hs is not None  # set with RESPONDER_XX2_SENT
        payload = _decode_payload(hs.read_message(message))
        remote = self._proven_identity(payload, hs.remote_static)
        peer_rekey = _get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
        self._finish_handshake(hs, remote, "XX", peer_rekey, _revision(payload))

    def _initiator_ik2(self, message: bytes) -> None:
        hs = self._hs
        assert hs is not None and self._expected_key is not None  # set with INITIATOR_IK_SENT
        payload = _decode_payload(hs.read_message(message))
        peer_rekey = _get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
        # IK's se/es DHs prove the responder holds the static key we derived from expected.
        self._finish_handshake(hs, self._expected_key, "IK", peer_rekey, _revision(payload))
        # Key confirmation: the responder waits for a transport message before it trusts the
        # link (a replayed IK1 never gets one), so send one now even with nothing to say.
        self._send_transport(T_KEEPALIVE, b"")

    def _initiator_xx2(self, message: bytes) -> None:
        hs = self._hs
        assert hs is not None  # set with INITIATOR_XX_SENT
        payload = _decode_payload(hs.read_message(message))
        remote = self._proven_identity(payload, hs.remote_static)
        peer_rekey = _get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
        expected = self._expected_key
        if expected is not None and not hmac.compare_digest(remote, expected):
            # Stop before XX3: our identity is never revealed to a key we did not ask for.
            self._events.append(KeyMismatch(expected=expected, presented=remote))
            raise ProtocolError("peer at this address presented a different key")
        payload_out = {F_ED25519: self._identity.public_key, F_REKEY: self._config.rekey_every,
                       F_REVISION: self._config.revision}
        self._queue_handshake(self._kind(KIND_XX3), hs.write_message(_encode_payload(payload_out)))
        self._finish_handshake(hs, remote, "XX", peer_rekey, _revision(payload))

    def _proven_identity(self, payload: Mapping[str, object], remote_static: bytes | None) -> bytes:
        """The Ed25519 key in `payload`, if it converts to the static key Noise authenticated."""
        key = payload.get(F_ED25519)
        if not isinstance(key, bytes) or len(key) != 32:
            raise ProtocolError("handshake payload lacks a 32-byte ed25519 key")
        try:
            converted = x25519_from_ed25519_public(key)
        except IdentityError:
            raise ProtocolError("handshake payload carries an invalid ed25519 key") from None
        if remote_static is None or not hmac.compare_digest(converted, remote_static):
            raise ProtocolError("ed25519 key does not match the Noise static key")
        return key

    def _finish_handshake(
        self, hs: HandshakeState, remote: bytes, pattern: str, peer_rekey: int,
        revision: int, *, confirmed: bool = True,
    ) -> None:
        c1, c2 = hs.split()
        self._send, self._recv = (c1, c2) if self._initiator else (c2, c1)
        self._recv_rekey_every = peer_rekey
        self._remote_key = remote
        self._remote_static = hs.remote_static
        self._handshake_hash = self._chain_hash = hs.handshake_hash
        self._pattern = pattern
        self._hs = None
        self._last_received = self._now
        self._last_sent = self._now
        self._peer_revision = revision
        if confirmed:
            self._state = _State.TRANSPORT
            self._establish()
        else:
            self._state = _State.RESPONDER_IK_CONFIRMING

    def _establish(self) -> None:
        """Report Established, or tell a peer of too old a revision why we close (in words its
        user can read: an older peer shows a CLOSE reason as it is)."""
        assert self._remote_key is not None and self._handshake_hash is not None
        needed = self._config.min_revision
        if self._peer_revision < needed:
            self._fail(f"protocol revision {self._peer_revision} is too old: this peer needs"
                       f" revision {needed} or later (update p2pchat)")
            return
        assert self._pattern is not None
        self._events.append(Established(self._remote_key, self._handshake_hash, self._pattern,
                                        self._used_psk, self._peer_revision))

    # -- transport ----------------------------------------------------------------------------

    def _send_transport(self, inner: int, data: bytes | memoryview) -> None:
        send = self._send
        assert send is not None  # only called in TRANSPORT
        # Bulk path: the chunk is copied once (behind its type byte), and the ciphertext once
        # (into _out), not again through a slice or a framed copy.
        message = send.encrypt_with_ad(b"", bytes((inner,)) + data)
        self._out += frame_header(len(message))
        self._out += message
        self._send_count += 1
        if self._send_count >= self._config.rekey_every:
            # Lock-step: the peer rekeys its receiving key after the same message.
            send.rekey()
            self._send_count = 0
        self._last_sent = self._now

    def _on_transport_frame(self, frame: bytes) -> None:
        recv = self._recv
        assert recv is not None
        plaintext = recv.decrypt_with_ad(b"", frame)  # a dropped/replayed/reordered frame fails
        if self._state is _State.RESPONDER_IK_CONFIRMING:
            self._state = _State.TRANSPORT
            self._establish()
            if self._closed:
                return
        self._recv_count += 1
        if self._recv_count >= self._recv_rekey_every:
            recv.rekey()
            self._recv_count = 0
        self._last_received = self._now
        if not plaintext:
            raise ProtocolError("empty transport message")
        inner, data = plaintext[0], plaintext[1:]
        if inner in (T_DATA_MORE, T_DATA_FINAL):
            self._on_chunk(data, final=inner == T_DATA_FINAL)
        elif inner == T_KEEPALIVE:
            pass  # receiving it already reset the idle timer; its data (padding) is ignored
        elif inner == T_CLOSE:
            self._fail(f"closed by peer: {_clean_reason(data)}", notify_peer=False)
        elif inner == T_REKEY_INIT:
            self._on_rekey_init(data)
        elif inner == T_REKEY_REPLY:
            self._on_rekey_reply(data)
        elif inner == T_REKEY_SWITCH:
            self._on_rekey_switch()
        else:
            raise ProtocolError(f"unknown transport message type 0x{inner:02x}")

    def _on_chunk(self, data: bytes, *, final: bool) -> None:
        if not final and not data:
            raise ProtocolError("empty record chunk")  # would let a peer spin us for free
        if len(self._chunks) + len(data) > self._config.max_record:
            raise ProtocolError(f"record over the limit of {self._config.max_record} bytes")
        if final:
            # A record in one chunk (all of a chat's and a relay's) is taken as it is; a longer
            # one is copied out of the reassembly buffer once.
            if self._chunks:
                self._chunks += data
                record = bytes(self._chunks)
                self._chunks.clear()
            else:
                record = data
            self._events.append(RecordReceived(record))
        else:
            self._chunks += data

    # -- on-demand rekey ----------------------------------------------------------------------
    #
    # A (rekey initiator)                       B (rekey responder)
    #   REKEY_INIT  (old A->B key)     ->
    #                                  <-       REKEY_REPLY (old B->A key); B sends with new key
    #   A receives with new key;
    #   REKEY_SWITCH (old A->B key)    ->       B receives with new key after this
    #   A sends with new key
    #
    # Both sides asking at once: the session's original Noise initiator wins. Its peer drops its
    # own attempt and answers; the winner ignores the loser's REKEY_INIT.

    def _new_kk(self, *, initiator: bool) -> HandshakeState:
        assert self._remote_static is not None
        # Chaining the previous handshake hash ties the new keys to this very link.
        return self._handshake(KK_PROTOCOL, initiator=initiator, rs=self._remote_static,
                               prologue_extra=self._chain_hash)

    def _on_rekey_init(self, message: bytes) -> None:
        if self._rekey_recv is not None:
            raise ProtocolError("rekey started before the previous one finished")
        if self._rekey_hs is not None:
            if self._initiator:
                return  # our rekey wins; the peer abandons its own and answers ours
            self._rekey_hs = None  # theirs wins; answering it renews both directions anyway
        hs = self._new_kk(initiator=False)
        _decode_payload(hs.read_message(message))
        reply = hs.write_message(_encode_payload({}))
        c1, c2 = hs.split()
        self._send_transport(T_REKEY_REPLY, reply)  # last message under the old sending key
        self._send, self._send_count = c2, 0
        self._rekey_recv = c1  # the peer switches after its REKEY_SWITCH
        self._rekey_started = self._now
        self._chain_hash = hs.handshake_hash

    def _on_rekey_reply(self, message: bytes) -> None:
        hs = self._rekey_hs
        if hs is None:
            raise ProtocolError("rekey reply without a rekey in progress")
        _decode_payload(hs.read_message(message))
        c1, c2 = hs.split()
        self._rekey_hs = None
        self._recv, self._recv_count = c2, 0  # the peer sent its reply as its last old message
        self._send_transport(T_REKEY_SWITCH, b"")  # last message under the old sending key
        self._send, self._send_count = c1, 0
        self._chain_hash = hs.handshake_hash

    def _on_rekey_switch(self) -> None:
        if self._rekey_recv is None:
            raise ProtocolError("rekey switch without a rekey in progress")
        self._recv, self._recv_count = self._rekey_recv, 0
        self._rekey_recv = None

    # -- plumbing -----------------------------------------------------------------------------

    def _queue_handshake(self, kind: int, message: bytes) -> None:
        self._out += encode_frame(bytes((kind,)) + message)
        self._last_sent = self._now

    def _check_usable(self) -> None:
        if self._closed:
            raise LocalProtocolError("session is closed")
        if self._state is not _State.TRANSPORT:
            raise LocalProtocolError("session not established yet")

    def _fail(self, reason: str, *, notify_peer: bool = True) -> None:
        """Close because of `reason`, tell the peer why if we can, and report `Closed`."""
        if self._closed:
            return
        if notify_peer and self._state is _State.TRANSPORT:
            # Best effort: the only way this can fail (nonce exhausted) must not turn a clean
            # Closed event into an exception.
            with contextlib.suppress(ProtocolError):
                self._send_transport(T_CLOSE, _encode_reason(reason))
        self._closed = True
        self._hs = self._rekey_hs = None
        self._chunks.clear()
        self._events.append(Closed(reason))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
