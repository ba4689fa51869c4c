import hashlib

import pytest
from hypothesis import given, settings
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


# docs/protocol.md 1.1 and 1.2, written again from the page's words alone: a peer written from
# the page must show the same fingerprints and safety numbers as ours, or people comparing them
# would refuse each other.

def doc_fingerprint(key: bytes) -> str:
    bits = "".join(f"{byte:08b}" for byte in key) + "0000"  # 260 bits: 52 characters
    chars = "".join(ALPHABET[int(bits[i:i + 5], 2)] for i in range(0, 260, 5))
    checked = ""
    for run in (chars[i:i + 13] for i in range(0, 52, 13)):
        factor, total = 2, 0
        for char in reversed(run):
            addend = factor * ALPHABET.index(char)
            total += addend // 32 + addend % 32
            factor = 3 - factor
        checked += run + ALPHABET[(32 - total % 32) % 32]
    return "-".join(checked[i:i + 7] for i in range(0, 56, 7))


def doc_safety_number(key_a: bytes, key_b: bytes) -> str:
    def half(key: bytes) -> str:
        digest = b"p2pchat-safety-v1" + key
        for _ in range(5200):
            digest = hashlib.blake2b(digest + key, digest_size=32).digest()
        return "".join(f"{int.from_bytes(digest[i:i + 5], 'big') % 100000:05d}"
                       for i in range(0, 30, 5))

    digits = "".join(sorted((half(key_a), half(key_b))))
    return " ".join(digits[i:i + 5] for i in range(0, 60, 5))


def test_the_documented_known_answers() -> None:
    one, two = Identity.from_seed(b"\x01" * 32), Identity.from_seed(b"\x02" * 32)
    assert one.public_key.hex() == \
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    assert one.fingerprint == "RKEOHXL-UBHYZLF-7KS3MWT-ZOS5OL4-FGOCN7D-WKBEG73-TOSEADN-APN5OAR"
    assert two.public_key.hex() == \
        "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
    assert two.fingerprint == "QE4XODV-IPULV67-VVDKRTM-GTD6ZTV-FY3CURW-TXDPISO-56YHVXD-6JWOKA3"
    assert safety_number(one.public_key, two.public_key) == \
        "04462 58045 19404 37062 82204 59492 98253 13431 81959 90373 92613 54714"


@given(seeds)
def test_fingerprints_follow_the_page(key: bytes) -> None:
    assert fingerprint(key) == doc_fingerprint(key)
    assert parse_fingerprint(doc_fingerprint(key)) == key


@settings(max_examples=10, deadline=None)  # 10,400 hashes an example
@given(seeds, seeds)
def test_safety_numbers_follow_the_page(key_a: bytes, key_b: bytes) -> None:
    assert safety_number(key_a, key_b) == doc_safety_number(key_a, key_b)
