"""Our Noise against an independent implementation: the `noiseprotocol` package (import name
`noise`, built on `cryptography`, so it shares no crypto code with ours, which uses libsodium).

Both sides get the same fixed static AND ephemeral keys, so a run is deterministic: every byte
on the wire (handshake messages, transport messages, also after a rekey) and the handshake hash
must be the same whichever implementation plays which role. Each mixed run (ours <-> theirs)
is compared with the run in which noiseprotocol plays both roles and the one in which we do.

Ephemeral keys: noiseprotocol takes a preset `e` through `set_keypair_from_private_bytes(
Keypair.EPHEMERAL, ...)` (its HandshakeState only generates `e` when none is set) and warns
that this is for testing only; we silence that warning here. We pass `e=` and a `random` that
fails, so neither side can draw a random key: byte identity holds for every case below.

noiseprotocol drops its HandshakeState once the handshake is done, so the remote static key it
learned is not readable afterwards; that it learned the right one is shown by the transport
messages (every pattern here with a transmitted static key mixes it into a DH).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from noise.connection import Keypair, NoiseConnection
from noise.exceptions import NoiseInvalidMessage

from p2pchat.core.errors import NoiseError
from p2pchat.core.noise import PATTERNS, CipherState, HandshakeState, x25519_public

pytestmark = pytest.mark.filterwarnings("ignore:One of ephemeral keypairs:UserWarning")

HASHES = ("BLAKE2b", "SHA256", "SHA512")
# pattern: (initiator has a static key, responder has one, initiator knows rs in advance)
KEYS_NEEDED = {
    "NN": (False, False, False),
    "NK": (False, True, True),
    "XX": (True, True, False),
    "XK": (True, True, True),
    "IK": (True, True, True),
    # What networks use (docs/protocol.md, "Networks"): the published vectors cover psk0 only
    # on other patterns (NNpsk0, NKpsk0, KNpsk0, KKpsk0), so these two are checked here.
    "XXpsk0": (True, True, False),
    "IKpsk0": (True, True, True),
}
PSK = hashlib.sha256(b"p2pchat noise interop psk").digest()
MAX_PLAINTEXT = 65535 - 16  # a transport message is at most 65535 bytes, tag included

HANDSHAKE_PAYLOADS = (b"", b"hello from the handshake", bytes(range(256)) * 3)
TRANSPORT_PAYLOADS = (b"", b"hi", bytes(range(256)) * 4, b"\xa5" * MAX_PLAINTEXT)
PROLOGUE = b"p2pchat interop prologue"


def _key(label: str) -> bytes:
    return hashlib.sha256(b"p2pchat noise interop " + label.encode()).digest()


@dataclass(frozen=True)
class Keys:
    s_i: bytes
    s_r: bytes
    e_i: bytes
    e_r: bytes


FIXED_KEYS = Keys(_key("s_i"), _key("s_r"), _key("e_i"), _key("e_r"))


class Side(Protocol):
    """One endpoint, whichever implementation is behind it."""

    refuses: type[Exception]  # what it raises for a message it must not accept

    def write(self, payload: bytes) -> bytes: ...
    def read(self, message: bytes) -> bytes: ...
    def complete(self) -> bool: ...
    def handshake_hash(self) -> bytes: ...
    def encrypt(self, plaintext: bytes) -> bytes: ...
    def decrypt(self, ciphertext: bytes) -> bytes: ...
    def rekey_send(self) -> None: ...
    def rekey_recv(self) -> None: ...


def _no_random(n: int) -> bytes:
    raise AssertionError("the ephemeral key was preset: nothing may be drawn at random")


class Ours:
    refuses: type[Exception] = NoiseError

    def __init__(
        self,
        protocol: str,
        initiator: bool,
        prologue: bytes,
        s: bytes | None,
        e: bytes,
        rs: bytes | None,
    ) -> None:
        self.initiator = initiator
        psks = (PSK,) if "psk" in protocol else ()
        self.hs = HandshakeState(protocol, initiator, prologue, s=s, e=e, rs=rs, random=_no_random,
                                 psks=psks)

    def write(self, payload: bytes) -> bytes:
        return self.hs.write_message(payload)

    def read(self, message: bytes) -> bytes:
        return self.hs.read_message(message)

    def complete(self) -> bool:
        return self.hs.complete

    def handshake_hash(self) -> bytes:
        return self.hs.handshake_hash

    def _transport(self) -> tuple[CipherState, CipherState]:
        """(sending, receiving): split()'s c1 protects initiator -> responder, c2 the reverse."""
        c1, c2 = self.hs.split()
        return (c1, c2) if self.initiator else (c2, c1)

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._transport()[0].encrypt_with_ad(b"", plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        return self._transport()[1].decrypt_with_ad(b"", ciphertext)

    def rekey_send(self) -> None:
        self._transport()[0].rekey()

    def rekey_recv(self) -> None:
        self._transport()[1].rekey()


class Theirs:
    refuses: type[Exception] = NoiseInvalidMessage

    def __init__(
        self,
        protocol: str,
        initiator: bool,
        prologue: bytes,
        s: bytes | None,
        e: bytes,
        rs: bytes | None,
    ) -> None:
        conn = NoiseConnection.from_name(protocol.encode())
        if initiator:
            conn.set_as_initiator()
        else:
            conn.set_as_responder()
        conn.set_prologue(prologue)
        if s is not None:
            conn.set_keypair_from_private_bytes(Keypair.STATIC, s)
        if rs is not None:
            conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, rs)
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, e)
        if "psk" in protocol:
            conn.set_psks(psk=PSK)
        conn.start_handshake()
        self.conn = conn

    def write(self, payload: bytes) -> bytes:
        return bytes(self.conn.write_message(payload))

    def read(self, message: bytes) -> bytes:
        return bytes(self.conn.read_message(message))

    def complete(self) -> bool:
        return bool(self.conn.handshake_finished)

    def handshake_hash(self) -> bytes:
        return bytes(self.conn.get_handshake_hash())

    def encrypt(self, plaintext: bytes) -> bytes:
        return bytes(self.conn.encrypt(plaintext))

    def decrypt(self, ciphertext: bytes) -> bytes:
        return bytes(self.conn.decrypt(ciphertext))

    def rekey_send(self) -> None:
        self.conn.rekey_outbound_cipher()

    def rekey_recv(self) -> None:
        self.conn.rekey_inbound_cipher()


Impl = Callable[[str, bool, bytes, "bytes | None", bytes, "bytes | None"], Side]
IMPLS: dict[str, Impl] = {"ours": Ours, "theirs": Theirs}


def _tampered(ciphertext: bytes) -> list[bytes]:
    """Every way the message below may be damaged on the wire."""
    return [
        bytes([ciphertext[0] ^ 0x01]) + ciphertext[1:],  # body (or tag, if empty payload)
        ciphertext[:-1] + bytes([ciphertext[-1] ^ 0x80]),  # tag
        ciphertext[:-1],  # truncated
        ciphertext + b"\x00",  # extended
    ]


def _send(
    sender: Side, receiver: Side, plaintext: bytes, wire: list[bytes], *, tamper: bool = False
) -> None:
    ciphertext = sender.encrypt(plaintext)
    assert len(ciphertext) == len(plaintext) + 16
    if tamper:
        for bad in _tampered(ciphertext):
            with pytest.raises(receiver.refuses):
                receiver.decrypt(bad)
    # A refused message leaves the receiver's nonce alone: the genuine one still decrypts.
    assert receiver.decrypt(ciphertext) == plaintext
    if tamper:
        with pytest.raises(receiver.refuses):  # replayed: wrong nonce now
            receiver.decrypt(ciphertext)
    wire.append(ciphertext)


def run(
    initiator_impl: str,
    responder_impl: str,
    pattern: str,
    hash_name: str,
    *,
    keys: Keys = FIXED_KEYS,
    prologue: bytes = PROLOGUE,
    handshake_payloads: Sequence[bytes] = HANDSHAKE_PAYLOADS,
    transport_payloads: Sequence[bytes] = TRANSPORT_PAYLOADS,
) -> list[bytes]:
    """One full session; returns everything the two sides agreed on, in order: each handshake
    message, the handshake hash, then each transport message in both directions."""
    protocol = f"Noise_{pattern}_25519_ChaChaPoly_{hash_name}"
    i_has_s, r_has_s, i_knows_rs = KEYS_NEEDED[pattern]
    s_i = keys.s_i if i_has_s else None
    s_r = keys.s_r if r_has_s else None
    rs_for_i = x25519_public(keys.s_r) if i_knows_rs else None
    initiator = IMPLS[initiator_impl](protocol, True, prologue, s_i, keys.e_i, rs_for_i)
    responder = IMPLS[responder_impl](protocol, False, prologue, s_r, keys.e_r, None)

    wire: list[bytes] = []
    n_messages = len(PATTERNS[pattern.split("psk")[0]][2])
    for index in range(n_messages):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        assert not writer.complete() and not reader.complete()
        payload = handshake_payloads[index % len(handshake_payloads)]
        message = writer.write(payload)
        assert reader.read(message) == payload
        wire.append(message)
    assert initiator.complete() and responder.complete()
    handshake_hash = initiator.handshake_hash()
    assert responder.handshake_hash() == handshake_hash
    wire.append(handshake_hash)

    for side, peer_s in ((initiator, s_r), (responder, s_i)):
        if isinstance(side, Ours):
            expected = None if peer_s is None else x25519_public(peer_s)
            assert side.hs.remote_static == expected

    for plaintext in transport_payloads:
        _send(initiator, responder, plaintext, wire)
        _send(responder, initiator, plaintext, wire)
    # Damaged and replayed messages are refused by whichever implementation receives them.
    _send(initiator, responder, b"tamper with me", wire, tamper=True)
    _send(responder, initiator, b"", wire, tamper=True)
    # Rekey (section 11.3, default REKEY) in both directions, then keep talking.
    initiator.rekey_send()
    responder.rekey_recv()
    responder.rekey_send()
    initiator.rekey_recv()
    _send(initiator, responder, b"after rekey i->r", wire, tamper=True)
    _send(responder, initiator, b"after rekey r->i", wire, tamper=True)
    return wire


CASES = [(p, h) for p in KEYS_NEEDED for h in HASHES]


@pytest.fixture(scope="module")
def reference() -> dict[tuple[str, str], list[bytes]]:
    """noiseprotocol talking to itself: the bytes every other pairing must reproduce."""
    return {(p, h): run("theirs", "theirs", p, h) for p, h in CASES}


@pytest.mark.parametrize(("pattern", "hash_name"), CASES)
def test_ours_alone_matches_theirs_alone(
    reference: dict[tuple[str, str], list[bytes]], pattern: str, hash_name: str
) -> None:
    assert run("ours", "ours", pattern, hash_name) == reference[pattern, hash_name]


@pytest.mark.parametrize("ours_role", ["initiator", "responder"])
@pytest.mark.parametrize(("pattern", "hash_name"), CASES)
def test_interop_byte_identical(
    reference: dict[tuple[str, str], list[bytes]], pattern: str, hash_name: str, ours_role: str
) -> None:
    pair = ("ours", "theirs") if ours_role == "initiator" else ("theirs", "ours")
    assert run(*pair, pattern, hash_name) == reference[pattern, hash_name]


def test_reference_sizes() -> None:
    """Guards the comparison itself: the transcripts have the shape the patterns dictate."""
    wire = run("theirs", "theirs", "XX", "SHA256")
    n_handshake = len(PATTERNS["XX"][2])
    payload = len(HANDSHAKE_PAYLOADS[0])
    # -> e ; <- e, ee, s, es (+payload tag) ; -> s, se (+payload tag)
    assert len(wire[0]) == 32 + payload
    assert len(wire[1]) == 32 + 48 + len(HANDSHAKE_PAYLOADS[1]) + 16
    assert len(wire[2]) == 48 + len(HANDSHAKE_PAYLOADS[2]) + 16
    assert len(wire[n_handshake]) == 32  # SHA256 handshake hash
    assert len(run("theirs", "theirs", "XX", "SHA512")[n_handshake]) == 64


_key32 = st.binary(min_size=32, max_size=32)


@settings(derandomize=True, deadline=None, max_examples=40)
@given(
    pattern=st.sampled_from(list(KEYS_NEEDED)),
    hash_name=st.sampled_from(HASHES),
    ours_initiates=st.booleans(),
    keys=st.builds(Keys, _key32, _key32, _key32, _key32),
    prologue=st.binary(max_size=64),
    handshake_payloads=st.lists(st.binary(max_size=200), min_size=1, max_size=3),
    transport_payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=3),
)
def test_interop_byte_identical_random_keys_and_payloads(
    pattern: str,
    hash_name: str,
    ours_initiates: bool,
    keys: Keys,
    prologue: bytes,
    handshake_payloads: list[bytes],
    transport_payloads: list[bytes],
) -> None:
    def session(initiator_impl: str, responder_impl: str) -> list[bytes]:
        return run(
            initiator_impl,
            responder_impl,
            pattern,
            hash_name,
            keys=keys,
            prologue=prologue,
            handshake_payloads=handshake_payloads,
            transport_payloads=transport_payloads,
        )

    pair = ("ours", "theirs") if ours_initiates else ("theirs", "ours")
    assert session(*pair) == session("theirs", "theirs")
