"""Admission to a network: a SPAKE2 exchange that hands a joiner the network's random key.

The passphrase of a network is used here and nowhere else (docs/protocol.md 10.7). A node that
knows only the passphrase (the *joiner*, SPAKE2 side A) runs four frames with any member (side B):

    ADMIT1  joiner -> member   version, network id, SPAKE2 message A
    ADMIT2  member -> joiner   SPAKE2 message B
    ADMIT3  joiner -> member   confirm_A: proves the joiner derived the same key
    ADMIT4  member -> joiner   confirm_B, then the network key sealed under the exchange's key

A wrong passphrase on either side gives unrelated keys: the member sees a bad confirm_A and
counts a failed guess; the joiner sees a bad confirm_B. Neither message lets an eavesdropper,
or either side, test a second guess without another live exchange: that is SPAKE2's promise.
The member never sends anything derived from the key before the joiner has proved it.

A member asked about a network it is not in answers exactly as for a wrong passphrase (a SPAKE2
message under a random password), so an exchange tells a stranger nothing about membership.

Pure module: `spake2` (magic-wormhole's) and PyNaCl; randomness is injectable for known answers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Final

import nacl.exceptions
import nacl.secret
from spake2 import SPAKE2_A, SPAKE2_B

from p2pchat.core.network import KEY_LEN, check_name

Random = Callable[[int], bytes]

VERSION: Final = 1
KIND_ADMIT1: Final = 0x60
KIND_ADMIT2: Final = 0x61
KIND_ADMIT3: Final = 0x62
KIND_ADMIT4: Final = 0x63
KIND_BUSY: Final = 0x64  # member -> joiner instead of ADMIT2: rate-limited, retry later
KINDS: Final = frozenset({KIND_ADMIT1, KIND_ADMIT2, KIND_ADMIT3, KIND_ADMIT4, KIND_BUSY})

NETWORK_ID_LEN: Final = 16
SPAKE_MSG_LEN: Final = 33  # side byte ("A" or "B") and a 32-byte Ed25519 element
CONFIRM_LEN: Final = 32
NONCE_LEN: Final = nacl.secret.SecretBox.NONCE_SIZE
ADMIT1_LEN: Final = 1 + NETWORK_ID_LEN + SPAKE_MSG_LEN
ADMIT4_LEN: Final = CONFIRM_LEN + NONCE_LEN + nacl.secret.SecretBox.MACBYTES + KEY_LEN
MAX_FRAME: Final = 128  # no admission frame is longer; a reader refuses more

ID_PERSON: Final = b"p2pchat-netid"
CONFIRM_A_PERSON: Final = b"p2pchat-adm-ca"
CONFIRM_B_PERSON: Final = b"p2pchat-adm-cb"
SEAL_PERSON: Final = b"p2pchat-adm-key"
JOINER_ID: Final = b"p2pchat/1 network joiner "
MEMBER_ID: Final = b"p2pchat/1 network member "


class AdmissionError(Exception):
    """The exchange failed: a wrong passphrase, not a member, or a malformed frame."""


def network_id(name: str) -> bytes:
    """The 16 bytes ADMIT1 names a network by. Not a secret: names are short and guessable,
    and an eavesdropper may learn which name an admission was for."""
    return hashlib.blake2b(check_name(name).encode("ascii"), person=ID_PERSON,
                           digest_size=NETWORK_ID_LEN).digest()


def identities(name: str) -> tuple[bytes, bytes]:
    """SPAKE2's idA (joiner) and idB (member): side labels bound to the network name."""
    raw = check_name(name).encode("ascii")
    return JOINER_ID + raw, MEMBER_ID + raw


def _derive(key: bytes, person: bytes) -> bytes:
    return hashlib.blake2b(b"", key=key, person=person, digest_size=32).digest()


def keys_of(shared: bytes) -> tuple[bytes, bytes, bytes]:
    """(confirm_A, confirm_B, seal key) from SPAKE2's 32-byte output."""
    return (_derive(shared, CONFIRM_A_PERSON), _derive(shared, CONFIRM_B_PERSON),
            _derive(shared, SEAL_PERSON))


def _password(passphrase: str) -> bytes:
    return passphrase.encode("utf-8")


class Joiner:
    """Side A: knows the name and the passphrase, wants the network key."""

    def __init__(self, name: str, passphrase: str, random: Random = os.urandom) -> None:
        self.name = name
        id_a, id_b = identities(name)
        self._spake = SPAKE2_A(_password(passphrase), idA=id_a, idB=id_b, entropy_f=random)
        self._confirm_b = b""
        self._seal = b""

    def first(self) -> bytes:
        """ADMIT1's body."""
        return bytes((VERSION,)) + network_id(self.name) + bytes(self._spake.start())

    def on_reply(self, body: bytes) -> bytes:
        """ADMIT2's body in, ADMIT3's body out."""
        if len(body) != SPAKE_MSG_LEN or body[:1] != b"B":
            raise AdmissionError("malformed ADMIT2")
        try:
            shared = bytes(self._spake.finish(body))
        except Exception as exc:  # spake2 raises ValueError or its SPAKEError
            raise AdmissionError("bad SPAKE2 message") from exc
        confirm_a, self._confirm_b, self._seal = keys_of(shared)
        return confirm_a

    def on_key(self, body: bytes) -> bytes:
        """ADMIT4's body in, the network key out (or AdmissionError)."""
        if len(body) != ADMIT4_LEN or not self._seal:
            raise AdmissionError("malformed ADMIT4")
        if not hmac.compare_digest(body[:CONFIRM_LEN], self._confirm_b):
            raise AdmissionError("the member did not prove the passphrase")
        try:
            key = nacl.secret.SecretBox(self._seal).decrypt(body[CONFIRM_LEN:])
        except nacl.exceptions.CryptoError:
            raise AdmissionError("the network key did not open") from None
        return bytes(key)


class Member:
    """Side B: one exchange, answered for whichever of our networks ADMIT1 names."""

    def __init__(self, lookup: Callable[[bytes], tuple[str, str, bytes] | None],
                 random: Random = os.urandom) -> None:
        # lookup(network id) -> (name, passphrase, network key) of a network we admit to.
        self._lookup = lookup
        self._random = random
        self._confirm_a = b""
        self._reply = b""
        self.network: bytes = b""  # the id ADMIT1 named (the rate limiter's key)
        self._name: str | None = None
        self._key = b""

    @staticmethod
    def parse_first(body: bytes) -> bytes:
        """The network id of an ADMIT1 body (checked before any work is spent)."""
        if len(body) != ADMIT1_LEN or body[0] != VERSION or body[-SPAKE_MSG_LEN:][:1] != b"A":
            raise AdmissionError("malformed ADMIT1")
        return body[1:1 + NETWORK_ID_LEN]

    def on_first(self, body: bytes) -> bytes:
        """ADMIT1's body in, ADMIT2's body out. Not a member of that network: a random
        password, so the answer looks the same and the confirmation fails the same."""
        self.network = self.parse_first(body)
        found = self._lookup(self.network)
        if found is not None:
            name, passphrase, self._key = found
            self._name = name
            id_a, id_b = identities(name)
            password = _password(passphrase)
        else:
            id_a, id_b = JOINER_ID, MEMBER_ID
            password = self._random(32)
        spake = SPAKE2_B(password, idA=id_a, idB=id_b, entropy_f=self._random)
        reply = bytes(spake.start())
        try:
            shared = bytes(spake.finish(body[-SPAKE_MSG_LEN:]))
        except Exception as exc:  # spake2 raises ValueError or its SPAKEError
            raise AdmissionError("bad SPAKE2 message") from exc
        self._confirm_a, confirm_b, seal = keys_of(shared)
        self._reply = confirm_b + bytes(nacl.secret.SecretBox(seal).encrypt(
            self._key or bytes(KEY_LEN), self._random(NONCE_LEN)))
        return reply

    def on_confirm(self, body: bytes) -> tuple[str, bytes]:
        """ADMIT3's body in; (network name, ADMIT4's body) if the joiner proved the passphrase,
        else AdmissionError (a failed guess)."""
        ok = (len(body) == CONFIRM_LEN and bool(self._confirm_a)
              and hmac.compare_digest(body, self._confirm_a))
        if not ok or self._name is None:
            raise AdmissionError("wrong passphrase")
        return self._name, self._reply
