"""Versioning (docs/protocol.md, "Versions"): every handshake payload announces the sender's
protocol revision; a peer that says nothing is revision 1; a peer below the revision a side
needs is told so in words (a CLOSE reason it shows) instead of being dropped."""

from __future__ import annotations

import msgpack
import pytest

from p2pchat.core.framing import encode_frame
from p2pchat.core.identity import Identity, x25519_from_ed25519_public
from p2pchat.core.noise import HandshakeState
from p2pchat.core.session import (
    IK_PROTOCOL,
    PROLOGUE_PREFIX,
    PROTOCOL_REVISION,
    Closed,
    Established,
    SessionConfig,
)
from tests.unit.test_session import ALICE, BOB, Pair, initiator, responder, rng, split_frames

KIND_IK1, KIND_IK2 = 0x11, 0x12
T_KEEPALIVE, T_CLOSE = 0x02, 0x03


def _established(events: list[object]) -> Established:
    found = [e for e in events if isinstance(e, Established)]
    assert len(found) == 1, events
    return found[0]


@pytest.mark.parametrize("ik", [True, False])
def test_both_sides_learn_each_others_revision(ik: bool) -> None:
    pair = Pair(initiator(BOB if ik else None), responder())
    pair.pump()
    assert _established(pair.a_events).revision == PROTOCOL_REVISION == 6
    assert _established(pair.b_events).revision == PROTOCOL_REVISION


@pytest.mark.parametrize("ik", [True, False])
@pytest.mark.parametrize("strict_side", ["initiator", "responder"])
def test_a_peer_below_the_needed_revision_is_told_in_words(ik: bool, strict_side: str) -> None:
    strict = SessionConfig(min_revision=PROTOCOL_REVISION + 1)
    a_config = strict if strict_side == "initiator" else None
    b_config = strict if strict_side == "responder" else None
    pair = Pair(initiator(BOB if ik else None, config=a_config), responder(config=b_config))
    pair.pump()
    strict_events, old_events = ((pair.a_events, pair.b_events) if strict_side == "initiator"
                                 else (pair.b_events, pair.a_events))
    words = (f"protocol revision {PROTOCOL_REVISION} is too old: this peer needs revision"
             f" {PROTOCOL_REVISION + 1} or later (update p2pchat)")
    # The strict side never reports the link, and says why.
    assert not any(isinstance(e, Established) for e in strict_events)
    assert [e for e in strict_events if isinstance(e, Closed)] == [Closed(words)]
    # The older side got an authenticated CLOSE and shows the words, not a silent drop.
    assert [e for e in old_events if isinstance(e, Closed)] == [Closed(f"closed by peer: {words}")]
    assert pair.a.closed and pair.b.closed


def _old_ik_peer(me: Identity, to: Identity) -> tuple[HandshakeState, bytes]:
    """An IK initiator built to the page before revisions: its payload has no `rev`."""
    hs = HandshakeState(IK_PROTOCOL, True, PROLOGUE_PREFIX + IK_PROTOCOL.encode(),
                        s=me.x25519_private, rs=x25519_from_ed25519_public(to.public_key),
                        random=rng(7))
    payload = msgpack.packb({"ed25519": me.public_key, "ts": 5, "rekey": 10_000})
    return hs, encode_frame(bytes([KIND_IK1]) + hs.write_message(payload))


@pytest.mark.parametrize("min_revision, accepted", [(1, True), (2, False)])
def test_a_peer_that_announces_nothing_is_revision_1(min_revision: int, accepted: bool) -> None:
    bob = responder(config=SessionConfig(min_revision=min_revision))
    hs, ik1 = _old_ik_peer(ALICE, BOB)
    assert bob.receive_data(ik1, 0.0) == []
    (ik2,) = split_frames(bob.data_to_send())
    assert ik2[2] == KIND_IK2
    reply = msgpack.unpackb(hs.read_message(ik2[3:]))
    assert reply["rev"] == PROTOCOL_REVISION  # an older peer ignores the key it does not know
    send, recv = hs.split()
    events = bob.receive_data(encode_frame(send.encrypt_with_ad(b"", bytes([T_KEEPALIVE]))), 1)
    if accepted:
        assert _established(events).revision == 1
        return
    assert events == [Closed("protocol revision 1 is too old: this peer needs revision 2 or"
                             " later (update p2pchat)")]
    (close,) = split_frames(bob.data_to_send())
    plaintext = recv.decrypt_with_ad(b"", close[2:])
    assert plaintext[0] == T_CLOSE and b"revision 1 is too old" in plaintext[1:]


@pytest.mark.parametrize("bad", [0, -1, 2**16, "2", b"\x02", 1.5])
def test_a_revision_out_of_range_is_a_protocol_error(bad: object) -> None:
    bob = responder()
    hs = HandshakeState(IK_PROTOCOL, True, PROLOGUE_PREFIX + IK_PROTOCOL.encode(),
                        s=ALICE.x25519_private, rs=x25519_from_ed25519_public(BOB.public_key),
                        random=rng(8))
    payload = msgpack.packb({"ed25519": ALICE.public_key, "ts": 9, "rekey": 10, "rev": bad})
    bob.receive_data(encode_frame(bytes([KIND_IK1]) + hs.write_message(payload)), 0.0)
    # Refused like any bad IK1 field: the responder asks for XX instead of linking.
    assert not bob.established


@pytest.mark.parametrize("bad", [0, 2**16])
def test_min_revision_is_checked(bad: int) -> None:
    with pytest.raises(ValueError):
        SessionConfig(min_revision=bad)
