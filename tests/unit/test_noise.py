"""Noise objects: interop between the two roles, and every way a peer can get it wrong."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt

from p2pchat.core import noise
from p2pchat.core.errors import NoiseError, ProtocolError
from p2pchat.core.noise import (
    MAX_MESSAGE_LEN,
    PATTERNS,
    CipherState,
    HandshakeState,
    SymmetricState,
    x25519_public,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=150)
HASHES = ("BLAKE2b", "BLAKE2s", "SHA256", "SHA512")
MAIN_PATTERNS = ("NN", "NK", "XX", "XK", "IK")
P = 2**255 - 19
LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (P - 1).to_bytes(32, "little"),
    P.to_bytes(32, "little"),
    (P + 1).to_bytes(32, "little"),
]

# Fixed keys keep every test deterministic.
S_I = bytes(range(1, 33))
S_R = bytes(range(101, 133))
PSK = bytes(range(200, 232))


def counter_random(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    state = [seed]

    def random(n: int) -> bytes:
        state[0] += 1
        return hashlib.blake2b(state[0].to_bytes(8, "big"), digest_size=n).digest()

    return random


def make_pair(
    pattern: str, hash_name: str = "BLAKE2b", prologue: bytes = b"p2pchat test", seed: int = 0
) -> tuple[HandshakeState, HandshakeState]:
    """Initiator and responder for `pattern` (which may carry psk modifiers)."""
    pre_i, pre_r, _ = PATTERNS[pattern.split("psk")[0]]
    name = f"Noise_{pattern}_25519_ChaChaPoly_{hash_name}"
    psks = [PSK] * pattern.count("psk")
    # Both sides always get a static key: a pattern that does not use it ignores it.
    initiator = HandshakeState(
        name, True, prologue, s=S_I,
        rs=x25519_public(S_R) if "s" in pre_r else None, psks=psks,
        random=counter_random(seed),
    )
    responder = HandshakeState(
        name, False, prologue, s=S_R,
        rs=x25519_public(S_I) if "s" in pre_i else None, psks=psks,
        random=counter_random(seed + 1000),
    )
    return initiator, responder


def run_handshake(
    initiator: HandshakeState, responder: HandshakeState
) -> list[bytes]:
    """Complete the handshake with distinct payloads; return the messages sent."""
    sent = []
    sender, receiver = initiator, responder
    while not (initiator.complete and responder.complete):
        payload = f"handshake payload {len(sent)}".encode()
        message = sender.write_message(payload)
        assert receiver.read_message(message) == payload
        sent.append(message)
        sender, receiver = receiver, sender
    return sent


def check_transport(initiator: HandshakeState, responder: HandshakeState) -> None:
    i_send, i_recv = initiator.split()
    r_recv, r_send = responder.split()
    for k in range(3):
        msg = b"to responder %d" % k
        assert r_recv.decrypt_with_ad(b"", i_send.encrypt_with_ad(b"", msg)) == msg
        msg = b"to initiator %d" % k
        assert i_recv.decrypt_with_ad(b"", r_send.encrypt_with_ad(b"", msg)) == msg


# --- interop -------------------------------------------------------------------------------


@pytest.mark.parametrize("hash_name", HASHES)
@pytest.mark.parametrize("pattern", MAIN_PATTERNS)
def test_interop_main_patterns(pattern: str, hash_name: str) -> None:
    initiator, responder = make_pair(pattern, hash_name)
    messages = run_handshake(initiator, responder)
    assert len(messages) == len(PATTERNS[pattern][2])
    assert initiator.handshake_hash == responder.handshake_hash
    assert len(initiator.handshake_hash) == (64 if hash_name in ("BLAKE2b", "SHA512") else 32)
    if "X" in pattern or "I" in pattern:
        assert responder.remote_static == x25519_public(S_I)
    if pattern != "NN":
        assert initiator.remote_static == x25519_public(S_R)
    else:
        assert initiator.remote_static is None and responder.remote_static is None
    check_transport(initiator, responder)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_interop_every_pattern(pattern: str) -> None:
    initiator, responder = make_pair(pattern, "BLAKE2s")
    run_handshake(initiator, responder)
    assert initiator.handshake_hash == responder.handshake_hash
    if len(PATTERNS[pattern][2]) == 1:  # one-way: only initiator -> responder
        msg = b"one way"
        assert responder.split()[0].decrypt_with_ad(
            b"", initiator.split()[0].encrypt_with_ad(b"", msg)) == msg
    else:
        check_transport(initiator, responder)


@pytest.mark.parametrize(
    "pattern", ["NNpsk0", "NNpsk2", "NNpsk0+psk2", "XXpsk3", "XXpsk0+psk1+psk2+psk3", "IKpsk2",
                "Npsk0", "Xpsk1"],
)
def test_psk_modifiers(pattern: str) -> None:
    initiator, responder = make_pair(pattern)
    run_handshake(initiator, responder)
    assert initiator.handshake_hash == responder.handshake_hash


def test_psk_mismatch_fails() -> None:
    name = "Noise_NNpsk0+psk2_25519_ChaChaPoly_BLAKE2b"
    initiator = HandshakeState(name, True, psks=[PSK, PSK])
    responder = HandshakeState(name, False, psks=[PSK, bytes(32)])
    responder.read_message(initiator.write_message(b""))
    with pytest.raises(NoiseError):
        initiator.read_message(responder.write_message(b""))


def test_prologue_mismatch_fails() -> None:
    initiator = HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", True, b"v1")
    responder = HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", False, b"v2")
    responder.read_message(initiator.write_message(b""))
    with pytest.raises(NoiseError, match="bad MAC"):
        initiator.read_message(responder.write_message(b""))


def test_wrong_responder_key_in_ik_fails() -> None:
    name = "Noise_IK_25519_ChaChaPoly_BLAKE2b"
    initiator = HandshakeState(name, True, s=S_I, rs=x25519_public(S_R))
    impostor = HandshakeState(name, False, s=bytes(range(50, 82)))
    with pytest.raises(NoiseError):
        impostor.read_message(initiator.write_message(b"hello"))


def test_split_direction_and_injected_randomness() -> None:
    a1, b1 = make_pair("XX", seed=7)
    a2, b2 = make_pair("XX", seed=7)
    assert run_handshake(a1, b1) == run_handshake(a2, b2)  # same random -> same bytes
    c1, c2 = a1.split()  # c1: initiator -> responder, c2: responder -> initiator
    assert b1.split()[0].decrypt_with_ad(b"", c1.encrypt_with_ad(b"", b"x")) == b"x"
    assert c2.decrypt_with_ad(b"", b1.split()[1].encrypt_with_ad(b"", b"y")) == b"y"
    assert a1.split() is a1.split()


def test_default_randomness_gives_fresh_ephemerals() -> None:
    m1 = HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", True).write_message(b"")
    m2 = HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", True).write_message(b"")
    assert len(m1) == 32 and m1 != m2


def test_read_accepts_bytes_like() -> None:
    initiator, responder = make_pair("XX")
    assert responder.read_message(memoryview(initiator.write_message(b"hi"))) == b"hi"
    assert initiator.read_message(bytearray(responder.write_message(b"yo"))) == b"yo"


def test_xx_message_sizes_match_spec() -> None:
    # Section 3's example with DHLEN 32: 32, 32+48+16, 48+16 bytes for empty payloads.
    initiator, responder = make_pair("XX")
    messages = []
    for sender, receiver in ((initiator, responder), (responder, initiator),
                             (initiator, responder)):
        messages.append(sender.write_message(b""))
        receiver.read_message(messages[-1])
    assert [len(m) for m in messages] == [32, 96, 64]


# --- tampering -----------------------------------------------------------------------------


def _handshake_with_flip(
    pattern: str, index: int, bit: int
) -> None:
    """Run `pattern`, flipping one bit of handshake message `index`, then one transport
    message each way. Must raise NoiseError somewhere."""
    initiator, responder = make_pair(pattern)
    sender, receiver = initiator, responder
    k = 0
    while not (initiator.complete and responder.complete):
        message = bytearray(sender.write_message(b"payload"))
        if k == index:
            message[(bit // 8) % len(message)] ^= 1 << (bit % 8)
        receiver.read_message(bytes(message))
        sender, receiver = receiver, sender
        k += 1
    check_transport(initiator, responder)


@SETTINGS
@given(
    pattern=st.sampled_from(MAIN_PATTERNS),
    index=st.integers(0, 2),
    bit=st.integers(0, 8 * 200),
)
def test_any_flipped_bit_in_handshake_is_refused(pattern: str, index: int, bit: int) -> None:
    index %= len(PATTERNS[pattern][2])
    with pytest.raises(NoiseError):
        _handshake_with_flip(pattern, index, bit)


@SETTINGS
@given(payload=st.binary(max_size=300), bit=st.integers(min_value=0), ad=st.binary(max_size=8))
def test_any_flipped_bit_in_transport_is_refused(payload: bytes, bit: int, ad: bytes) -> None:
    initiator, responder = make_pair("NN")
    run_handshake(initiator, responder)
    send, recv = initiator.split()[0], responder.split()[0]
    ciphertext = bytearray(send.encrypt_with_ad(ad, payload))
    assert len(ciphertext) == len(payload) + 16
    good = bytes(ciphertext)
    bit %= 8 * len(ciphertext)
    ciphertext[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(NoiseError):
        recv.decrypt_with_ad(ad, bytes(ciphertext))
    assert recv.n == 0  # a failed decrypt leaves the nonce alone ...
    assert recv.decrypt_with_ad(ad, good) == payload  # ... so the genuine message still works


@SETTINGS
@given(garbage=st.binary(max_size=200), pattern=st.sampled_from(MAIN_PATTERNS))
def test_garbage_handshake_messages_raise_only_noise_error(garbage: bytes, pattern: str) -> None:
    initiator, responder = make_pair(pattern)
    try:
        responder.read_message(garbage)
        initiator.read_message(responder.write_message(b""))
    except NoiseError:
        pass


def test_replayed_and_reordered_transport_refused() -> None:
    initiator, responder = make_pair("XX")
    run_handshake(initiator, responder)
    send, recv = initiator.split()[0], responder.split()[0]
    c0, c1, c2 = (send.encrypt_with_ad(b"", b"m%d" % k) for k in range(3))
    assert recv.decrypt_with_ad(b"", c0) == b"m0"
    with pytest.raises(NoiseError):
        recv.decrypt_with_ad(b"", c0)  # replay
    with pytest.raises(NoiseError):
        recv.decrypt_with_ad(b"", c2)  # skipped ahead
    assert recv.decrypt_with_ad(b"", c1) == b"m1"
    assert recv.decrypt_with_ad(b"", c2) == b"m2"
    with pytest.raises(NoiseError):
        recv.decrypt_with_ad(b"x", send.encrypt_with_ad(b"y", b"m3"))  # wrong AD


def test_direction_confusion_refused() -> None:
    initiator, responder = make_pair("NN")
    run_handshake(initiator, responder)
    # A message reflected back to its sender does not decrypt with the other direction's key.
    reflected = initiator.split()[0].encrypt_with_ad(b"", b"hello")
    with pytest.raises(NoiseError):
        initiator.split()[1].decrypt_with_ad(b"", reflected)


# --- bad keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["s", "e", "rs"])
@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_key_lengths(field: str, length: int) -> None:
    keys: dict[str, bytes] = {"s": S_I, "rs": x25519_public(S_R)}
    keys[field] = bytes(range(length))
    with pytest.raises(NoiseError, match="32 bytes"):
        HandshakeState("Noise_IK_25519_ChaChaPoly_BLAKE2b", True, **keys)  # type: ignore[arg-type]


def test_wrong_psk_length_and_count() -> None:
    with pytest.raises(NoiseError, match="32 bytes"):
        HandshakeState("Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", True, psks=[bytes(16)])
    with pytest.raises(NoiseError, match="needs 2 PSKs"):
        HandshakeState("Noise_NNpsk0+psk2_25519_ChaChaPoly_BLAKE2b", True, psks=[PSK])
    with pytest.raises(NoiseError, match="needs 0 PSKs"):
        HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", True, psks=[PSK])


def test_bad_random_source_refused() -> None:
    hs = HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", True, random=lambda n: b"short")
    with pytest.raises(NoiseError, match="32 bytes"):
        hs.write_message(b"")


def test_missing_or_unexpected_keys() -> None:
    with pytest.raises(NoiseError, match="local static key"):
        HandshakeState("Noise_XX_25519_ChaChaPoly_BLAKE2b", True)
    with pytest.raises(NoiseError, match="local static key"):
        HandshakeState("Noise_NK_25519_ChaChaPoly_BLAKE2b", False)
    with pytest.raises(NoiseError, match="rs in advance"):
        HandshakeState("Noise_IK_25519_ChaChaPoly_BLAKE2b", True, s=S_I)
    with pytest.raises(NoiseError, match="does not take rs"):
        HandshakeState("Noise_XX_25519_ChaChaPoly_BLAKE2b", True, s=S_I, rs=x25519_public(S_R))
    # An unused static key is harmless (NN simply ignores it).
    HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", True, s=S_I)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_low_order_rs_refused(point: bytes) -> None:
    hs = HandshakeState("Noise_NK_25519_ChaChaPoly_BLAKE2b", True, rs=point)
    with pytest.raises(NoiseError, match="low-order"):
        hs.write_message(b"")


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_low_order_ephemeral_in_message_refused(point: bytes) -> None:
    # NK: the responder does DH(s, re) while reading the first message.
    responder = HandshakeState("Noise_NK_25519_ChaChaPoly_BLAKE2b", False, s=S_R)
    with pytest.raises(NoiseError, match="low-order"):
        responder.read_message(point + bytes(16))
    # NN: the low-order e is only hashed on reading; the DH when answering fails.
    responder = HandshakeState("Noise_NN_25519_ChaChaPoly_BLAKE2b", False)
    responder.read_message(point)
    with pytest.raises(NoiseError, match="low-order"):
        responder.write_message(b"")


def test_low_order_static_in_message_refused() -> None:
    # XX message 3 carries the initiator's encrypted s: a malicious initiator sends a
    # low-order point there; the responder's "se" DH with it must fail.
    initiator, responder = make_pair("XX")
    responder.read_message(initiator.write_message(b""))
    initiator.read_message(responder.write_message(b""))
    initiator._s_pub = bytes(32)  # what a malicious initiator would send
    with pytest.raises(NoiseError, match="low-order"):
        responder.read_message(initiator.write_message(b""))


# --- turns, sizes, state -------------------------------------------------------------------


def test_out_of_turn() -> None:
    initiator, responder = make_pair("XX")
    with pytest.raises(NoiseError, match="not our turn to read"):
        initiator.read_message(bytes(32))
    with pytest.raises(NoiseError, match="not our turn to write"):
        responder.write_message(b"")
    m1 = initiator.write_message(b"")
    with pytest.raises(NoiseError, match="not our turn to write"):
        initiator.write_message(b"")
    responder.read_message(m1)
    with pytest.raises(NoiseError, match="not our turn to read"):
        responder.read_message(m1)
    run_handshake_rest(initiator, responder)
    for call in (lambda: initiator.write_message(b""), lambda: responder.read_message(b"x" * 64),
                 lambda: initiator.read_message(b"x" * 64)):
        with pytest.raises(NoiseError, match="already complete"):
            call()


def run_handshake_rest(initiator: HandshakeState, responder: HandshakeState) -> None:
    initiator.read_message(responder.write_message(b""))
    responder.read_message(initiator.write_message(b""))


def test_split_before_complete() -> None:
    initiator, _ = make_pair("XX")
    with pytest.raises(NoiseError, match="not complete"):
        initiator.split()


def test_failed_handshake_stays_dead() -> None:
    initiator, responder = make_pair("NK")
    m1 = bytearray(initiator.write_message(b"secret"))
    m1[-1] ^= 1
    with pytest.raises(NoiseError):
        responder.read_message(bytes(m1))
    with pytest.raises(NoiseError, match="already failed"):
        responder.write_message(b"")
    with pytest.raises(NoiseError, match="already failed"):
        responder.read_message(bytes(m1))


def test_message_too_short() -> None:
    initiator, responder = make_pair("XX")
    with pytest.raises(NoiseError, match="too short"):
        responder.read_message(bytes(31))
    responder.read_message(initiator.write_message(b""))
    m2 = responder.write_message(b"")
    for cut in (0, 1, 32, 80, 95):
        init2, resp2 = make_pair("XX")
        resp2.read_message(init2.write_message(b""))
        with pytest.raises(NoiseError):
            init2.read_message(resp2.write_message(b"")[:cut])
    initiator.read_message(m2)


def test_message_size_limits() -> None:
    initiator, responder = make_pair("XX")
    # Message 1 of XX is e (32 bytes) + cleartext payload.
    with pytest.raises(NoiseError, match="65536 bytes"):
        initiator.write_message(bytes(MAX_MESSAGE_LEN - 32 + 1))
    m1 = initiator.write_message(bytes(MAX_MESSAGE_LEN - 32))  # the failed write changed nothing
    assert len(m1) == MAX_MESSAGE_LEN
    responder.read_message(m1)
    with pytest.raises(NoiseError, match="65536 bytes"):
        responder.write_message(bytes(MAX_MESSAGE_LEN - 96 + 1))
    m2 = responder.write_message(bytes(MAX_MESSAGE_LEN - 96))
    assert len(m2) == MAX_MESSAGE_LEN
    with pytest.raises(NoiseError, match="too long"):
        make_pair("XX")[1].read_message(bytes(MAX_MESSAGE_LEN + 1))


def test_transport_size_limits() -> None:
    initiator, responder = make_pair("NN")
    run_handshake(initiator, responder)
    send, recv = initiator.split()[0], responder.split()[0]
    with pytest.raises(NoiseError, match="too long"):
        send.encrypt_with_ad(b"", bytes(MAX_MESSAGE_LEN - 16 + 1))
    big = send.encrypt_with_ad(b"", bytes(MAX_MESSAGE_LEN - 16))
    assert len(big) == MAX_MESSAGE_LEN
    for bad in (b"", bytes(15), bytes(MAX_MESSAGE_LEN + 1)):
        with pytest.raises(NoiseError, match="length"):
            recv.decrypt_with_ad(b"", bad)
    assert recv.decrypt_with_ad(b"", big) == bytes(MAX_MESSAGE_LEN - 16)
    assert recv.decrypt_with_ad(b"", send.encrypt_with_ad(b"", b"")) == b""


# --- CipherState ---------------------------------------------------------------------------


def test_rekey_keeps_both_sides_in_step() -> None:
    initiator, responder = make_pair("XX")
    run_handshake(initiator, responder)
    send, recv = initiator.split()[0], responder.split()[0]
    for k in range(10):
        if k % 3 == 2:
            old = send.k
            send.rekey()
            recv.rekey()
            assert send.k == recv.k != old
        assert recv.decrypt_with_ad(b"", send.encrypt_with_ad(b"", b"m%d" % k)) == b"m%d" % k
    assert send.n == recv.n == 10  # rekey keeps n (section 11.3)
    send.rekey()  # one side only: out of step, refused
    with pytest.raises(NoiseError):
        recv.decrypt_with_ad(b"", send.encrypt_with_ad(b"", b"lost"))


def test_rekey_is_the_spec_default() -> None:
    k = bytes(range(32))
    cs = CipherState(k)
    cs.rekey()
    nonce = bytes(4) + (2**64 - 1).to_bytes(8, "little")
    assert cs.k == crypto_aead_chacha20poly1305_ietf_encrypt(bytes(32), b"", nonce, k)[:32]
    with pytest.raises(NoiseError):
        CipherState().rekey()


def test_nonce_exhaustion() -> None:
    a, b = CipherState(bytes(32)), CipherState(bytes(32))
    a.set_nonce(2**64 - 2)
    b.set_nonce(2**64 - 2)
    assert b.decrypt_with_ad(b"", a.encrypt_with_ad(b"", b"last")) == b"last"
    with pytest.raises(NoiseError, match="exhausted"):
        a.encrypt_with_ad(b"", b"one too many")
    with pytest.raises(NoiseError, match="exhausted"):
        b.decrypt_with_ad(b"", bytes(32))
    with pytest.raises(NoiseError):
        a.set_nonce(2**64)


def test_empty_cipher_state_passes_through() -> None:
    cs = CipherState()
    assert not cs.has_key()
    assert cs.encrypt_with_ad(b"ad", b"plain") == b"plain"
    assert cs.decrypt_with_ad(b"ad", b"plain") == b"plain"
    with pytest.raises(NoiseError, match="32 bytes"):
        CipherState(bytes(16))


@SETTINGS
@given(key=st.binary(min_size=32, max_size=32), n=st.integers(0, 2**64 - 1),
       ad=st.binary(max_size=70), plaintext=st.binary(max_size=300))
def test_fast_aead_path_matches_pynacl_bindings(
    key: bytes, n: int, ad: bytes, plaintext: bytes
) -> None:
    ciphertext = noise._encrypt(key, n, ad, plaintext)
    assert ciphertext == noise._encrypt_portable(key, n, ad, plaintext)
    assert noise._decrypt(key, n, ad, ciphertext) == plaintext
    assert noise._decrypt_portable(key, n, ad, ciphertext) == plaintext


@SETTINGS
@given(key=st.binary(max_size=200), data=st.binary(max_size=200), name=st.sampled_from(HASHES))
def test_hmac_is_rfc2104_over_the_hash(key: bytes, data: bytes, name: str) -> None:
    fn = noise.HASHES[name]
    assert fn.hmac(key, data) == hmac.new(key, data, fn.new).digest()
    assert len(fn.hash(data)) == fn.hashlen == fn.new().digest_size


def test_symmetric_state_short_and_long_names() -> None:
    fn = noise.HASHES["SHA256"]
    short = SymmetricState(b"Noise_NN_25519_ChaChaPoly_SHA256", fn)  # exactly 32 bytes
    assert short.h == short.ck == b"Noise_NN_25519_ChaChaPoly_SHA256"
    long = SymmetricState(b"Noise_XXpsk3_25519_ChaChaPoly_SHA256", fn)
    assert long.h == hashlib.sha256(b"Noise_XXpsk3_25519_ChaChaPoly_SHA256").digest()
    padded = SymmetricState(b"Noise_N_25519_ChaChaPoly_SHA256", fn)
    assert padded.h == b"Noise_N_25519_ChaChaPoly_SHA256\x00"


# --- protocol names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("Noise_XX_25519_AESGCM_BLAKE2b", "unsupported cipher 'AESGCM'"),
        ("Noise_XX_448_ChaChaPoly_BLAKE2b", "unsupported DH"),
        ("Noise_XX_25519_ChaChaPoly_SHA3", "unsupported hash"),
        ("Noise_ZZ_25519_ChaChaPoly_BLAKE2b", "unsupported handshake pattern"),
        ("Noise_XXfallback_25519_ChaChaPoly_BLAKE2b", "unsupported pattern modifier"),
        ("Noise_NNpsk3_25519_ChaChaPoly_BLAKE2b", "needs at least 3"),
        ("Noise_NNpsk0+psk0_25519_ChaChaPoly_BLAKE2b", "repeated"),
        ("Noise_xx_25519_ChaChaPoly_BLAKE2b", "unsupported handshake pattern"),
        ("Noise_XX_25519_ChaChaPoly", "bad protocol name"),
        ("NoisX_XX_25519_ChaChaPoly_BLAKE2b", "bad protocol name"),
        ("Noise_" + "X" * 300 + "_25519_ChaChaPoly_BLAKE2b", "255"),
    ],
)
def test_bad_protocol_names(name: str, match: str) -> None:
    with pytest.raises(NoiseError, match=match):
        HandshakeState(name, True, s=S_I, psks=[PSK, PSK])


def test_noise_error_is_a_protocol_error() -> None:
    assert issubclass(NoiseError, ProtocolError)


def test_os_urandom_is_the_default() -> None:
    import inspect

    default = inspect.signature(HandshakeState).parameters["random"].default
    assert default is os.urandom


@pytest.mark.parametrize("portable", [False, True])
def test_encrypt_in_place_gives_encrypt_with_ads_bytes(portable: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if portable:
        monkeypatch.setattr(noise, "_seal_in_place", noise._seal_in_place_portable)
    key = bytes(range(32))
    for plain in (b"", b"x", bytes(range(256)) * 255):
        a, b = noise.CipherState(key), noise.CipherState(key)
        a.n = b.n = 7
        buf = bytearray(b"head") + plain + bytes(noise.TAGLEN) + b"tail"
        a.encrypt_in_place(buf, 4, len(plain))
        assert bytes(buf) == b"head" + b.encrypt_with_ad(b"", plain) + b"tail"
        assert a.n == b.n == 8
    with pytest.raises(noise.NoiseError):
        noise.CipherState(key).encrypt_in_place(bytearray(20), 0, 5)  # no room for the tag
