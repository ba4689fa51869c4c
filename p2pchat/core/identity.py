"""Who a user is: an Ed25519 key pair, its X25519 form for Noise, and how people write it down.

The fingerprint spells out the whole 32-byte public key, so it is all a person needs to add a
contact; nothing short and guessable stands in for a key. It is base32 (RFC 4648, no padding), cut
into four runs of 13 characters, each followed by a Luhn mod 32 check character (the scheme
Syncthing device IDs use), then shown in eight dash-separated groups of seven. A single mistyped
character always breaks its run's check, so a typo is refused before anything touches the network.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils

KEY_SIZE = 32
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_RUN = 13  # data characters per check character
_GROUP = 7  # characters per displayed group
_ENCODED = 52  # base32 characters for 32 bytes, unpadded
_TOTAL = _ENCODED + _ENCODED // _RUN  # with the four check characters: 56


class IdentityError(ValueError):
    """A key that is not a valid Ed25519 public key, or a seed of the wrong size."""


class FingerprintError(ValueError):
    """A fingerprint that does not parse; the message says what is wrong, for the user."""


def _luhn32(text: str) -> str:
    # Luhn mod N over the base32 alphabet: catches every single substitution and most
    # adjacent transpositions within a run.
    factor = 2
    total = 0
    for char in reversed(text):
        addend = factor * _ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return _ALPHABET[(32 - total % 32) % 32]


@functools.lru_cache(maxsize=4096)  # pure, and shown for every message and peer listed
def fingerprint(public_key: bytes) -> str:
    """The display form of a public key: eight groups of seven characters joined by dashes."""
    if len(public_key) != KEY_SIZE:
        raise IdentityError(f"a public key has {KEY_SIZE} bytes, not {len(public_key)}")
    encoded = base64.b32encode(public_key).decode("ascii").rstrip("=")
    runs = [encoded[i : i + _RUN] for i in range(0, _ENCODED, _RUN)]
    checked = "".join(run + _luhn32(run) for run in runs)
    return "-".join(checked[i : i + _GROUP] for i in range(0, _TOTAL, _GROUP))


def short_fingerprint(public_key: bytes) -> str:
    """The first group of the fingerprint: for display beside a name, never to identify anyone."""
    return fingerprint(public_key)[:_GROUP]


def parse_fingerprint(text: str) -> bytes:
    """The public key a typed fingerprint spells; case, spaces and dashes do not matter."""
    cleaned = "".join(ch for ch in text if ch not in " -\t\n").upper()
    if len(cleaned) != _TOTAL:
        raise FingerprintError(
            f"a fingerprint has {_TOTAL} letters and digits, this one has {len(cleaned)}"
        )
    for position, char in enumerate(cleaned, start=1):
        if char not in _ALPHABET:
            raise FingerprintError(
                f"character {position} ({char!r}) cannot appear in a fingerprint"
                " (only the letters A-Z and the digits 2-7 do)"
            )
    encoded = ""
    step = _RUN + 1
    for index in range(0, _TOTAL, step):
        run, check = cleaned[index : index + _RUN], cleaned[index + _RUN]
        if _luhn32(run) != check:
            first = index + 1
            raise FingerprintError(
                f"check failed for characters {first}-{first + _RUN}: one of them is mistyped"
            )
        encoded += run
    key = base64.b32decode(encoded + "====")
    if fingerprint(key).replace("-", "") != cleaned:
        # The last base32 character carries spare bits that must be zero.
        raise FingerprintError("the last group is not a valid ending: it is mistyped")
    return key


def x25519_from_ed25519_public(public_key: bytes) -> bytes:
    """The Noise static public key that belongs to an Ed25519 identity key."""
    if len(public_key) != KEY_SIZE:
        raise IdentityError(f"a public key has {KEY_SIZE} bytes, not {len(public_key)}")
    try:
        return bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key))
    except (nacl.exceptions.CryptoError, ValueError, RuntimeError) as exc:
        raise IdentityError("not a valid Ed25519 public key") from exc


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is the holder of `public_key` signing exactly `data`."""
    try:
        nacl.signing.VerifyKey(public_key).verify(data, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


_SAFETY_ITERATIONS = 5200
_SAFETY_VERSION = b"p2pchat-safety-v1"


def _safety_half(public_key: bytes) -> str:
    # As Signal's numeric fingerprints: iterate a hash so that grinding for a key whose number
    # looks like someone else's is expensive, then read 30 decimal digits out of it.
    digest = _SAFETY_VERSION + public_key
    for _ in range(_SAFETY_ITERATIONS):
        digest = hashlib.blake2b(digest + public_key, digest_size=32).digest()
    chunks = (int.from_bytes(digest[i : i + 5], "big") % 100_000 for i in range(0, 30, 5))
    return "".join(f"{chunk:05d}" for chunk in chunks)


def safety_half(public_key: bytes) -> str:
    """The 30 digits `public_key` contributes to every safety number it is in (protocol 1.2):
    the same with every contact, so it is the other half that tells an impostor apart."""
    if len(public_key) != KEY_SIZE:
        raise IdentityError(f"a public key has {KEY_SIZE} bytes, not {len(public_key)}")
    return _safety_half(public_key)


def safety_number(key_a: bytes, key_b: bytes) -> str:
    """Sixty digits in twelve groups, the same on both sides whichever order the keys come in."""
    for key in (key_a, key_b):
        if len(key) != KEY_SIZE:
            raise IdentityError(f"a public key has {KEY_SIZE} bytes, not {len(key)}")
    digits = "".join(sorted((_safety_half(key_a), _safety_half(key_b))))
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


@dataclass(frozen=True)
class Identity:
    """A user's secret identity. Built from the 32-byte Ed25519 seed; everything else derives."""

    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    x25519_private: bytes = field(init=False, repr=False)
    x25519_public: bytes = field(init=False)
    _signing: nacl.signing.SigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != KEY_SIZE:
            raise IdentityError(f"an identity seed has {KEY_SIZE} bytes, not {len(self.seed)}")
        public, secret = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        object.__setattr__(self, "_signing", nacl.signing.SigningKey(self.seed))
        object.__setattr__(self, "public_key", public)
        object.__setattr__(
            self,
            "x25519_private",
            bytes(nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(secret)),
        )
        object.__setattr__(self, "x25519_public", x25519_from_ed25519_public(public))

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        return cls(seed=bytes(seed))

    @classmethod
    def generate(cls, random: Callable[[int], bytes] | None = None) -> Identity:
        draw = random if random is not None else nacl.utils.random
        return cls(seed=draw(KEY_SIZE))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """A detached Ed25519 signature over exactly `data`."""
        return bytes(self._signing.sign(data).signature)

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for one local purpose (e.g. sealing stored messages), never sent anywhere.

        BLAKE2b keyed with the seed is a PRF; the purpose string separates the keys it yields.
        """
        person = purpose.encode("utf-8")
        if not 0 < len(person) <= 16:
            raise ValueError("a key purpose is 1 to 16 bytes")
        return hashlib.blake2b(b"", key=self.seed, person=person, digest_size=32).digest()
