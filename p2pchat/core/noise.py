"""The Noise Protocol Framework (revision 34), with the spec's own objects.

`CipherState`, `SymmetricState` and `HandshakeState` follow section 5 of the spec, method for
method (`encrypt_with_ad` is the spec's `EncryptWithAd()` and so on). Supported:

* DH: ``25519`` (libsodium's X25519, which refuses low-order points; we turn that into an error
  as section 12.1 allows).
* Cipher: ``ChaChaPoly`` (IETF ChaCha20-Poly1305, nonce = 4 zero bytes + 8-byte LE counter).
* Hash: ``BLAKE2b``, ``BLAKE2s``, ``SHA256``, ``SHA512``.
* Patterns: the one-way (N, K, X), the 12 fundamental interactive and the 23 deferred patterns,
  with any combination of ``psk0``..``pskN`` modifiers (e.g. ``NNpsk0+psk2``).

Everything a peer (or a caller) can get wrong raises `NoiseError`: bad MAC, wrong key length,
low-order point, message out of turn, too short or longer than 65535 bytes, nonce exhausted.
A `HandshakeState` that raised once is dead: the spec says to delete it, so every later call
raises too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
from collections.abc import Callable, Sequence
from typing import Any

from nacl.bindings import (
    crypto_aead_chacha20poly1305_ietf_decrypt,
    crypto_aead_chacha20poly1305_ietf_encrypt,
    crypto_scalarmult,
    crypto_scalarmult_base,
)
from nacl.exceptions import CryptoError

from p2pchat.core.errors import NoiseError

__all__ = [
    "DHLEN",
    "HASHES",
    "MAX_MESSAGE_LEN",
    "PATTERNS",
    "CipherState",
    "HandshakeState",
    "HashFunction",
    "SymmetricState",
    "x25519_public",
]

MAX_MESSAGE_LEN = 65535  # section 3: every Noise message fits in 16 bits
TAGLEN = 16  # the AEAD authentication tag appended to every ciphertext
DHLEN = 32  # 25519
KEYLEN = 32  # cipher keys, and PSKs (section 9)
MAX_NONCE = 2**64 - 1  # reserved (section 5.1): used only by REKEY()
_ZEROS = bytes(32)

# ---------------------------------------------------------------------------------------------
# Crypto functions (sections 4 and 12)
# ---------------------------------------------------------------------------------------------

# ChaChaPoly's 96-bit nonce: 32 zero bits, then n as 64-bit little-endian (section 12.3).
_nonce = struct.Struct("<4xQ").pack


def _encrypt_portable(k: bytes, n: int, ad: bytes, plaintext: bytes) -> bytes:
    return crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, _nonce(n), k)


def _decrypt_portable(k: bytes, n: int, ad: bytes, ciphertext: bytes) -> bytes:
    try:
        return crypto_aead_chacha20poly1305_ietf_decrypt(ciphertext, ad, _nonce(n), k)
    except CryptoError:
        raise NoiseError("decryption failed: bad MAC (corrupted, forged or out of order)") from None


# The transport path is dominated by per-call overhead: PyNaCl's public wrappers spend about
# 5 us per call on argument checks, twice the cost of the libsodium call itself. We call the
# same libsodium functions through PyNaCl's own cffi module instead; our callers have already
# guaranteed what those checks verify (32-byte key, 12-byte nonce, bytes, length limits).
# If that (private) module ever moves, fall back to the public wrappers.
try:
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib
except ImportError:  # pragma: no cover - depends on the PyNaCl build
    _encrypt, _decrypt = _encrypt_portable, _decrypt_portable
else:
    _NULL = _ffi.NULL
    _new = _ffi.new_allocator(should_clear_after_alloc=False)
    _buffer = _ffi.buffer
    _sodium_encrypt = _lib.crypto_aead_chacha20poly1305_ietf_encrypt
    _sodium_decrypt = _lib.crypto_aead_chacha20poly1305_ietf_decrypt

    def _encrypt(k: bytes, n: int, ad: bytes, plaintext: bytes) -> bytes:
        size = len(plaintext) + TAGLEN
        out = _new("unsigned char[]", size)
        _sodium_encrypt(out, _NULL, plaintext, size - TAGLEN, ad, len(ad), _NULL, _nonce(n), k)
        return _buffer(out, size)[:]  # type: ignore[no-any-return]

    def _decrypt(k: bytes, n: int, ad: bytes, ciphertext: bytes) -> bytes:
        size = len(ciphertext) - TAGLEN  # callers guarantee size >= 0
        out = _new("unsigned char[]", size or 1)
        if _sodium_decrypt(out, _NULL, _NULL, ciphertext, size + TAGLEN, ad, len(ad),
                           _nonce(n), k) != 0:
            raise NoiseError("decryption failed: bad MAC (corrupted, forged or out of order)")
        return _buffer(out, size)[:]  # type: ignore[no-any-return]


def _seal_in_place_portable(k: bytes, n: int, buf: bytearray, start: int, length: int) -> None:
    buf[start:start + length + TAGLEN] = _encrypt_portable(k, n, b"",
                                                           bytes(buf[start:start + length]))


_seal_in_place = _seal_in_place_portable
if _encrypt is not _encrypt_portable:
    _from_buffer = _ffi.from_buffer

    def _seal_in_place(k: bytes, n: int, buf: bytearray, start: int, length: int) -> None:
        # libsodium encrypts in place (its ChaCha20 XOR reads each block before writing it,
        # and the tag is computed over the ciphertext): the bulk path copies nothing.
        at = _from_buffer(buf) + start
        _sodium_encrypt(at, _NULL, at, length, _NULL, 0, _NULL, _nonce(n), k)


def _check_key(name: str, key: bytes, length: int = DHLEN) -> bytes:
    # libsodium reads exactly 32 bytes through a raw pointer: a short key must never reach it.
    if not isinstance(key, bytes | bytearray | memoryview) or len(key) != length:
        raise NoiseError(f"{name} must be {length} bytes")
    return bytes(key)


def x25519_public(private: bytes) -> bytes:
    """The X25519 public key for a 32-byte private key (clamping is done by libsodium)."""
    return crypto_scalarmult_base(_check_key("private key", private))


def _dh(private: bytes, public: bytes) -> bytes:
    """DH() of section 12.1; a low-order `public` (all-zero output) is an error, not zeros."""
    try:
        return crypto_scalarmult(private, public)
    except CryptoError:
        raise NoiseError("invalid (low-order) public key") from None


class HashFunction:
    """HASH(), HMAC-HASH() and HKDF() of section 4.3 for one hashlib constructor."""

    __slots__ = ("hashlen", "name", "new")

    def __init__(self, name: str, new: Callable[..., Any], hashlen: int) -> None:
        self.name = name
        self.new = new  # hashlib constructor; its block_size is HMAC's BLOCKLEN
        self.hashlen = hashlen

    def hash(self, data: bytes) -> bytes:
        digest: bytes = self.new(data).digest()
        return digest

    def hmac(self, key: bytes, data: bytes) -> bytes:
        # RFC 2104 HMAC over the hash: same as hmac.new(key, data, hashlib.blake2b).digest().
        return hmac.digest(key, data, self.new)

    def hkdf(self, chaining_key: bytes, ikm: bytes, num_outputs: int) -> tuple[bytes, ...]:
        temp_key = self.hmac(chaining_key, ikm)
        output1 = self.hmac(temp_key, b"\x01")
        output2 = self.hmac(temp_key, output1 + b"\x02")
        if num_outputs == 2:
            return output1, output2
        return output1, output2, self.hmac(temp_key, output2 + b"\x03")


HASHES: dict[str, HashFunction] = {
    "BLAKE2b": HashFunction("BLAKE2b", hashlib.blake2b, 64),
    "BLAKE2s": HashFunction("BLAKE2s", hashlib.blake2s, 32),
    "SHA256": HashFunction("SHA256", hashlib.sha256, 32),
    "SHA512": HashFunction("SHA512", hashlib.sha512, 64),
}

# ---------------------------------------------------------------------------------------------
# 5.1 CipherState
# ---------------------------------------------------------------------------------------------


class CipherState:
    """A cipher key `k` (or None: "empty") and nonce `n`. After `split()` it is a transport
    direction; `encrypt_with_ad`/`decrypt_with_ad` are the hot path, so they stay lean."""

    __slots__ = ("k", "n")

    def __init__(self, k: bytes | None = None) -> None:
        self.k: bytes | None = None
        self.n = 0
        self.initialize_key(k)

    def initialize_key(self, key: bytes | None) -> None:
        self.k = None if key is None else _check_key("cipher key", key, KEYLEN)
        self.n = 0

    def has_key(self) -> bool:
        return self.k is not None

    def set_nonce(self, nonce: int) -> None:
        """SetNonce(): for out-of-order transports (section 11.4) and tests."""
        if not 0 <= nonce <= MAX_NONCE:
            raise NoiseError("nonce out of range")
        self.n = nonce

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        k = self.k
        if k is None:
            return plaintext
        n = self.n
        if n >= MAX_NONCE:
            raise NoiseError("nonce exhausted: start a new handshake")
        if len(plaintext) > MAX_MESSAGE_LEN - TAGLEN:
            raise NoiseError(f"plaintext too long: {len(plaintext)} > {MAX_MESSAGE_LEN - TAGLEN}")
        ciphertext = _encrypt(k, n, ad, plaintext)
        self.n = n + 1
        return ciphertext

    def encrypt_in_place(self, buf: bytearray, start: int, length: int) -> None:
        """EncryptWithAd with an empty ad, in place: `buf[start:start+length]` becomes the
        ciphertext and the tag goes in the TAGLEN bytes after it, which the caller reserved.
        The same bytes as encrypt_with_ad(b"", plaintext) + nonce step, without the copies."""
        k = self.k
        if k is None:
            raise NoiseError("encrypt_in_place needs a key")
        n = self.n
        if n >= MAX_NONCE:
            raise NoiseError("nonce exhausted: start a new handshake")
        if not 0 <= length <= MAX_MESSAGE_LEN - TAGLEN or start < 0 \
                or start + length + TAGLEN > len(buf):
            raise NoiseError("encrypt_in_place: the plaintext and its tag do not fit")
        _seal_in_place(k, n, buf, start, length)
        self.n = n + 1

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        k = self.k
        if k is None:
            return ciphertext
        n = self.n
        if n >= MAX_NONCE:
            raise NoiseError("nonce exhausted: start a new handshake")
        if not TAGLEN <= len(ciphertext) <= MAX_MESSAGE_LEN:
            raise NoiseError(f"ciphertext length {len(ciphertext)} outside 16..65535")
        if not isinstance(ciphertext, bytes):  # libsodium binding insists on bytes
            ciphertext = bytes(ciphertext)
        plaintext = _decrypt(k, n, ad, ciphertext)  # on failure n is left alone (spec)
        self.n = n + 1
        return plaintext

    def rekey(self) -> None:
        """Rekey() with the default REKEY(k) of section 4.2: first 32 bytes of
        ENCRYPT(k, maxnonce, zerolen, zeros). Keeps `n` (section 11.3)."""
        if self.k is None:
            raise NoiseError("cannot rekey a CipherState without a key")
        self.k = _encrypt(self.k, MAX_NONCE, b"", _ZEROS)[:KEYLEN]


# ---------------------------------------------------------------------------------------------
# 5.2 SymmetricState
# ---------------------------------------------------------------------------------------------


class SymmetricState:
    """A CipherState plus the chaining key `ck` and handshake hash `h`."""

    __slots__ = ("cipher_state", "ck", "h", "hash_fn")

    def __init__(self, protocol_name: bytes, hash_fn: HashFunction) -> None:
        # InitializeSymmetric(protocol_name)
        self.hash_fn = hash_fn
        hashlen = hash_fn.hashlen
        if len(protocol_name) <= hashlen:
            self.h = protocol_name.ljust(hashlen, b"\x00")
        else:
            self.h = hash_fn.hash(protocol_name)
        self.ck = self.h
        self.cipher_state = CipherState()

    def mix_key(self, input_key_material: bytes) -> None:
        self.ck, temp_k = self.hash_fn.hkdf(self.ck, input_key_material, 2)
        self.cipher_state.initialize_key(temp_k[:KEYLEN])  # truncation when HASHLEN is 64

    def mix_hash(self, data: bytes) -> None:
        self.h = self.hash_fn.hash(self.h + data)

    def mix_key_and_hash(self, input_key_material: bytes) -> None:
        self.ck, temp_h, temp_k = self.hash_fn.hkdf(self.ck, input_key_material, 3)
        self.mix_hash(temp_h)
        self.cipher_state.initialize_key(temp_k[:KEYLEN])

    def get_handshake_hash(self) -> bytes:
        return self.h

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher_state.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher_state.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        temp_k1, temp_k2 = self.hash_fn.hkdf(self.ck, b"", 2)
        return CipherState(temp_k1[:KEYLEN]), CipherState(temp_k2[:KEYLEN])


# ---------------------------------------------------------------------------------------------
# Handshake patterns (sections 7, 9 and 18.1)
# ---------------------------------------------------------------------------------------------

# name: (initiator pre-message, responder pre-message, message patterns). Messages alternate
# initiator -> responder, responder -> initiator, ... starting with the initiator.
PATTERNS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # one-way (7.4)
    "N": ("", "s", ("e, es",)),
    "K": ("s", "s", ("e, es, ss",)),
    "X": ("", "s", ("e, es, s, ss",)),
    # fundamental interactive (7.5)
    "NN": ("", "", ("e", "e, ee")),
    "NK": ("", "s", ("e, es", "e, ee")),
    "NX": ("", "", ("e", "e, ee, s, es")),
    "KN": ("s", "", ("e", "e, ee, se")),
    "KK": ("s", "s", ("e, es, ss", "e, ee, se")),
    "KX": ("s", "", ("e", "e, ee, se, s, es")),
    "XN": ("", "", ("e", "e, ee", "s, se")),
    "XK": ("", "s", ("e, es", "e, ee", "s, se")),
    "XX": ("", "", ("e", "e, ee, s, es", "s, se")),
    "IN": ("", "", ("e, s", "e, ee, se")),
    "IK": ("", "s", ("e, es, s, ss", "e, ee, se")),
    "IX": ("", "", ("e, s", "e, ee, se, s, es")),
    # deferred interactive (18.1)
    "NK1": ("", "s", ("e", "e, ee, es")),
    "NX1": ("", "", ("e", "e, ee, s", "es")),
    "X1N": ("", "", ("e", "e, ee", "s", "se")),
    "X1K": ("", "s", ("e, es", "e, ee", "s", "se")),
    "XK1": ("", "s", ("e", "e, ee, es", "s, se")),
    "X1K1": ("", "s", ("e", "e, ee, es", "s", "se")),
    "X1X": ("", "", ("e", "e, ee, s, es", "s", "se")),
    "XX1": ("", "", ("e", "e, ee, s", "es, s, se")),
    "X1X1": ("", "", ("e", "e, ee, s", "es, s", "se")),
    "K1N": ("s", "", ("e", "e, ee", "se")),
    "K1K": ("s", "s", ("e, es", "e, ee", "se")),
    "KK1": ("s", "s", ("e", "e, ee, se, es")),
    "K1K1": ("s", "s", ("e", "e, ee, es", "se")),
    "K1X": ("s", "", ("e", "e, ee, s, es", "se")),
    "KX1": ("s", "", ("e", "e, ee, se, s", "es")),
    "K1X1": ("s", "", ("e", "e, ee, s", "se, es")),
    "I1N": ("", "", ("e, s", "e, ee", "se")),
    "I1K": ("", "s", ("e, es, s", "e, ee", "se")),
    "IK1": ("", "s", ("e, s", "e, ee, se, es")),
    "I1K1": ("", "s", ("e, s", "e, ee, es", "se")),
    "I1X": ("", "", ("e, s", "e, ee, s, es", "se")),
    "IX1": ("", "", ("e, s", "e, ee, se, s", "es")),
    "I1X1": ("", "", ("e, s", "e, ee, s", "se, es")),
}

_NAME_SECTION = re.compile(r"([A-Z0-9]+)([a-z][a-z0-9]*(?:\+[a-z][a-z0-9]*)*)?")
_PSK_MODIFIER = re.compile(r"psk([0-9]+)")


def _tokens(message_pattern: str) -> list[str]:
    return [t.strip() for t in message_pattern.split(",") if t.strip()]


def _parse_protocol_name(
    protocol_name: str,
) -> tuple[str, str, list[list[str]], HashFunction]:
    """-> (initiator pre-message, responder pre-message, message patterns, hash)."""
    if len(protocol_name.encode()) > 255:
        raise NoiseError("protocol name longer than 255 bytes")
    parts = protocol_name.split("_")
    if len(parts) != 5 or parts[0] != "Noise":
        raise NoiseError(f"bad protocol name {protocol_name!r}: want Noise_PATTERN_DH_CIPHER_HASH")
    _, pattern_section, dh, cipher, hash_name = parts
    if dh != "25519":
        raise NoiseError(f"unsupported DH {dh!r}: only 25519")
    if cipher != "ChaChaPoly":
        raise NoiseError(f"unsupported cipher {cipher!r}: only ChaChaPoly")
    if hash_name not in HASHES:
        raise NoiseError(f"unsupported hash {hash_name!r}: one of {', '.join(HASHES)}")
    match = _NAME_SECTION.fullmatch(pattern_section)
    if match is None or match.group(1) not in PATTERNS:
        raise NoiseError(f"unsupported handshake pattern {pattern_section!r}")
    pre_i, pre_r, messages = PATTERNS[match.group(1)]
    message_patterns = [_tokens(m) for m in messages]
    modifiers = match.group(2).split("+") if match.group(2) else []
    if len(set(modifiers)) != len(modifiers):
        raise NoiseError(f"repeated pattern modifier in {pattern_section!r}")
    for modifier in modifiers:
        psk = _PSK_MODIFIER.fullmatch(modifier)
        if psk is None:
            raise NoiseError(f"unsupported pattern modifier {modifier!r}")
        index = int(psk.group(1))
        if index > len(message_patterns):
            raise NoiseError(f"{modifier} needs at least {index} handshake messages")
        # psk0: start of the first message; pskN: end of the Nth message (section 9.4).
        if index == 0:
            message_patterns[0].insert(0, "psk")
        else:
            message_patterns[index - 1].append("psk")
    return pre_i, pre_r, message_patterns, HASHES[hash_name]


# ---------------------------------------------------------------------------------------------
# 5.3 HandshakeState
# ---------------------------------------------------------------------------------------------


class HandshakeState:
    """One side of a Noise handshake.

    `write_message` / `read_message` in turn (the initiator writes first); once `complete`,
    `split()` gives (c1, c2): c1 protects initiator -> responder, c2 the other way. The
    handshake hash is for channel binding (section 11.2).
    """

    def __init__(
        self,
        protocol_name: str,
        initiator: bool,
        prologue: bytes = b"",
        s: bytes | None = None,
        e: bytes | None = None,
        rs: bytes | None = None,
        psks: Sequence[bytes] = (),
        *,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        pre_i, pre_r, message_patterns, hash_fn = _parse_protocol_name(protocol_name)
        self._initiator = initiator
        self._random = random
        self._message_patterns = message_patterns
        self._index = 0  # next message pattern; even = written by the initiator
        self._failed = False
        self._split: tuple[CipherState, CipherState] | None = None
        self._psk_handshake = any("psk" in m for m in message_patterns)

        # Check the keys the pattern needs before anything happens on the wire.
        local_pre, remote_pre = (pre_i, pre_r) if initiator else (pre_r, pre_i)
        own = [m for i, m in enumerate(message_patterns) if (i % 2 == 0) == initiator]
        uses_s = (
            "s" in local_pre
            or any("s" in m for m in own)
            or any(
                t == "ss" or t == ("se" if initiator else "es")
                for m in message_patterns
                for t in m
            )
        )
        if uses_s and s is None:
            raise NoiseError(f"{protocol_name} needs a local static key s")
        if "s" in remote_pre and rs is None:
            raise NoiseError(f"{protocol_name} needs the remote static key rs in advance")
        if "s" not in remote_pre and rs is not None:
            raise NoiseError(f"{protocol_name} does not take rs in advance (it is transmitted)")
        n_psk = sum(m.count("psk") for m in message_patterns)
        if len(psks) != n_psk:
            raise NoiseError(f"{protocol_name} needs {n_psk} PSKs, got {len(psks)}")

        self._s = None if s is None else _check_key("s", s)
        self._s_pub = None if self._s is None else x25519_public(self._s)
        self._e = None if e is None else _check_key("e", e)
        self._e_pub: bytes | None = None
        self._rs = None if rs is None else _check_key("rs", rs)
        self._re: bytes | None = None
        self._psks = [_check_key("psk", p, KEYLEN) for p in psks]
        self._overheads = self._message_overheads()

        self._symmetric = symmetric = SymmetricState(protocol_name.encode(), hash_fn)
        symmetric.mix_hash(bytes(prologue))
        # Pre-message public keys: the initiator's first (section 5.3). Only "s" occurs in the
        # supported patterns.
        for pre, is_local in ((pre_i, initiator), (pre_r, not initiator)):
            if "s" in pre:
                key = self._s_pub if is_local else self._rs
                assert key is not None  # checked above
                symmetric.mix_hash(key)

    # -- public state ---------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return self._split is not None

    @property
    def remote_static(self) -> bytes | None:
        return self._rs

    @property
    def handshake_hash(self) -> bytes:
        """h; final once `complete` (before that it is an intermediate value)."""
        return self._symmetric.h

    def split(self) -> tuple[CipherState, CipherState]:
        if self._split is None:
            raise NoiseError("handshake not complete: no transport keys yet")
        return self._split

    # -- messages -------------------------------------------------------------------------

    def write_message(self, payload: bytes) -> bytes:
        self._check_turn(writing=True)
        tokens = self._message_patterns[self._index]
        size = self._overheads[self._index] + len(payload)
        if size > MAX_MESSAGE_LEN:
            raise NoiseError(f"handshake message would be {size} bytes > {MAX_MESSAGE_LEN}")
        self._failed = True  # poisoned until this message is fully processed
        symmetric = self._symmetric
        out: list[bytes] = []
        for token in tokens:
            if token == "e":
                if self._e is None:
                    self._e = self._random(DHLEN)
                e = self._e = _check_key("generated e", self._e)
                self._e_pub = e_pub = x25519_public(e)
                out.append(e_pub)
                symmetric.mix_hash(e_pub)
                if self._psk_handshake:
                    symmetric.mix_key(e_pub)
            elif token == "s":
                assert self._s_pub is not None  # checked in __init__
                out.append(symmetric.encrypt_and_hash(self._s_pub))
            elif token == "psk":
                symmetric.mix_key_and_hash(self._psks.pop(0))
            else:
                self._mix_dh(token)
        out.append(symmetric.encrypt_and_hash(payload))
        self._finish_message()
        return b"".join(out)

    def read_message(self, message: bytes) -> bytes:
        self._check_turn(writing=False)
        message = bytes(message)
        # The exact size of the keys and tags is known in advance, so one check here
        # guarantees every slice below is complete.
        if len(message) > MAX_MESSAGE_LEN:
            raise NoiseError(f"handshake message too long: {len(message)} > {MAX_MESSAGE_LEN}")
        if len(message) < self._overheads[self._index]:
            raise NoiseError(
                f"handshake message too short: {len(message)} < {self._overheads[self._index]}"
            )
        self._failed = True
        symmetric = self._symmetric
        pos = 0
        for token in self._message_patterns[self._index]:
            if token == "e":
                self._re = re_pub = message[pos : pos + DHLEN]
                pos += DHLEN
                symmetric.mix_hash(re_pub)
                if self._psk_handshake:
                    symmetric.mix_key(re_pub)
            elif token == "s":
                size = DHLEN + TAGLEN if symmetric.cipher_state.has_key() else DHLEN
                self._rs = symmetric.decrypt_and_hash(message[pos : pos + size])
                pos += size
            elif token == "psk":
                symmetric.mix_key_and_hash(self._psks.pop(0))
            else:
                self._mix_dh(token)
        payload = symmetric.decrypt_and_hash(message[pos:])
        self._finish_message()
        return payload

    # -- internals ------------------------------------------------------------------------

    def _check_turn(self, *, writing: bool) -> None:
        if self._failed:
            raise NoiseError("handshake already failed")
        if self._split is not None:
            raise NoiseError("handshake already complete")
        if ((self._index % 2 == 0) == self._initiator) != writing:
            raise NoiseError(f"out of turn: not our turn to {'write' if writing else 'read'}")

    def _mix_dh(self, token: str) -> None:
        # es: initiator's e with responder's s; se: initiator's s with responder's e.
        if token == "ee":
            local, remote = self._e, self._re
        elif token == "ss":
            local, remote = self._s, self._rs
        elif (token == "es") == self._initiator:  # es as initiator, se as responder
            local, remote = self._e, self._rs
        else:  # se as initiator, es as responder
            local, remote = self._s, self._re
        if local is None or remote is None:  # cannot happen with the patterns above
            raise NoiseError(f"token {token}: missing key")
        self._symmetric.mix_key(_dh(local, remote))

    def _finish_message(self) -> None:
        self._index += 1
        self._failed = False
        if self._index == len(self._message_patterns):
            self._split = self._symmetric.split()
            # The handshake secrets are no longer needed; keep only h (channel binding).
            self._e = self._s = None
            self._symmetric.cipher_state = CipherState()
            self._symmetric.ck = b""

    def _message_overheads(self) -> list[int]:
        """Bytes each handshake message adds to its payload (keys and tags). Whether a field
        is encrypted depends only on the tokens before it, so both sides know it in advance."""
        has_key = False
        overheads = []
        for tokens in self._message_patterns:
            size = 0
            for token in tokens:
                if token == "e":
                    size += DHLEN
                    has_key = has_key or self._psk_handshake  # MixKey(e.public_key)
                elif token == "s":
                    size += DHLEN + (TAGLEN if has_key else 0)
                else:  # psk and DH tokens all call MixKey
                    has_key = True
            overheads.append(size + (TAGLEN if has_key else 0))
        return overheads
