"""Trial 6 (issue 23): `contacts` rows keep their columns."""

from __future__ import annotations

import pytest

from p2pchat.cli.remote import _print_contacts

FP1, FP2 = "25TL2YU-AAAAAAA", "N6PYCKC-BBBBBBB"


def test_contacts_columns_hold_with_a_long_name(capsys: pytest.CaptureFixture[str]) -> None:
    """B9: "Bobby (calls themself bob) online 25TL..." vs "bob      nearby N6PY...": the
    fingerprints start in one column, whatever the names' lengths (capped)."""
    _print_contacts([
        {"name": "Bobby", "their_name": "bob", "online": True, "state": "contact",
         "fingerprint": FP1, "verified": True},
        {"name": "bob", "online": False, "state": "contact", "fingerprint": FP2}],
        nearby={FP2})
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("Bobby (calls themself bob) online ")
    assert rows[0].index(FP1) == rows[1].index(FP2), rows
    assert rows[1].startswith("bob ") and " nearby " in rows[1]
