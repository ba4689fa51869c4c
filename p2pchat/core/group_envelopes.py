"""Group envelopes, pure: sealing, checking and opening a member's signed envelope under its
epoch key (docs/protocol.md 8.6). Split from core/groups.py, which re-exports all of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import nacl.bindings
import nacl.exceptions

from p2pchat.core.group_errors import GroupError, MissingKey, UnknownEpoch
from p2pchat.core.identity import Identity, verify_signature
from p2pchat.core.messages import SIG_LEN, Envelope
from p2pchat.core.sync import ConversationLog

if TYPE_CHECKING:
    from p2pchat.core.groups import GroupState

__all__ = [
    "BODY_OVERHEAD",
    "NONCE_LEN",
    "check_group_envelope",
    "envelope_ad",
    "open_group_envelope",
    "seal_group_envelope",
]

Random = Callable[[int], bytes]

NONCE_LEN = 24  # XChaCha20-Poly1305: random nonces are safe at this size
_EPOCH_LEN = 8
_TAG_LEN = 16
BODY_OVERHEAD = _EPOCH_LEN + NONCE_LEN + _TAG_LEN
_AD_LABEL = b"p2pchat-group-ad"  # 16 bytes, first part of every envelope's associated data


def envelope_epoch(env: Envelope) -> int:
    """The epoch a group envelope says it was sealed in (its body's first 8 bytes); 0 if the
    body is too short to say (``check_group_envelope`` refuses those)."""
    return int.from_bytes(env.body[:_EPOCH_LEN], "big") if len(env.body) >= _EPOCH_LEN else 0


def envelope_ad(group: bytes, epoch: int, author: bytes, seq: int) -> bytes:
    """Associated data: "p2pchat-group-ad" || group (16) || epoch (u64 BE) || author (32) ||
    seq (u64 BE). Binds a ciphertext to its place, so it cannot be moved to another one."""
    return _AD_LABEL + group + epoch.to_bytes(8, "big") + author + seq.to_bytes(8, "big")



def seal_group_envelope(
    state: GroupState,
    keys: Mapping[int, bytes],
    identity: Identity,
    log: ConversationLog,
    plaintext: bytes,
    sent_at: int,
    random: Random,
) -> Envelope:
    """Our next envelope in the group: encrypted under the current epoch key, signed, appended."""
    me = identity.public_key
    if log.conv != state.group:
        raise GroupError("log of another conversation")
    if me not in state.members:
        raise GroupError("not a member of this group")
    key = keys.get(state.epoch)
    if key is None:
        raise MissingKey(f"no key for epoch {state.epoch} yet")
    seq = log.head(me)[0] + 1
    nonce = random(NONCE_LEN)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, envelope_ad(state.group, state.epoch, me, seq), nonce, key
    )
    body = state.epoch.to_bytes(_EPOCH_LEN, "big") + nonce + ciphertext
    env = log.append_local(me, body, sent_at, sign=identity.sign)
    assert env.seq == seq  # the AD was bound to the seq append_local chose
    return env


def check_group_envelope(state: GroupState, env: Envelope) -> int:
    """Authorise a group envelope before ``ConversationLog.receive``: its epoch, its author's
    membership at that epoch (and log cut), and the author's signature. Returns the epoch.

    Needs no key, so members forward and store what they cannot read."""
    if env.conv != state.group:
        raise GroupError("envelope for another conversation")
    if len(env.body) < BODY_OVERHEAD:
        raise GroupError("group envelope body too short")
    epoch = int.from_bytes(env.body[:_EPOCH_LEN], "big")
    if epoch == 0:
        raise GroupError("group envelope of epoch 0")
    if epoch > state.epoch:
        raise UnknownEpoch(f"envelope of epoch {epoch}, we know up to {state.epoch}")
    if not state.may_author(env.author, epoch, env.seq):
        raise GroupError(f"author was not a member at epoch {epoch} (or wrote past their cut)")
    if not _signed(env):
        raise GroupError("group envelope not signed by its author")
    return epoch


_last_signed: Envelope | None = None


def _signed(env: Envelope) -> bool:
    """Whether the author signed ``env``. A received envelope is checked before the log takes
    it and again when it is opened to be shown: remember the last one that verified (frozen,
    and held itself, so `is` cannot match another), sparing every member a second Ed25519
    verify per message (5% of the work of a delivery in a 200-member group)."""
    global _last_signed
    if env is _last_signed:
        return True
    if len(env.sig) != SIG_LEN or not verify_signature(env.author, env.sig, env.signing_bytes()):
        return False
    _last_signed = env
    return True


def open_group_envelope(
    state: GroupState,
    keys: Mapping[int, bytes],
    env: Envelope,
    stale: Mapping[int, Iterable[bytes]] | None = None,
) -> bytes:
    """Check (as ``check_group_envelope``) and decrypt; the plaintext is an ordinary body.
    ``stale`` holds keys of epochs a lost fork branch started (protocol 8.13): tried after the
    chain's own key, so what members wrote on that branch stays readable."""
    epoch = check_group_envelope(state, env)
    key = keys.get(epoch)
    tried = [] if key is None else [key]
    tried += list((stale or {}).get(epoch, ()))
    if not tried:
        raise MissingKey(f"no key for epoch {epoch}")
    nonce = env.body[_EPOCH_LEN : _EPOCH_LEN + NONCE_LEN]
    ad = envelope_ad(state.group, epoch, env.author, env.seq)
    for candidate in tried:
        try:
            return bytes(
                nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                    env.body[_EPOCH_LEN + NONCE_LEN :], ad, nonce, candidate
                )
            )
        except nacl.exceptions.CryptoError:
            continue
    raise GroupError("group envelope does not decrypt under its epoch key")
