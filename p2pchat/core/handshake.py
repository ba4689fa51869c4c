"""The first phase of a session: one Noise handshake, XX or IK, plain or under a network PSK.

A `Handshake` is fed the handshake frames that arrive (`receive`) and queues its own through
the `queue` callable it is built with (a kind byte and a Noise message); when the pattern
completes it returns a `HandshakeDone`, the keys and what the peer proved, from which
`core/transport.py` takes over. It never sees a transport frame, a clock or a socket.
Anything a peer gets wrong raises `ProtocolError` (or another `ValueError`); `core/session.py`
turns that into a `Closed` event.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto

from p2pchat.core.errors import NoiseError, ProtocolError
from p2pchat.core.identity import Identity, IdentityError, x25519_from_ed25519_public
from p2pchat.core.noise import CipherState, HandshakeState
from p2pchat.core.replay_guard import ReplayGuard
from p2pchat.core.session_wire import (
    F_ED25519,
    F_REKEY,
    F_REVISION,
    F_TIMESTAMP,
    IK_PROTOCOL,
    IK_PSK_PROTOCOL,
    KIND_IK1,
    KIND_IK2,
    KIND_PSK,
    KIND_RETRY_XX,
    KIND_XX1,
    KIND_XX2,
    KIND_XX3,
    MAX_HANDSHAKE_FRAME,
    MAX_IK_TIMESTAMP,
    MAX_REKEY_EVERY,
    XX_PROTOCOL,
    XX_PSK_PROTOCOL,
    Event,
    KeyMismatch,
    SessionConfig,
    decode_payload,
    encode_payload,
    get_int,
    prologue,
    revision,
)

QueueFrame = Callable[[int, bytes], None]  # (kind, Noise message): one handshake frame out


class _State(Enum):
    INITIATOR_IK_SENT = auto()  # sent IK1; expecting IK2 or RETRY_XX
    INITIATOR_XX_SENT = auto()  # sent XX1; expecting XX2
    RESPONDER_START = auto()  # expecting XX1 or IK1
    RESPONDER_RETRY_SENT = auto()  # refused an IK1, sent RETRY_XX; expecting XX1
    RESPONDER_XX2_SENT = auto()  # expecting XX3


@dataclass(frozen=True)
class HandshakeDone:
    """A completed handshake: the transport's keys and what the peer proved and announced."""

    send: CipherState = field(repr=False)
    recv: CipherState = field(repr=False)
    remote_key: bytes  # the peer's Ed25519 key
    remote_static: bytes  # its X25519 form, as Noise authenticated it (for rekeys)
    handshake_hash: bytes
    pattern: str  # "XX" or "IK"
    peer_rekey: int  # after how many messages the peer rekeys its sending key
    revision: int  # the protocol revision the peer announced
    psk: bytes | None = field(repr=False)  # the network PSK used, None for a plain handshake
    # A responder's IK: an IK1 can be replayed by anyone, so the link counts as established
    # only once the initiator's first transport message proves it holds the keys.
    confirmed: bool = True
    # An initiator's IK: send one transport message at once, even with nothing to say, so the
    # responder gets its key confirmation.
    send_confirmation: bool = False


def noise_handshake(identity: Identity, random: Callable[[int], bytes], protocol: str, *,
                    initiator: bool, rs: bytes | None = None, prologue_extra: bytes = b"",
                    psk: bytes | None = None) -> HandshakeState:
    """A handshake with our static key; the prologue binds protocol name and version."""
    return HandshakeState(
        protocol,
        initiator,
        prologue(protocol) + prologue_extra,
        s=identity.x25519_private,
        rs=rs,
        random=random,
        psks=() if psk is None else (psk,),
    )


class Handshake:
    """One handshake's state machine (module docstring; docs/protocol.md section 4)."""

    def __init__(
        self,
        *,
        identity: Identity,
        initiator: bool,
        queue: QueueFrame,
        emit: Callable[[Event], None],
        remote_key: bytes | None,
        ik_timestamp: int,
        replay_guard: ReplayGuard,
        allow_xx: bool,
        config: SessionConfig,
        random: Callable[[int], bytes],
        psks: tuple[bytes, ...],
        allow_plain: bool,
        plain_from: Callable[[bytes], bool] | None,
    ) -> None:
        """Queues the initiator's first message at once; the arguments are `Session`'s."""
        self._identity = identity
        self._initiator = initiator
        self._queue = queue
        self._emit = emit
        self._config = config
        self._random = random
        self._allow_xx = allow_xx
        self._replay_guard = replay_guard
        self._expected_key = remote_key
        self._psks: Sequence[bytes] = psks
        self._allow_plain = allow_plain
        self._plain_from = plain_from
        self._used_psk: bytes | None = psks[0] if initiator and psks else None
        self._hs: HandshakeState | None = None
        self._state: _State

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
            self._queue(self._kind(KIND_IK1), self._hs.write_message(encode_payload(payload)))
            self._state = _State.INITIATOR_IK_SENT
        else:
            self._start_xx()

    def receive(self, frame: bytes) -> HandshakeDone | None:
        """One handshake frame from the peer; the result once the handshake is complete."""
        if len(frame) > MAX_HANDSHAKE_FRAME:
            raise ProtocolError(f"handshake frame of {len(frame)} bytes is too large")
        kind, message = frame[0], frame[1:]
        state = self._state
        base, with_psk = kind & ~KIND_PSK, bool(kind & KIND_PSK)
        if state is _State.RESPONDER_START and base == KIND_IK1:
            return self._responder_ik1(message, with_psk=with_psk)
        if state in (_State.RESPONDER_START, _State.RESPONDER_RETRY_SENT) and base == KIND_XX1:
            self._responder_xx1(message, with_psk=with_psk)
            return None
        if with_psk == (self._used_psk is not None) or kind == KIND_RETRY_XX:
            return self._on_mode_frame(base, message)
        raise ProtocolError("handshake frame of the other mode (network or plain)")

    def abandon(self) -> None:
        """The session closed: drop the handshake's keys."""
        self._hs = None

    # -- the patterns -------------------------------------------------------------------------

    def _handshake(self, protocol: str, *, initiator: bool, rs: bytes | None = None,
                   psk: bytes | None = None) -> HandshakeState:
        return noise_handshake(self._identity, self._random, protocol, initiator=initiator,
                               rs=rs, psk=psk)

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
        self._queue(self._kind(KIND_XX1), self._hs.write_message(encode_payload({})))
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

    def _on_mode_frame(self, kind: int, message: bytes) -> HandshakeDone | None:
        """A later handshake frame, its kind stripped of the psk bit (which matched)."""
        state = self._state
        if state is _State.RESPONDER_XX2_SENT and kind == KIND_XX3:
            return self._responder_xx3(message)
        if state is _State.INITIATOR_IK_SENT and kind == KIND_IK2:
            return self._initiator_ik2(message)
        if state is _State.INITIATOR_IK_SENT and kind == KIND_RETRY_XX:
            if message:
                raise ProtocolError("retry-with-XX frame carries unexpected data")
            self._start_xx()  # only once: in INITIATOR_XX_SENT a second retry is an error
            return None
        if state is _State.INITIATOR_XX_SENT and kind == KIND_XX2:
            return self._initiator_xx2(message)
        raise ProtocolError("unexpected handshake frame kind at this point")

    def _responder_ik1(self, message: bytes, *, with_psk: bool) -> HandshakeDone | None:
        try:
            hs, plaintext = self._first_read("IK", message, with_psk)
            payload = decode_payload(plaintext)
            remote = self._proven_identity(payload, hs.remote_static)
            if not with_psk and self._plain_from is not None and not self._plain_from(remote):
                raise ProtocolError("plain IK from a key we do not take it from")
            ts = get_int(payload, F_TIMESTAMP, 0, MAX_IK_TIMESTAMP)
            peer_rekey = get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
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
            self._queue(KIND_RETRY_XX, b"")
            self._state = _State.RESPONDER_RETRY_SENT
            return None
        reply = hs.write_message(encode_payload({F_REKEY: self._config.rekey_every,
                                                 F_REVISION: self._config.revision}))
        self._queue(self._kind(KIND_IK2), reply)
        return self._done(hs, remote, "IK", peer_rekey, revision(payload), confirmed=False)

    def _responder_xx1(self, message: bytes, *, with_psk: bool) -> None:
        # Inside a network, XX is how members first meet; the PSK already kept outsiders out.
        if not with_psk and not self._allow_xx:
            raise ProtocolError("XX handshake refused: only peers that know our key may connect")
        hs, plaintext = self._first_read("XX", message, with_psk)
        decode_payload(plaintext)  # must be a map; nothing in it is used yet
        payload = {F_ED25519: self._identity.public_key, F_REKEY: self._config.rekey_every,
                   F_REVISION: self._config.revision}
        self._queue(self._kind(KIND_XX2), hs.write_message(encode_payload(payload)))
        self._hs = hs
        self._state = _State.RESPONDER_XX2_SENT

    def _responder_xx3(self, message: bytes) -> HandshakeDone:
        hs = self._hs
        assert hs is not None  # set with RESPONDER_XX2_SENT
        payload = decode_payload(hs.read_message(message))
        remote = self._proven_identity(payload, hs.remote_static)
        peer_rekey = get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
        return self._done(hs, remote, "XX", peer_rekey, revision(payload))

    def _initiator_ik2(self, message: bytes) -> HandshakeDone:
        hs = self._hs
        assert hs is not None and self._expected_key is not None  # set with INITIATOR_IK_SENT
        payload = decode_payload(hs.read_message(message))
        peer_rekey = get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
        # IK's se/es DHs prove the responder holds the static key we derived from expected.
        return self._done(hs, self._expected_key, "IK", peer_rekey, revision(payload),
                          send_confirmation=True)

    def _initiator_xx2(self, message: bytes) -> HandshakeDone:
        hs = self._hs
        assert hs is not None  # set with INITIATOR_XX_SENT
        payload = decode_payload(hs.read_message(message))
        remote = self._proven_identity(payload, hs.remote_static)
        peer_rekey = get_int(payload, F_REKEY, 1, MAX_REKEY_EVERY)
        expected = self._expected_key
        if expected is not None and not hmac.compare_digest(remote, expected):
            # Stop before XX3: our identity is never revealed to a key we did not ask for.
            self._emit(KeyMismatch(expected=expected, presented=remote))
            raise ProtocolError("peer at this address presented a different key")
        payload_out = {F_ED25519: self._identity.public_key, F_REKEY: self._config.rekey_every,
                       F_REVISION: self._config.revision}
        self._queue(self._kind(KIND_XX3), hs.write_message(encode_payload(payload_out)))
        return self._done(hs, remote, "XX", peer_rekey, revision(payload))

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

    def _done(self, hs: HandshakeState, remote: bytes, pattern: str, peer_rekey: int,
              peer_revision: int, *, confirmed: bool = True,
              send_confirmation: bool = False) -> HandshakeDone:
        c1, c2 = hs.split()
        send, recv = (c1, c2) if self._initiator else (c2, c1)
        assert hs.remote_static is not None  # every pattern here authenticates it
        self._hs = None
        return HandshakeDone(send, recv, remote, hs.remote_static, hs.handshake_hash, pattern,
                             peer_rekey, peer_revision, self._used_psk, confirmed,
                             send_confirmation)
