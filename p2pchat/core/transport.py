"""The second phase of a session: the established transport of one link.

A `Transport` holds the keys a `HandshakeDone` handed over and everything that runs on them:
sealing one transport message per frame into the session's output (`send`), opening the frames
that arrive (`open`), reassembling records from their chunks (`chunk`), and the on-demand rekey,
a Noise KK handshake inside the transport. Its clocks are the last times it sent and received;
`core/session.py` decides what they mean (keepalive, idle and rekey timeouts).
"""

from __future__ import annotations

from collections.abc import Callable

from p2pchat.core.errors import ProtocolError
from p2pchat.core.framing import TAG_LEN, frame_header
from p2pchat.core.handshake import HandshakeDone, noise_handshake
from p2pchat.core.identity import Identity
from p2pchat.core.noise import CipherState, HandshakeState
from p2pchat.core.session_wire import (
    KK_PROTOCOL,
    T_REKEY_INIT,
    T_REKEY_REPLY,
    T_REKEY_SWITCH,
    SessionConfig,
    decode_payload,
    encode_payload,
)

_NO_TAG = bytes(TAG_LEN)  # room for the tag, which sealing in place writes


class Transport:
    """Sealing, opening, chunking and rekeying on one link's transport keys."""

    def __init__(self, done: HandshakeDone, *, initiator: bool, identity: Identity,
                 random: Callable[[int], bytes], config: SessionConfig, out: bytearray,
                 now: float) -> None:
        """`out` is the session's output buffer, which every sealed frame is appended to."""
        self._initiator = initiator
        self._identity = identity
        self._random = random
        self._config = config
        self._out = out
        self._send: CipherState = done.send
        self._recv: CipherState = done.recv
        self._send_count = 0
        self._recv_count = 0
        self._recv_rekey_every = done.peer_rekey  # the peer's announced value
        self._remote_static = done.remote_static
        # Handshake hash of the latest completed handshake; each on-demand rekey chains on it.
        self._chain_hash = done.handshake_hash
        self.last_sent = now
        self.last_received = now
        self._chunks = bytearray()  # reassembly of the record being received (its capacity)
        self._chunked = 0  # bytes of that record in _chunks
        self._rekey_hs: HandshakeState | None = None  # our on-demand rekey awaiting its reply
        self._rekey_recv: CipherState | None = None  # peer's new key, used after its SWITCH
        self.rekey_started = now

    @property
    def rekeying(self) -> bool:
        """Whether an on-demand rekey (ours or the peer's) is under way."""
        return self._rekey_hs is not None or self._rekey_recv is not None

    def send(self, inner: int, data: bytes | memoryview, now: float) -> None:
        """Seal one transport message (`inner` type byte, then `data`) into the output."""
        send = self._send
        # Bulk path: the record's bytes are copied once, into the output behind their frame
        # header and type byte, and sealed there in place.
        out = self._out
        size = 1 + len(data)
        out += frame_header(size + TAG_LEN)
        start = len(out)
        out.append(inner)
        out += data
        out += _NO_TAG
        send.encrypt_in_place(out, start, size)
        self._send_count += 1
        if self._send_count >= self._config.rekey_every:
            # Lock-step: the peer rekeys its receiving key after the same message.
            send.rekey()
            self._send_count = 0
        self.last_sent = now

    def open(self, frame: bytes, now: float) -> bytes:
        """Decrypt one transport frame; a dropped, replayed or reordered frame fails."""
        recv = self._recv
        plaintext = recv.decrypt_with_ad(b"", frame)
        self._recv_count += 1
        if self._recv_count >= self._recv_rekey_every:
            recv.rekey()
            self._recv_count = 0
        self.last_received = now
        return plaintext

    def chunk(self, data: bytes | memoryview, *, final: bool) -> bytes | None:
        """One chunk of a record; the whole record once its final chunk came."""
        if not final and not data:
            raise ProtocolError("empty record chunk")  # would let a peer spin us for free
        start = self._chunked
        end = start + len(data)
        if end > self._config.max_record:
            raise ProtocolError(f"record over the limit of {self._config.max_record} bytes")
        if not final:
            # Written in place: the buffer keeps its size between records (at most one
            # record's), so a stream of big records costs no allocation (and no fresh pages).
            self._chunks[start:end] = data
            self._chunked = end
            return None
        # A record in one chunk (all of a chat's and a relay's) is copied out as it is; a
        # longer one is copied out of the reassembly buffer once.
        if not start:
            return bytes(data)
        self._chunks[start:end] = data
        self._chunked = 0
        with memoryview(self._chunks) as view:
            return view[:end].tobytes()

    def abandon(self) -> None:
        """The session closed: drop a rekey under way and a half-received record."""
        self._rekey_hs = None
        self._chunks = bytearray()
        self._chunked = 0

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

    def rekey_now(self, now: float) -> None:
        """Start our rekey, unless one (ours or the peer's) is under way."""
        if self.rekeying:
            return
        hs = self._new_kk(initiator=True)
        message = hs.write_message(encode_payload({}))
        self._rekey_hs = hs
        self.rekey_started = now
        self.send(T_REKEY_INIT, message, now)

    def _new_kk(self, *, initiator: bool) -> HandshakeState:
        # Chaining the previous handshake hash ties the new keys to this very link.
        return noise_handshake(self._identity, self._random, KK_PROTOCOL, initiator=initiator,
                               rs=self._remote_static, prologue_extra=self._chain_hash)

    def on_rekey_init(self, message: bytes, now: float) -> None:
        """The peer's REKEY_INIT: answer it (or ignore it if our own rekey wins)."""
        if self._rekey_recv is not None:
            raise ProtocolError("rekey started before the previous one finished")
        if self._rekey_hs is not None:
            if self._initiator:
                return  # our rekey wins; the peer abandons its own and answers ours
            self._rekey_hs = None  # theirs wins; answering it renews both directions anyway
        hs = self._new_kk(initiator=False)
        decode_payload(hs.read_message(message))
        reply = hs.write_message(encode_payload({}))
        c1, c2 = hs.split()
        self.send(T_REKEY_REPLY, reply, now)  # last message under the old sending key
        self._send, self._send_count = c2, 0
        self._rekey_recv = c1  # the peer switches after its REKEY_SWITCH
        self.rekey_started = now
        self._chain_hash = hs.handshake_hash

    def on_rekey_reply(self, message: bytes, now: float) -> None:
        """The peer's REKEY_REPLY to our rekey: switch both directions."""
        hs = self._rekey_hs
        if hs is None:
            raise ProtocolError("rekey reply without a rekey in progress")
        decode_payload(hs.read_message(message))
        c1, c2 = hs.split()
        self._rekey_hs = None
        self._recv, self._recv_count = c2, 0  # the peer sent its reply as its last old message
        self.send(T_REKEY_SWITCH, b"", now)  # last message under the old sending key
        self._send, self._send_count = c1, 0
        self._chain_hash = hs.handshake_hash

    def on_rekey_switch(self) -> None:
        """The peer's REKEY_SWITCH: what follows comes under its new key."""
        if self._rekey_recv is None:
            raise ProtocolError("rekey switch without a rekey in progress")
        self._recv, self._recv_count = self._rekey_recv, 0
        self._rekey_recv = None
