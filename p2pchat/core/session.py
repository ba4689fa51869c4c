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

The session composes its two phases, as h11 keeps its connection, state and events apart:
`core/handshake.py` runs the handshake, `core/transport.py` the established transport, and
`core/session_wire.py` holds what they share (the wire constants, the configuration, the
events); this module holds the connection logic: which phase a frame goes to, the timers, and
closing.

Protocol errors never escape `receive_data`: they turn into a `Closed` event, and once closed the
session ignores all further input. Only local misuse (sending before the handshake finished, a
record over the limit, a full send buffer) raises.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from enum import Enum, auto

from p2pchat.core.errors import ProtocolError
from p2pchat.core.framing import MAX_CHUNK, FrameDecoder, encode_frame
from p2pchat.core.handshake import Handshake, HandshakeDone
from p2pchat.core.identity import Identity
from p2pchat.core.replay_guard import ReplayGuard
from p2pchat.core.session_wire import (
    DEFAULT_CONFIG,
    IK_PROTOCOL,
    IK_PSK_PROTOCOL,
    KIND_IK1,
    KIND_IK2,
    KIND_PSK,
    KIND_RETRY_XX,
    KIND_XX1,
    KIND_XX2,
    KIND_XX3,
    KK_PROTOCOL,
    MAX_IK_TIMESTAMP,
    MAX_NETWORK_PSKS,
    MIN_REVISION,
    PROLOGUE_PREFIX,
    PROTOCOL_REVISION,
    PSK_LEN,
    T_CLOSE,
    T_DATA_FINAL,
    T_DATA_MORE,
    T_KEEPALIVE,
    T_REKEY_INIT,
    T_REKEY_REPLY,
    T_REKEY_SWITCH,
    XX_PROTOCOL,
    XX_PSK_PROTOCOL,
    Closed,
    Established,
    Event,
    KeyMismatch,
    LocalProtocolError,
    RecordReceived,
    SessionConfig,
    clean_reason,
    decode_payload,
    encode_reason,
    wire_size,
)
from p2pchat.core.transport import Transport

__all__ = [
    "IK_PROTOCOL",
    "IK_PSK_PROTOCOL",
    "KIND_IK1",
    "KIND_IK2",
    "KIND_PSK",
    "KIND_RETRY_XX",
    "KIND_XX1",
    "KIND_XX2",
    "KIND_XX3",
    "KK_PROTOCOL",
    "MAX_CHUNK",
    "MAX_IK_TIMESTAMP",
    "MIN_REVISION",
    "PROLOGUE_PREFIX",
    "PROTOCOL_REVISION",
    "T_DATA_FINAL",
    "T_DATA_MORE",
    "T_KEEPALIVE",
    "T_REKEY_INIT",
    "T_REKEY_REPLY",
    "T_REKEY_SWITCH",
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

# Test helpers and older callers read the handshake payload decoder here.
_decode_payload = decode_payload


class _Phase(Enum):
    HANDSHAKE = auto()
    # A responder's IK: keys are split, but an IK1 can be replayed by anyone, so the link
    # counts as established only once the initiator's first transport message proves it holds
    # the keys.
    CONFIRMING = auto()
    TRANSPORT = auto()


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
        if not 0 <= ik_timestamp <= MAX_IK_TIMESTAMP:
            raise ValueError("ik_timestamp must be in 0..2**63-1")
        self._identity = identity
        self._initiator = initiator
        self._config = config
        self._random = random

        self._decoder = FrameDecoder()
        self._out = bytearray()
        self._events: list[Event] = []
        self._now = now
        self._created = now
        self._closed = False
        self._phase = _Phase.HANDSHAKE
        # Set once the handshake is done (_start_transport).
        self._transport: Transport | None = None
        self._remote_key: bytes | None = None
        self._handshake_hash: bytes | None = None
        self._pattern: str | None = None
        self._peer_revision = 1  # what the peer's handshake payload announced
        self._used_psk: bytes | None = None
        self._handshake: Handshake | None = Handshake(
            identity=identity, initiator=initiator, queue=self._queue_handshake,
            emit=self._emit,
            remote_key=None if remote_key is None else bytes(remote_key),
            ik_timestamp=ik_timestamp,
            # A private guard only protects this one session; a node passes its shared guard.
            replay_guard=replay_guard if replay_guard is not None else ReplayGuard(),
            allow_xx=allow_xx, config=config, random=random,
            psks=tuple(bytes(psk) for psk in psks), allow_plain=allow_plain,
            plain_from=plain_from,
        )

    # -- public state -------------------------------------------------------------------------

    @property
    def established(self) -> bool:
        return self._phase is _Phase.TRANSPORT and not self._closed

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
            elif self._phase is not _Phase.TRANSPORT:
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
                if self._handshake is None:
                    self._on_transport_frame(bytes(frame))
                else:
                    done = self._handshake.receive(bytes(frame))
                    if done is not None:
                        self._start_transport(done)
        except (ProtocolError, ValueError) as exc:
            # NoiseError and IdentityError land here too: anything the peer got wrong.
            self._fail(str(exc) or "malformed data")
        return self._take_events()

    def send_record(self, record: bytes, now: float) -> None:
        """Queue one app record (any bytes up to `config.max_record`) for the peer."""
        self._now = now
        self._check_usable()
        if len(record) > self._config.max_record:
            raise ValueError(
                f"record of {len(record)} bytes is over the limit of {self._config.max_record}"
            )
        if len(self._out) + wire_size(len(record)) > self._config.max_send_buffer:
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
        transport = self._transport
        if self._phase is not _Phase.TRANSPORT or transport is None:
            if now - self._created >= cfg.handshake_timeout:
                self._fail("handshake timed out", notify_peer=False)
        elif now - transport.last_received >= cfg.idle_timeout:
            self._fail(f"idle timeout: nothing received for {cfg.idle_timeout:g} s")
        elif transport.rekeying and now - transport.rekey_started >= cfg.rekey_timeout:
            self._fail("rekey timed out")
        elif now - transport.last_sent >= cfg.keepalive_interval:
            self._send_transport(T_KEEPALIVE, b"")
        return self._take_events()

    def rekey_now(self, now: float) -> None:
        """Get fresh keys in both directions now: a Noise KK handshake inside the transport.

        Records keep flowing while it runs; nothing is lost or reordered. If a rekey (ours or
        the peer's) is already under way this does nothing: that one yields fresh keys too.
        """
        self._now = now
        self._check_usable()
        assert self._transport is not None  # usable: in TRANSPORT
        self._transport.rekey_now(now)

    def close(self, reason: str) -> None:
        """Close the link; if established, queue an encrypted CLOSE carrying `reason`.

        No `Closed` event follows (the caller knows). Drain `data_to_send` once more, then close
        the socket.
        """
        if self._closed:
            return
        if self._phase is _Phase.TRANSPORT:
            self._send_transport(T_CLOSE, encode_reason(reason))
        self._closed = True

    # -- from the handshake to the transport --------------------------------------------------

    def _start_transport(self, done: HandshakeDone) -> None:
        self._handshake = None
        self._transport = Transport(done, initiator=self._initiator, identity=self._identity,
                                    random=self._random, config=self._config, out=self._out,
                                    now=self._now)
        self._remote_key = done.remote_key
        self._handshake_hash = done.handshake_hash
        self._pattern = done.pattern
        self._peer_revision = done.revision
        self._used_psk = done.psk
        if done.confirmed:
            self._phase = _Phase.TRANSPORT
            self._establish()
        else:
            self._phase = _Phase.CONFIRMING
        if done.send_confirmation:
            # Key confirmation: the responder waits for a transport message before it trusts
            # the link (a replayed IK1 never gets one), so send one now even with nothing to say.
            self._send_transport(T_KEEPALIVE, b"")

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
        transport = self._transport
        assert transport is not None  # only called once the handshake is done
        transport.send(inner, data, self._now)

    def _on_transport_frame(self, frame: bytes) -> None:
        transport = self._transport
        assert transport is not None
        plaintext = transport.open(frame, self._now)
        if self._phase is _Phase.CONFIRMING:
            self._phase = _Phase.TRANSPORT
            self._establish()
            if self._closed:
                return
        if not plaintext:
            raise ProtocolError("empty transport message")
        inner = plaintext[0]
        if inner in (T_DATA_MORE, T_DATA_FINAL):
            # A view: a record's piece is copied once, into the record, not through a slice.
            with memoryview(plaintext) as view:
                record = transport.chunk(view[1:], final=inner == T_DATA_FINAL)
            if record is not None:
                self._events.append(RecordReceived(record))
            return
        data = plaintext[1:]
        if inner == T_KEEPALIVE:
            pass  # receiving it already reset the idle timer; its data (padding) is ignored
        elif inner == T_CLOSE:
            self._fail(f"closed by peer: {clean_reason(data)}", notify_peer=False)
        elif inner == T_REKEY_INIT:
            transport.on_rekey_init(data, self._now)
        elif inner == T_REKEY_REPLY:
            transport.on_rekey_reply(data, self._now)
        elif inner == T_REKEY_SWITCH:
            transport.on_rekey_switch()
        else:
            raise ProtocolError(f"unknown transport message type 0x{inner:02x}")

    # -- plumbing -----------------------------------------------------------------------------

    def _queue_handshake(self, kind: int, message: bytes) -> None:
        self._out += encode_frame(bytes((kind,)) + message)

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _check_usable(self) -> None:
        if self._closed:
            raise LocalProtocolError("session is closed")
        if self._phase is not _Phase.TRANSPORT:
            raise LocalProtocolError("session not established yet")

    def _fail(self, reason: str, *, notify_peer: bool = True) -> None:
        """Close because of `reason`, tell the peer why if we can, and report `Closed`."""
        if self._closed:
            return
        if notify_peer and self._phase is _Phase.TRANSPORT:
            # Best effort: the only way this can fail (nonce exhausted) must not turn a clean
            # Closed event into an exception.
            with contextlib.suppress(ProtocolError):
                self._send_transport(T_CLOSE, encode_reason(reason))
        self._closed = True
        if self._handshake is not None:
            self._handshake.abandon()
        if self._transport is not None:
            self._transport.abandon()
        self._events.append(Closed(reason))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
