import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pchat.core.identity import (
    FingerprintError,
    Identity,
    IdentityError,
    fingerprint,
    parse_fingerprint,
    safety_number,
    short_fingerprint,
    verify_signature,
    x25519_from_ed25519_public,
)

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
seeds = st.binary(min_size=32, max_size=32)


def test_identity_is_deterministic_from_seed() -> None:
    a = Identity.from_seed(b"\x01" * 32)
    b = Identity.generate(random=lambda n: b"\x01" * n)
    assert a.public_key == b.public_key and a.x25519_private == b.x25519_private
    assert x25519_from_ed25519_public(a.public_key) == a.x25519_public
    assert "seed" not in repr(a) and a.seed.hex() not in repr(a)


def test_x25519_conversion_matches_scalarmult() -> None:
    import nacl.bindings

    ident = Identity.generate()
    assert nacl.bindings.crypto_scalarmult_base(ident.x25519_private) == ident.x25519_public


def test_signatures() -> None:
    ident = Identity.generate()
    sig = ident.sign(b"hello")
    assert verify_signature(ident.public_key, sig, b"hello")
    assert not verify_signature(ident.public_key, sig, b"hellO")
    assert not verify_signature(Identity.generate().public_key, sig, b"hello")
    assert not verify_signature(ident.public_key, b"short", b"hello")


@given(seeds)
def test_fingerprint_round_trips_any_spelling(seed: bytes) -> None:
    key = Identity.from_seed(seed).public_key
    text = fingerprint(key)
    assert len(text) == 63 and text.count("-") == 7
    assert parse_fingerprint(text) == key
    assert parse_fingerprint(text.lower().replace("-", " ")) == key
    assert parse_fingerprint(text.replace("-", "")) == key
    assert short_fingerprint(key) == text[:7]


@given(seeds, st.integers(min_value=0, max_value=55), st.integers(min_value=1, max_value=31))
def test_any_single_substitution_is_refused(seed: bytes, position: int, shift: int) -> None:
    compact = fingerprint(Identity.from_seed(seed).public_key).replace("-", "")
    wrong = ALPHABET[(ALPHABET.index(compact[position]) + shift) % 32]
    typo = compact[:position] + wrong + compact[position + 1 :]
    with pytest.raises(FingerprintError):
        parse_fingerprint(typo)


def test_fingerprint_errors_say_what_is_wrong() -> None:
    compact = fingerprint(Identity.generate().public_key).replace("-", "")
    with pytest.raises(FingerprintError, match="has 56"):
        parse_fingerprint(compact[:-1])
    with pytest.raises(FingerprintError, match="character 3"):
        parse_fingerprint(compact[:2] + "1" + compact[3:])
    with pytest.raises(FingerprintError):
        parse_fingerprint("")


@given(st.text(max_size=80))
def test_parse_fingerprint_only_raises_fingerprint_error(text: str) -> None:
    try:
        key = parse_fingerprint(text)
    except FingerprintError:
        return
    assert len(key) == 32


def test_safety_number_symmetric_and_distinct() -> None:
    a, b, c = (Identity.generate().public_key for _ in range(3))
    ab = safety_number(a, b)
    assert ab == safety_number(b, a)
    assert ab != safety_number(a, c)
    assert len(ab.replace(" ", "")) == 60 and ab.replace(" ", "").isdigit()
    with pytest.raises(IdentityError):
        safety_number(a, b[:31])


def test_invalid_keys_and_seeds() -> None:
    with pytest.raises(IdentityError):
        Identity.from_seed(b"\x00" * 31)
    with pytest.raises(IdentityError):
        x25519_from_ed25519_public(b"\x00" * 5)


def test_derived_keys_are_separated() -> None:
    ident = Identity.generate()
    assert ident.derive_key("store") != ident.derive_key("other")
    assert ident.derive_key("store") == Identity.from_seed(ident.seed).derive_key("store")
