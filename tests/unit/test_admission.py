"""Network admission (core/admission.py) against the known answers docs/protocol.md 10.7 prints,
and the guess limiter (core/guess_limits.py) with the documented defaults."""

from __future__ import annotations

import pytest
from spake2 import SPAKE2_A, SPAKE2_B

from p2pchat.core import admission as adm
from p2pchat.core.guess_limits import GuessLimiter, GuessLimits

KEY = bytes(range(32))
NAME = "lab"
PASSPHRASE = "stuff-tank-gift-busy-rail-frost"
JOINER_RANDOM = b"\x01"  # every byte the joiner draws (SPAKE2's 64-byte scalar seed)
MEMBER_RANDOM = b"\x02"  # every byte the member draws (its scalar seed, then the nonce)

KNOWN = {
    "network_id": "6d418fc423e9b9bd23c1f1b8bb937bda",
    "ADMIT1": "016d418fc423e9b9bd23c1f1b8bb937bda41889bab0b0c28d568d88a1b4069f732248b567b651ead"
              "f2b72e1ec9d076ebf235",
    "ADMIT2": "4295458769210d6ca823bac53baa972d56d51e57651d9b26bf5872cc51b54f874b",
    "K": "15ea119a09fa8952ad35c4b5025aa0934a51a8d3f752f76f53449564053b1578",
    "ADMIT3": "90358fdf041088504ad55d291d50ad55c2b7f5396b5222b12468d10631a7a376",
    "seal": "f2266df5903b510197a70bfa8ea969d6f66f1b7d7b84c6c9a4fea243aab6e9ce",
    "ADMIT4": "8ced96caa48b6d2d21fec6b75c204084334e1dffb20b07cc1251ad7203d33d68"
              "020202020202020202020202020202020202020202020202"
              "3addaf3c48ecd7e65579f935f121ab8615a6441bc6d539e42214401848865da8152f0b2b7a6fa461be8e"
              "7929771922a5",
}


def _lookup(name: str = NAME, passphrase: str = PASSPHRASE):  # type: ignore[no-untyped-def]
    def lookup(network: bytes) -> tuple[str, str, bytes] | None:
        return (name, passphrase, KEY) if network == adm.network_id(name) else None
    return lookup


def _pair(joiner_pass: str = PASSPHRASE, member_pass: str = PASSPHRASE,
          name: str = NAME) -> tuple[adm.Joiner, adm.Member]:
    return (adm.Joiner(name, joiner_pass, random=lambda n: JOINER_RANDOM * n),
            adm.Member(_lookup(NAME, member_pass), random=lambda n: MEMBER_RANDOM * n))


def test_the_exchange_against_known_answers() -> None:
    joiner, member = _pair()
    assert adm.network_id(NAME).hex() == KNOWN["network_id"]
    assert adm.identities(NAME) == (b"p2pchat/1 network joiner lab",
                                    b"p2pchat/1 network member lab")
    admit1 = joiner.first()
    assert admit1.hex() == KNOWN["ADMIT1"]
    admit2 = member.on_first(admit1)
    assert admit2.hex() == KNOWN["ADMIT2"]
    admit3 = joiner.on_reply(admit2)
    assert admit3.hex() == KNOWN["ADMIT3"]
    name, admit4 = member.on_confirm(admit3)
    assert name == NAME and admit4.hex() == KNOWN["ADMIT4"]
    assert joiner.on_key(admit4) == KEY


def test_the_key_schedule_recomputed_from_spake2_itself() -> None:
    """K is python-spake2's output for these inputs; confirm_A, confirm_B and the seal key are
    keyed BLAKE2b of it, as documented."""
    id_a, id_b = adm.identities(NAME)
    a = SPAKE2_A(PASSPHRASE.encode(), idA=id_a, idB=id_b, entropy_f=lambda n: JOINER_RANDOM * n)
    b = SPAKE2_B(PASSPHRASE.encode(), idA=id_a, idB=id_b, entropy_f=lambda n: MEMBER_RANDOM * n)
    message_a, message_b = a.start(), b.start()
    assert message_a.hex() == KNOWN["ADMIT1"][2 + 32:]
    shared = a.finish(message_b)
    assert shared == b.finish(message_a) and shared.hex() == KNOWN["K"]
    confirm_a, confirm_b, seal = adm.keys_of(shared)
    assert confirm_a.hex() == KNOWN["ADMIT3"]
    assert confirm_b.hex() == KNOWN["ADMIT4"][:64]
    assert seal.hex() == KNOWN["seal"]


@pytest.mark.parametrize("joiner_pass", ["stuff-tank-gift-busy-rail-fros",
                                         "Stuff-tank-gift-busy-rail-frost", "physics101"])
def test_a_wrong_passphrase_fails_on_both_sides(joiner_pass: str) -> None:
    joiner, member = _pair(joiner_pass=joiner_pass)
    admit3 = joiner.on_reply(member.on_first(joiner.first()))
    with pytest.raises(adm.AdmissionError, match="wrong passphrase"):
        member.on_confirm(admit3)
    # A joiner facing a member with another passphrase: the member's proof fails.
    joiner, member = _pair(member_pass=joiner_pass)
    admit2 = member.on_first(joiner.first())
    joiner.on_reply(admit2)
    with pytest.raises(adm.AdmissionError):
        member.on_confirm(b"\x00" * 32)
    forged = bytes(adm.ADMIT4_LEN)
    with pytest.raises(adm.AdmissionError, match="did not prove"):
        joiner.on_key(forged)


def test_a_node_outside_the_network_answers_alike_and_admits_no_one() -> None:
    """Asked about a network it is not in, a node sends a SPAKE2 message of the same form:
    the asker learns nothing about membership from the exchange."""
    joiner, _ = _pair(name="other-net")
    member = adm.Member(_lookup())
    admit2 = member.on_first(joiner.first())
    assert len(admit2) == adm.SPAKE_MSG_LEN and admit2[:1] == b"B"
    with pytest.raises(adm.AdmissionError):
        member.on_confirm(joiner.on_reply(admit2))


def test_the_name_is_bound_into_the_exchange() -> None:
    """Same passphrase, another network name: the keys differ, so a passphrase admits to the
    network it was given for only."""
    joiner = adm.Joiner("lab2", PASSPHRASE, random=lambda n: JOINER_RANDOM * n)
    member = adm.Member(lambda network: (NAME, PASSPHRASE, KEY))  # answers whatever is asked
    admit3 = joiner.on_reply(member.on_first(joiner.first()))
    with pytest.raises(adm.AdmissionError):
        member.on_confirm(admit3)


@pytest.mark.parametrize("body", [
    b"", b"\x01", bytes(adm.ADMIT1_LEN), b"\x02" + bytes(adm.ADMIT1_LEN - 1),
    b"\x01" + bytes(16) + b"B" + bytes(32), b"\x01" + bytes(16) + b"A" + bytes(31),
    b"\x01" + bytes(16) + b"A" + b"\xff" * 32,
])
def test_malformed_admit1_is_refused(body: bytes) -> None:
    with pytest.raises(adm.AdmissionError):
        adm.Member(_lookup()).on_first(body)


def test_malformed_replies_are_refused() -> None:
    joiner, member = _pair()
    admit1 = joiner.first()
    for bad in (b"", b"A" + bytes(32), b"B" + bytes(31), b"B" + b"\xff" * 32):
        with pytest.raises(adm.AdmissionError):
            adm.Joiner(NAME, PASSPHRASE).on_reply(bad)
    member.on_first(admit1)
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(adm.AdmissionError):
            member.on_confirm(bad)
    with pytest.raises(adm.AdmissionError):
        joiner.on_key(b"\x00" * 10)  # before ADMIT2, and too short


# ---------------------------------------------------------------- the limiter


def test_the_documented_defaults() -> None:
    limits = GuessLimits()
    assert (limits.free_per_source, limits.backoff, limits.max_backoff) == (3, 10.0, 900.0)
    assert (limits.network_burst, limits.network_rate * 60) == (10, 2.0)


def test_one_source_gets_three_guesses_then_doubling_waits() -> None:
    limiter = GuessLimiter()
    net_id = bytes(16)
    for _ in range(3):
        assert limiter.start("10.0.0.9", net_id, 0.0) == 0.0
    assert limiter.start("10.0.0.9", net_id, 1.0) == pytest.approx(9.0)  # 10 s after the 3rd
    assert limiter.start("10.0.0.9", net_id, 10.0) == 0.0  # the 4th
    assert limiter.start("10.0.0.9", net_id, 29.0) == pytest.approx(1.0)  # then 20 s
    assert limiter.start("10.0.0.9", net_id, 30.0) == 0.0  # the 5th
    assert limiter.wait("10.0.0.9", 30.0) == pytest.approx(40.0)
    # Another address is not held back by this one.
    assert limiter.start("10.0.0.8", net_id, 30.0) == 0.0


def test_the_wait_is_capped_and_forgotten_after_an_hour() -> None:
    limiter = GuessLimiter()
    net_id = bytes(16)
    now = 0.0
    for _ in range(10):
        now += limiter.wait("s", now)
        assert limiter.start("s", net_id, now) == 0.0
        now += 1000  # the network bucket refills meanwhile
    assert limiter.wait("s", now - 1000) == pytest.approx(900.0)
    assert limiter.wait("s", now - 1000 + 3600) == 0.0


def test_a_proven_passphrase_is_no_guess() -> None:
    limiter = GuessLimiter()
    net_id = bytes(16)
    for _ in range(3):
        assert limiter.start("s", net_id, 0.0) == 0.0
        limiter.succeeded("s", net_id)
    assert limiter.wait("s", 0.0) == 0.0


def test_many_sources_share_the_network_budget() -> None:
    limiter = GuessLimiter()
    net_id = bytes(16)
    allowed = [limiter.start(f"10.0.0.{i}", net_id, 0.0) == 0.0 for i in range(20)]
    assert allowed.count(True) == 10
    assert limiter.start("10.0.1.1", net_id, 0.0) == pytest.approx(30.0)
    assert limiter.start("10.0.1.1", net_id, 30.0) == 0.0  # one more every 30 s
    # Another network's budget is its own.
    assert limiter.start("10.0.1.2", b"\x01" * 16, 30.0) == 0.0


def test_made_up_networks_cannot_push_ours_out() -> None:
    ours = b"\x07" * 16
    limiter = GuessLimiter(ours=lambda network: network == ours)
    for i in range(10):
        assert limiter.start(f"a{i}", ours, 0.0) == 0.0
    for i in range(300):  # more made-up ids than are remembered
        limiter.start(f"b{i}", i.to_bytes(16, "big"), 0.0)
    assert limiter.start("c", ours, 0.0) > 0  # our bucket is still empty
