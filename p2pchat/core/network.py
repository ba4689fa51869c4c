"""Networks: a random network key turned into a Noise PSK and a sealed discovery advert.

A network is a name and a passphrase that every member types. Its first member draws a random
32-byte *network key* (`new_key`); a node that knows only the passphrase is given that key by a
member after a SPAKE2 exchange (core/admission.py), so the passphrase is never used offline.
From that key come, by keyed BLAKE2b with distinct personalisations:

* the handshake PSK (``Noise_XXpsk0`` / ``Noise_IKpsk0``, see core/session.py);
* one advert key per day, which seals the member's public key and name into its mDNS advert.

Networks joined before admissions existed (version 1 of networks.json) hold a key Argon2id made
of the name and passphrase (`derive_key`): they keep working, flagged as guessable offline, until
their members create the network anew (docs/protocol.md 10.8).

docs/protocol.md ("Networks") is the normative description; the constants below are its numbers.
Pure module: PyNaCl and the standard library; the day comes in, randomness is injectable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable
from typing import Final

import nacl.exceptions
import nacl.pwhash
import nacl.secret

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.presence import MAX_VALUE_BYTES, clean_name

KEY_LEN: Final = 32
MAX_NETWORKS: Final = 8  # networks one node is in (the responder tries each PSK)
NAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
# Argon2id costs: libsodium's MODERATE (3 passes over 256 MiB), about half a second per guess
# (bench/bench_network.py). An outsider who recorded a handshake tests guesses at this price.
OPSLIMIT: Final = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
MEMLIMIT: Final = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
SALT_PERSON: Final = b"p2pchat-netsalt"
PSK_PERSON: Final = b"p2pchat-net-psk"
ADVERT_PERSON: Final = b"p2pchat-net-adv"
CHECK_PERSON: Final = b"p2pchat-net-chk"
CHECK_DIGITS: Final = 8
ADVERT_NAME_BYTES: Final = 96  # name bytes sealed into an advert (the TXT value stays < 256)
# Every sealed entry is padded to this many plaintext bytes, so its length (246 base64
# characters) says nothing about the member's name.
ADVERT_PLAIN_LEN: Final = 144
TXT_PREFIX: Final = "m"  # TXT keys m0..m7, one sealed entry per network


class NetworkError(ValueError):
    """A network name or passphrase that can't be used."""


def check_name(name: str) -> str:
    """A network name: 1-32 of a-z 0-9 . _ -, starting with a letter or digit."""
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise NetworkError("a network name is 1-32 characters: a-z, 0-9, '.', '_', '-'"
                           " (starting with a letter or digit)")
    return name


def salt(name: str) -> bytes:
    """The fixed Argon2id salt of network `name`: BLAKE2b-128 of the name."""
    return hashlib.blake2b(check_name(name).encode("ascii"), person=SALT_PERSON,
                           digest_size=nacl.pwhash.argon2id.SALTBYTES).digest()


def new_key(random: Callable[[int], bytes] = os.urandom) -> bytes:
    """A new network's key: 256 random bits, drawn once by its first member."""
    key = random(KEY_LEN)
    if len(key) != KEY_LEN:
        raise ValueError(f"a network key is {KEY_LEN} bytes")
    return bytes(key)


def derive_key(name: str, passphrase: bytes, *, opslimit: int = OPSLIMIT,
               memlimit: int = MEMLIMIT) -> bytes:
    """The version-1 (legacy) network key of (`name`, `passphrase`): Argon2id, slow on purpose
    and still guessable offline. Only old networks and their migration use it."""
    if not passphrase:
        raise NetworkError("an empty network passphrase protects nothing")
    if len(passphrase) > 1024:
        raise NetworkError("a network passphrase is at most 1024 bytes")
    return bytes(nacl.pwhash.argon2id.kdf(KEY_LEN, passphrase, salt(name),
                                          opslimit=opslimit, memlimit=memlimit))


def _subkey(key: bytes, person: bytes, data: bytes = b"") -> bytes:
    if len(key) != KEY_LEN:
        raise ValueError(f"a network key is {KEY_LEN} bytes")
    return hashlib.blake2b(data, key=key, person=person, digest_size=KEY_LEN).digest()


def handshake_psk(key: bytes) -> bytes:
    """The Noise PSK of the network whose key is `key`."""
    return _subkey(key, PSK_PERSON)


def check_code(key: bytes) -> str:
    """Eight digits every member of the network sees alike, to compare: a different code means
    a different passphrase (a typo isolates silently otherwise). From a keyed BLAKE2b sub-key,
    so it says nothing a recorded handshake does not (docs/protocol.md 10.1)."""
    number = int.from_bytes(_subkey(key, CHECK_PERSON)[:8], "big") % 10**CHECK_DIGITS
    digits = f"{number:0{CHECK_DIGITS}d}"
    return f"{digits[:4]} {digits[4:]}"


def advert_key(key: bytes, day: int) -> bytes:
    """The key sealing adverts on `day` (unix_seconds // 86400)."""
    if isinstance(day, bool) or not isinstance(day, int) or day < 0:
        raise ValueError("day is a non-negative integer")
    return _subkey(key, ADVERT_PERSON, day.to_bytes(8, "big"))


def seal_entry(key: bytes, day: int, public_key: bytes, name: str,
               random: Callable[[int], bytes] = os.urandom) -> str:
    """The TXT value announcing us to members: SecretBox(advert key of `day`) over the msgpack
    array [public key, name, padding], with a fresh random nonce, base64url without padding. To
    anyone without the key it is random bytes of one fixed length; two adverts of the same node
    and day differ too."""
    cleaned = (clean_name(name) or "").encode("utf-8")[:ADVERT_NAME_BYTES]
    text = cleaned.decode("utf-8", "ignore")
    box = nacl.secret.SecretBox(advert_key(key, day))
    sealed = box.encrypt(padded_entry(bytes(public_key), text),
                         random(nacl.secret.SecretBox.NONCE_SIZE))
    return base64.urlsafe_b64encode(bytes(sealed)).rstrip(b"=").decode("ascii")


def padded_entry(public_key: bytes, name: str) -> bytes:
    """msgpack [public key, name, zero bytes]: exactly ADVERT_PLAIN_LEN bytes whatever the name
    (a bin 8 of n bytes packs to n + 2)."""
    bare = len(pack([public_key, name, b""]))
    if bare > ADVERT_PLAIN_LEN:
        raise ValueError("advert entry too long")
    plain = pack([public_key, name, bytes(ADVERT_PLAIN_LEN - bare)])
    assert len(plain) == ADVERT_PLAIN_LEN
    return plain


def open_entry(key: bytes, day: int, value: object) -> tuple[bytes, str | None] | None:
    """(public key, name) if `value` is an entry sealed with `key` on day-1, day or day+1;
    None for anything else. `value` is hostile: never raises."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE_BYTES or not value.isascii():
        return None
    try:
        sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    for candidate in (day, day - 1, day + 1):
        if candidate < 0:
            continue
        try:
            plain = nacl.secret.SecretBox(advert_key(key, candidate)).decrypt(sealed)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            continue
        return _entry(plain)
    return None


def _entry(plain: bytes) -> tuple[bytes, str | None] | None:
    """Decoded, but still only as trustworthy as the least careful member: bound everything."""
    try:
        obj = unpack(plain, max_len=MAX_VALUE_BYTES, max_str=MAX_VALUE_BYTES,
                     max_bin=ADVERT_PLAIN_LEN, max_array=3, max_map=0, what="network advert")
    except ProtocolError:
        return None
    # [key, name, padding]; a two-element entry (before padding) is still read.
    if not isinstance(obj, list) or len(obj) not in (2, 3):
        return None
    if len(obj) == 3 and not isinstance(obj[2], bytes):
        return None
    public_key, name = obj[0], obj[1]
    if not isinstance(public_key, bytes) or len(public_key) != KEY_LEN or not isinstance(name, str):
        return None
    return public_key, clean_name(name)
