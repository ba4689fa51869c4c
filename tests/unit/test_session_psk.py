"""Network handshakes: Noise_XXpsk0 / Noise_IKpsk0 under a network PSK (docs/protocol.md).

What must hold: members with the same PSK connect (XX and IK, and IK falling back to XX); a
responder in several networks finds the right PSK and reports it; and without the right PSK the
handshake fails at its first message, so the recorded bytes in both directions contain neither
side's static key in any form (X25519, Ed25519, fingerprint).
"""

from __future__ import annotations

import random as pyrandom
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core.framing import encode_frame
from p2pchat.core.identity import Identity, x25519_from_ed25519_public
from p2pchat.core.noise import HandshakeState
from p2pchat.core.session import (
    IK_PSK_PROTOCOL,
    KIND_PSK,
    KIND_XX1,
    PROLOGUE_PREFIX,
    XX_PSK_PROTOCOL,
    Closed,
    Established,
    Event,
    Session,
)

ALICE = Identity.from_seed(b"\x01" * 32)
BOB = Identity.from_seed(b"\x02" * 32)
PSK_CLASS = bytes(range(32))
PSK_OTHER = bytes(range(1, 33))
PSK_THIRD = bytes(range(2, 34))


def rng(seed: int) -> Callable[[int], bytes]:
    return pyrandom.Random(seed).randbytes


def _initiator(psk: bytes | None, *, knows_bob: bool = True, bob: Identity = BOB) -> Session:
    return Session(identity=ALICE, initiator=True, now=0.0,
                   remote_key=bob.public_key if knows_bob else None, ik_timestamp=1,
                   psks=() if psk is None else (psk,), random=rng(1))


def _responder(psks: tuple[bytes, ...], *, allow_plain: bool = False,
               allow_xx: bool = True) -> Session:
    return Session(identity=BOB, initiator=False, now=0.0, psks=psks,
                   allow_plain=allow_plain, allow_xx=allow_xx, random=rng(2))


def _run(a: Session, b: Session) -> tuple[list[Event], list[Event], bytes, bytes]:
    """Pump until quiet; returns both sides' events and every byte each side sent."""
    a_events: list[Event] = []
    b_events: list[Event] = []
    a_sent = bytearray()
    b_sent = bytearray()
    for _ in range(20):  # bounded: a handshake settles in a few rounds
        out_a = a.data_to_send()
        a_sent += out_a
        if out_a:
            b_events += b.receive_data(out_a, 0.0)
        out_b = b.data_to_send()
        b_sent += out_b
        if out_b:
            a_events += a.receive_data(out_b, 0.0)
        if not out_a and not out_b:
            break
    return a_events, b_events, bytes(a_sent), bytes(b_sent)


def _secrets_of(identity: Identity) -> list[bytes]:
    """Every form of an identity that must not cross the wire to an outsider."""
    return [identity.public_key, x25519_from_ed25519_public(identity.public_key),
            identity.fingerprint.encode()]


def _established(events: list[Event]) -> Established | None:
    return next((e for e in events if isinstance(e, Established)), None)


@pytest.mark.parametrize("knows_bob", [True, False], ids=["IKpsk0", "XXpsk0"])
def test_members_connect_and_learn_the_network(knows_bob: bool) -> None:
    a, b = _initiator(PSK_CLASS, knows_bob=knows_bob), _responder((PSK_OTHER, PSK_CLASS))
    a_events, b_events, a_sent, _ = _run(a, b)
    ea, eb = _established(a_events), _established(b_events)
    assert ea is not None and eb is not None
    assert ea.remote_key == BOB.public_key and eb.remote_key == ALICE.public_key
    assert ea.psk == eb.psk == PSK_CLASS
    assert ea.pattern == ("IK" if knows_bob else "XX")
    assert a_sent[2] == (0x11 if knows_bob else 0x01) | KIND_PSK
    assert "psk" not in repr(ea)  # the PSK is kept out of logs
    # Transport works both ways.
    a.send_record(b"hello", 0.0)
    _, b_more, _, _ = _run(a, b)
    assert any(getattr(e, "record", None) == b"hello" for e in b_more)


def test_ik_with_an_old_responder_key_falls_back_to_xx_in_the_network() -> None:
    old_bob = Identity.from_seed(b"\x09" * 32)
    a, b = _initiator(PSK_CLASS, bob=old_bob), _responder((PSK_CLASS,))
    a_events, _, _, _ = _run(a, b)
    # Alice expected old_bob and got bob: a key mismatch, as without networks.
    assert _established(a_events) is None
    assert any(isinstance(e, Closed) for e in a_events)


@pytest.mark.parametrize("knows_bob", [True, False], ids=["IKpsk0", "XXpsk0"])
@pytest.mark.parametrize("initiator_psk", [PSK_OTHER, None], ids=["wrong-psk", "no-psk"])
def test_an_outsider_fails_before_any_identity_crosses(
        knows_bob: bool, initiator_psk: bytes | None) -> None:
    a, b = _initiator(initiator_psk, knows_bob=knows_bob), _responder((PSK_CLASS, PSK_THIRD))
    a_events, b_events, a_sent, b_sent = _run(a, b)
    assert _established(a_events) is None and _established(b_events) is None
    assert any(isinstance(e, Closed) for e in b_events)
    # Bob never sends a byte that depends on his key: at most an empty "retry with XX".
    assert b_sent in (b"", encode_frame(bytes((0x20,))))
    for secret in _secrets_of(BOB):
        assert secret not in a_sent + b_sent
    if not knows_bob:  # XX: Alice sends only her ephemeral key and an encrypted empty map
        for secret in _secrets_of(ALICE):
            assert secret not in a_sent


def test_a_responder_without_the_psk_learns_nothing_of_the_initiator() -> None:
    """IKpsk0: the initiator's static key is encrypted under a key that mixes in the PSK, so a
    responder holding a different PSK (or none) cannot decrypt it."""
    a = _initiator(PSK_CLASS)
    ik1 = a.data_to_send()[3:]  # after the length prefix and the kind byte
    for psk in (PSK_OTHER, None):
        protocol = IK_PSK_PROTOCOL if psk is not None else "Noise_IK_25519_ChaChaPoly_BLAKE2b"
        hs = HandshakeState(protocol, False, PROLOGUE_PREFIX + protocol.encode(),
                            s=BOB.x25519_private, psks=() if psk is None else (psk,))
        with pytest.raises(Exception):  # noqa: B017 - NoiseError, whichever step it hits
            hs.read_message(ik1)
        assert hs.remote_static is None or hs.remote_static != x25519_from_ed25519_public(
            ALICE.public_key)


@pytest.mark.parametrize("allow_xx", [True, False])
def test_plain_handshakes_refused_when_only_networks_are_answered(allow_xx: bool) -> None:
    # allow_xx=True is what a relay for networks runs with: a plain IK1 must not get a
    # retry-with-XX either, or the relay tells a stranger it is there.
    for knows_bob in (True, False):
        a = _initiator(None, knows_bob=knows_bob)
        b = _responder((PSK_CLASS,), allow_xx=allow_xx)
        _, b_events, _, b_sent = _run(a, b)
        assert any(isinstance(e, Closed) for e in b_events)
        assert b_sent == b""


def test_plain_ik_only_from_the_keys_allowed() -> None:
    """A node in networks takes plain IK only from its contacts: anyone else who knows its key
    gets no reply at all, so cannot even confirm that it is there."""
    a = _initiator(None)
    b = Session(identity=BOB, initiator=False, now=0.0, psks=(PSK_CLASS,), allow_xx=False,
                plain_from=lambda key: key != ALICE.public_key, random=rng(2))
    _, b_events, _, b_sent = _run(a, b)
    assert b_sent == b"" and any(isinstance(e, Closed) for e in b_events)


def test_plain_ik_still_taken_when_allowed() -> None:
    """Contacts outside the network: a node keeps answering plain IK (allow_plain)."""
    a, b = _initiator(None), _responder((PSK_CLASS,), allow_plain=True, allow_xx=False)
    a_events, b_events, _, _ = _run(a, b)
    eb = _established(b_events)
    assert eb is not None and eb.psk is None and _established(a_events) is not None


def test_a_network_initiator_refuses_a_plain_reply() -> None:
    a = _initiator(PSK_CLASS, knows_bob=False)
    a.data_to_send()
    plain_xx2 = Session(identity=BOB, initiator=False, now=0.0, random=rng(3))
    plain_xx2.receive_data(encode_frame(bytes((KIND_XX1,)) + HandshakeState(
        "Noise_XX_25519_ChaChaPoly_BLAKE2b", True,
        PROLOGUE_PREFIX + b"Noise_XX_25519_ChaChaPoly_BLAKE2b", s=ALICE.x25519_private,
        random=rng(4)).write_message(b"\x80")), 0.0)
    events = a.receive_data(plain_xx2.data_to_send(), 0.0)
    assert any(isinstance(e, Closed) for e in events) and a.closed


def test_session_rejects_bad_psk_arguments() -> None:
    with pytest.raises(ValueError):
        Session(identity=ALICE, initiator=True, now=0.0, psks=(PSK_CLASS, PSK_OTHER))
    with pytest.raises(ValueError):
        Session(identity=BOB, initiator=False, now=0.0, psks=(b"short",))
    with pytest.raises(ValueError):
        Session(identity=BOB, initiator=False, now=0.0, psks=(PSK_CLASS,) * 9)


def test_protocol_names_are_the_documented_ones() -> None:
    assert XX_PSK_PROTOCOL == "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b"
    assert IK_PSK_PROTOCOL == "Noise_IKpsk0_25519_ChaChaPoly_BLAKE2b"


@settings(derandomize=True, deadline=None, max_examples=60)
@given(first=st.binary(max_size=300), kind=st.sampled_from([0x41, 0x51, 0x01, 0x11, 0x43]))
def test_hostile_first_frames_close_cleanly(first: bytes, kind: int) -> None:
    b = _responder((PSK_CLASS, PSK_OTHER))
    events = b.receive_data(encode_frame(bytes((kind,)) + first), 0.0)
    assert not any(isinstance(e, Established) for e in events)
    assert b.closed or events == [] or any(isinstance(e, Closed) for e in events)
    for secret in _secrets_of(BOB):
        assert secret not in b.data_to_send()
