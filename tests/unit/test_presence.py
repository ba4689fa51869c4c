"""Presence adverts: daily tags, TXT contents, and parse_advert against hostile input."""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata
from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core import presence
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.presence import (
    MAX_ADDRESSES,
    MAX_NAME_CHARS,
    MAX_VALUE_BYTES,
    Advert,
    clean_name,
    matches_tag,
    parse_advert,
    presence_tag,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
DAY = 20_000  # 2024-10-04
INSTANCE = "p2pchat-0001020304050607._p2pchat._tcp.local."


def public_txt(key: bytes = KEY_A, name: str = "alice") -> dict[bytes, bytes | None]:
    return {k.encode(): v.encode() for k, v in presence.public_properties(key, name).items()}


# -- tags ---------------------------------------------------------------------------------------

def test_the_documented_known_answers() -> None:
    """docs/protocol.md section 11 prints these."""
    key = Identity.from_seed(b"\x01" * 32).public_key
    assert presence_tag(key, DAY) == "76413556e50c2708"
    assert presence.public_instance_name(key) == "p2pchat-8a88e3dd7409f195"


@given(st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=2**40))
def test_tags_follow_the_page(key: bytes, day: int) -> None:
    # Section 11's formula, written again from the page.
    page = hashlib.blake2b(day.to_bytes(8, "big"), key=key, person=b"p2pchat-presence",
                           digest_size=8).hexdigest()
    assert presence_tag(key, day) == page



def test_tag_is_16_hex_chars_and_deterministic() -> None:
    tag = presence_tag(KEY_A, DAY)
    assert len(tag) == 16
    assert int(tag, 16) >= 0
    assert tag == tag.lower()
    assert presence_tag(KEY_A, DAY) == tag


def test_tag_rotates_daily_and_differs_per_key() -> None:
    tags = {presence_tag(KEY_A, day) for day in range(DAY, DAY + 30)}
    assert len(tags) == 30
    assert presence_tag(KEY_A, DAY) != presence_tag(KEY_B, DAY)


def test_day_number() -> None:
    assert presence.day_number(0) == 0
    assert presence.day_number(86399.9) == 0
    assert presence.day_number(86400) == 1
    assert presence.day_number(DAY * 86400 + 5) == DAY


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_tag_matches_within_a_day_of_skew(offset: int) -> None:
    assert matches_tag(KEY_A, presence_tag(KEY_A, DAY + offset), DAY)


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_tag_does_not_match_further_away(offset: int) -> None:
    assert not matches_tag(KEY_A, presence_tag(KEY_A, DAY + offset), DAY)


def test_tag_does_not_match_other_keys() -> None:
    for day in (DAY - 1, DAY, DAY + 1):
        assert not matches_tag(KEY_B, presence_tag(KEY_A, day), DAY)


def test_day_zero_edge() -> None:
    assert matches_tag(KEY_A, presence_tag(KEY_A, 0), 0)
    assert matches_tag(KEY_A, presence_tag(KEY_A, 1), 0)


@pytest.mark.parametrize(
    "tag",
    ["", "zz" * 8, "0" * 15, "0" * 17, "ÄÄ" * 8, None, 12, b"0" * 16],
)
def test_malformed_tags_never_match_or_raise(tag: object) -> None:
    assert not matches_tag(KEY_A, tag, DAY)  # type: ignore[arg-type]


def test_uppercase_tag_is_not_accepted() -> None:
    assert not matches_tag(KEY_A, presence_tag(KEY_A, DAY).upper(), DAY)


@pytest.mark.parametrize(
    ("key", "day"), [(b"short", DAY), (KEY_A, -1), (KEY_A, True), (KEY_A, 1.5)]
)
def test_presence_tag_rejects_bad_arguments(key: bytes, day: int) -> None:
    with pytest.raises(ValueError):
        presence_tag(key, day)


# -- what we advertise --------------------------------------------------------------------------


def test_public_properties() -> None:
    props = presence.public_properties(KEY_A, "  Alice \x1b[31m\u202e  ")
    assert props == {"v": "1", "fp": fingerprint(KEY_A), "n": "Alice [31m"}


def test_public_properties_without_printable_name() -> None:
    assert presence.public_properties(KEY_A, "\x00\x07") == {"v": "1", "fp": fingerprint(KEY_A)}


def test_private_properties_say_nothing_but_the_tag() -> None:
    props = presence.private_properties(KEY_A, DAY)
    assert props == {"v": "1", "tag": presence_tag(KEY_A, DAY)}
    assert fingerprint(KEY_A) not in str(props)


def test_instance_names() -> None:
    assert presence.public_instance_name(KEY_A) == presence.public_instance_name(KEY_A)
    assert presence.public_instance_name(KEY_A) != presence.public_instance_name(KEY_B)
    fixed = presence.private_instance_name(lambda n: b"\xab" * n)
    assert fixed == "p2pchat-" + "ab" * 8
    assert presence.private_instance_name() != presence.private_instance_name()
    for name in (presence.public_instance_name(KEY_A), fixed):
        assert "." not in name
        assert len(name.encode()) <= 63


def test_clean_name() -> None:
    assert clean_name("x" * 500) == "x" * MAX_NAME_CHARS
    assert clean_name("a\tb\nc") == "a b c"
    assert clean_name("zero\u200bwidth") == "zerowidth"
    assert clean_name("   ") is None
    assert clean_name("Zoë 🙂") == "Zoë 🙂"


# -- parse_advert -------------------------------------------------------------------------------


def test_public_advert_round_trips_fingerprint() -> None:
    advert = parse_advert(INSTANCE, public_txt(), ["192.168.1.5", "fe80::1%2"], 4242)
    assert advert == Advert(
        instance=INSTANCE,
        addresses=(("192.168.1.5", 4242), ("fe80::1%2", 4242)),
        version="1",
        public_key=KEY_A,
        name="alice",
        tag=None,
    )
    assert advert.may_be(KEY_A, DAY)
    assert not advert.may_be(KEY_B, DAY)


def test_private_advert_carries_only_the_tag() -> None:
    txt = {b"v": b"1", b"tag": presence_tag(KEY_A, DAY).encode()}
    advert = parse_advert(INSTANCE, txt, ["10.0.0.1"], 1)
    assert advert is not None
    assert advert.public_key is None and advert.name is None
    assert advert.may_be(KEY_A, DAY + 1)
    assert not advert.may_be(KEY_A, DAY + 2)
    assert not advert.may_be(KEY_B, DAY)


def test_str_keys_and_values_are_accepted() -> None:
    txt = {k.decode(): v.decode() for k, v in public_txt().items() if v is not None}
    advert = parse_advert(INSTANCE, txt, ["10.0.0.1"], 1)  # type: ignore[arg-type]
    assert advert is not None and advert.public_key == KEY_A


@pytest.mark.parametrize(
    "txt",
    [
        {b"fp": fingerprint(KEY_A).encode()},  # no version
        {b"v": b"2", b"fp": fingerprint(KEY_A).encode()},
        {b"v": None, b"fp": fingerprint(KEY_A).encode()},
        {b"v": b"\xff"},
        {b"v": b"1" * 1000},
    ],
)
def test_missing_or_unknown_version_is_refused(txt: dict[bytes, bytes | None]) -> None:
    assert parse_advert(INSTANCE, txt, ["10.0.0.1"], 1) is None


@pytest.mark.parametrize("port", [0, -1, 65536, True, None, "80", 80.0])
def test_bad_port_is_refused(port: object) -> None:
    assert parse_advert(INSTANCE, public_txt(), ["10.0.0.1"], port) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("instance", ["", "x" * 300, "evil\x00name", None, b"bytes"])
def test_bad_instance_is_refused(instance: object) -> None:
    assert parse_advert(instance, public_txt(), ["10.0.0.1"], 1) is None  # type: ignore[arg-type]


def test_addresses_are_filtered_deduplicated_and_capped() -> None:
    junk: list[object] = [
        "example.com",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "ff02::fb",
        "255.255.255.255",
        "10.0.0.1 ",
        "fe80::1%eth\x00",
        None,
        42,
        b"10.0.0.9",
        "1" * 5000,
        "10.0.0.1",
        "10.0.0.1",
        "::ffff:10.0.0.1",
    ]
    many = [f"10.0.1.{i}" for i in range(40)]
    advert = parse_advert(INSTANCE, public_txt(), junk + many, 7)  # type: ignore[arg-type]
    assert advert is not None
    hosts = [host for host, _ in advert.addresses]
    assert len(hosts) == MAX_ADDRESSES
    assert hosts[:2] == ["10.0.0.1", "::ffff:a00:1"]
    assert len(set(hosts)) == len(hosts)
    assert {port for _, port in advert.addresses} == {7}


@pytest.mark.parametrize("addresses", [[], ["nope"], "10.0.0.1", None, b"\x0a\x00\x00\x01"])
def test_no_usable_address_is_refused(addresses: object) -> None:
    assert parse_advert(INSTANCE, public_txt(), addresses, 1) is None  # type: ignore[arg-type]


def test_bad_fields_are_dropped_not_fatal() -> None:
    txt: dict[bytes, bytes | None] = {
        b"v": b"1",
        b"fp": b"AAAAAAA-AAAAAAA",  # does not parse
        b"n": b"\xff\xfe",  # not UTF-8
        b"tag": b"XYZ",
    }
    advert = parse_advert(INSTANCE, txt, ["10.0.0.1"], 1)
    assert advert is not None
    assert (advert.public_key, advert.name, advert.tag) == (None, None, None)


def test_oversized_values_are_dropped() -> None:
    txt = public_txt()
    txt[b"n"] = b"a" * (MAX_VALUE_BYTES + 1)
    txt[b"fp"] = fingerprint(KEY_A).encode() + b" " * MAX_VALUE_BYTES
    advert = parse_advert(INSTANCE, txt, ["10.0.0.1"], 1)
    assert advert is not None and advert.name is None and advert.public_key is None


def test_name_is_cleaned_and_capped() -> None:
    txt = public_txt()
    txt[b"n"] = ("\u202eevil\x1b" + "n" * 100).encode()
    advert = parse_advert(INSTANCE, txt, ["10.0.0.1"], 1)
    assert advert is not None and advert.name == ("evil" + "n" * 100)[:MAX_NAME_CHARS]


class ExplodingMapping(Mapping[bytes, bytes | None]):
    def __getitem__(self, key: bytes) -> bytes | None:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[bytes]:
        return iter([b"v", b"fp"])

    def __len__(self) -> int:
        return 2


def test_hostile_containers_do_not_raise() -> None:
    assert parse_advert(INSTANCE, ExplodingMapping(), ["10.0.0.1"], 1) is None
    assert parse_advert(INSTANCE, [(b"v", b"1")], ["10.0.0.1"], 1) is None  # type: ignore[arg-type]

    def endless() -> Iterator[str]:
        while True:
            yield "10.9.9.9"

    advert = parse_advert(INSTANCE, public_txt(), endless(), 1)  # type: ignore[arg-type]
    assert advert is not None and advert.addresses == (("10.9.9.9", 1),)


# -- property tests -----------------------------------------------------------------------------

junk_scalar = st.one_of(
    st.none(),
    st.binary(max_size=600),
    st.text(max_size=300),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=True),
)
known_keys = st.sampled_from([b"v", b"fp", b"n", b"tag", "v", "fp", "n"])
txt_values = st.one_of(
    st.none(),
    st.binary(max_size=600),
    st.just(b"1"),
    st.just(fingerprint(KEY_A).encode()),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    junk_scalar,
)
properties = st.one_of(
    st.dictionaries(st.one_of(known_keys, st.binary(max_size=20), st.text()), txt_values),
    junk_scalar,
)
address_item = st.one_of(
    st.ip_addresses().map(str),
    st.text(max_size=80),
    junk_scalar,
)
addresses = st.one_of(st.lists(address_item, max_size=60), junk_scalar)
ports = st.one_of(st.integers(min_value=-10, max_value=70000), junk_scalar)
instances = st.one_of(st.text(max_size=400), junk_scalar)


@settings(max_examples=400, deadline=None)
@given(instance=instances, props=properties, addrs=addresses, port=ports)
def test_parse_advert_never_raises_and_caps_everything(
    instance: object, props: object, addrs: object, port: object
) -> None:
    advert = parse_advert(instance, props, addrs, port)  # type: ignore[arg-type]
    if advert is None:
        return
    assert advert.version == "1"
    assert isinstance(advert.instance, str) and 0 < len(advert.instance) <= 256
    assert 1 <= len(advert.addresses) <= MAX_ADDRESSES
    assert len(set(advert.addresses)) == len(advert.addresses)
    for host, advert_port in advert.addresses:
        parsed = ipaddress.ip_address(host)
        assert not parsed.is_unspecified and not parsed.is_multicast
        assert advert_port == port and 0 < advert_port <= 65535
    if advert.public_key is not None:
        assert len(advert.public_key) == 32
    if advert.name is not None:
        assert 0 < len(advert.name) <= MAX_NAME_CHARS
        assert all(unicodedata.category(ch)[0] != "C" for ch in advert.name)
    if advert.tag is not None:
        assert len(advert.tag) == 16 and set(advert.tag) <= set("0123456789abcdef")


@settings(max_examples=200, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    name=st.text(max_size=200),
    hosts=st.lists(st.ip_addresses(), min_size=1, max_size=20),
    port=st.integers(min_value=1, max_value=65535),
)
def test_valid_public_adverts_round_trip(
    key: bytes, name: str, hosts: list[ipaddress.IPv4Address | ipaddress.IPv6Address], port: int
) -> None:
    usable = [str(h) for h in hosts if not (h.is_unspecified or h.is_multicast)]
    usable = [h for h in usable if h != "255.255.255.255"]
    txt = {k.encode(): v.encode() for k, v in presence.public_properties(key, name).items()}
    advert = parse_advert(INSTANCE, txt, usable, port)
    if not usable:
        assert advert is None
        return
    assert advert is not None
    assert advert.public_key == key
    assert advert.name == clean_name(name)
    assert [h for h, _ in advert.addresses] == list(dict.fromkeys(usable))[:MAX_ADDRESSES]


@given(key=st.binary(min_size=32, max_size=32), day=st.integers(min_value=1, max_value=10**7))
def test_tags_match_only_near_their_day(key: bytes, day: int) -> None:
    tag = presence_tag(key, day)
    assert matches_tag(key, tag, day - 1)
    assert matches_tag(key, tag, day + 1)
    assert not matches_tag(key, tag, day + 2)
    assert not matches_tag(bytes(b ^ 1 for b in key), tag, day)
