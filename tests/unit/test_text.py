"""The one name rule, and times that always render."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import ProtocolError
from p2pchat.core.messages import ContactAccept, ContactRequest, Hello
from p2pchat.core.text import (
    BIDI_CONTROLS,
    BadName,
    counted,
    first_unsafe,
    name_problem,
    valid_name,
)
from p2pchat.core.timestamps import MAX_TIMESTAMP_MS, iso_from_ms

SETTINGS = settings(derandomize=True, deadline=None, database=None, max_examples=300)


@pytest.mark.parametrize("newlines", [False, True])
def test_the_unsafe_scan_finds_exactly_the_control_and_bidi_characters(newlines: bool) -> None:
    everything = [chr(cp) for cp in range(0x110000)]
    expected = [ch for ch in everything
                if (unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS)
                and not (newlines and ch == "\n")]
    found = []
    rest = "".join(everything)
    while (ch := first_unsafe(rest, newlines=newlines)) is not None:
        found.append(ch)
        rest = rest[rest.index(ch) + 1:]
        assert len(found) <= len(expected)
    assert found == expected


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("alice", "alice"),
        ("  Bob  ", "Bob"),
        ("e\u0301mile", "\u00e9mile"),  # NFC composes what a keyboard may send decomposed
        ("dev 👩\u200d💻", "dev 👩\u200d💻"),  # a zero-width joiner is a format char, fine
        ("x" * 64, "x" * 64),
    ],
)
def test_valid_names_are_normalised(typed: str, stored: str) -> None:
    assert valid_name(typed) == stored
    assert name_problem(stored) is None
    Hello(stored, "s")  # what the identity file keeps, the wire takes


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "x" * 65, "a\x1b[2Jb", "a\x9bb", "a\x85b", "gnp.exe\u202e", "a\u2066b", "a\nb",
     "a\tb", "\ud800"],
)
def test_invalid_names_are_refused_everywhere_alike(typed: str) -> None:
    with pytest.raises(BadName):
        valid_name(typed)
    for make in (lambda n: Hello(n, "s"), ContactAccept, lambda n: ContactRequest(n, "")):
        with pytest.raises(ProtocolError):
            make(typed)


@SETTINGS
@given(st.text(max_size=80))
def test_whatever_valid_name_accepts_the_wire_accepts(typed: str) -> None:
    try:
        name = valid_name(typed)
    except BadName:
        return
    assert valid_name(name) == name  # idempotent: what is stored validates again unchanged
    assert Hello(name, "s").name == name
    assert unicodedata.is_normalized("NFC", name)


def test_iso_from_ms_matches_datetime_and_never_raises() -> None:
    ms = 1_700_000_000_123
    expected = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    assert iso_from_ms(ms) == expected
    assert iso_from_ms(0) == "1970-01-01T00:00:00.000+00:00"
    assert iso_from_ms(MAX_TIMESTAMP_MS) == "9999-12-31T23:59:59.999+00:00"  # exact, no float
    assert iso_from_ms(2**63 - 1) == iso_from_ms(MAX_TIMESTAMP_MS)
    assert iso_from_ms(-1) == iso_from_ms(0)


@SETTINGS
@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_iso_from_ms_is_total(ms: int) -> None:
    assert datetime.fromisoformat(iso_from_ms(ms)).year in range(1970, 10000)


@SETTINGS
@given(st.integers(min_value=0, max_value=MAX_TIMESTAMP_MS))
def test_iso_from_ms_is_datetimes_own_format(ms: int) -> None:
    """The per-second memo changes nothing: the same text as formatting the instant whole."""
    whole = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert iso_from_ms(ms) == whole.isoformat(timespec="milliseconds")


def test_counts_read_as_english() -> None:
    assert [counted(n, "member") for n in (0, 1, 2)] == ["0 members", "1 member", "2 members"]


def test_a_group_s_size_counts_the_others_online() -> None:
    """Trial 11: `group` said "1 member, 0 online" of a group with only you in it."""
    from p2pchat.core.text import group_size

    assert group_size(1, 0, 0) == "1 member (you)"
    assert group_size(2, 1, 0) == "1 member (you), 1 invited"
    assert group_size(3, 0, 1) == "3 members, 1 other online"
    assert group_size(4, 1, 2) == "3 members, 1 invited, 2 others online"
    assert group_size(3, 0) == "3 members"  # the chat's header: no count of who is online
