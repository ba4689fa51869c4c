"""Trial 13 (B10): `p2pchat status` with no node running said where a plain start listens and
looks, not that it attaches to the relay `settings` keeps (dan's only way to erin)."""

from __future__ import annotations

from pathlib import Path

from p2pchat import settings
from p2pchat.cli.plain_start import plain_start


def test_a_plain_start_says_the_kept_relay(tmp_path: Path) -> None:
    settings.save(tmp_path, {"listen": ["127.0.0.1:40259"], "mdns": False,
                             "relay": ["127.0.0.1:17931"]})
    said = plain_start(tmp_path)
    assert "does not look for people nearby (from 'p2pchat settings'), and attaches to relay" \
        " 127.0.0.1:17931 (from 'p2pchat settings');" in said, said


def test_no_relay_kept_says_none(tmp_path: Path) -> None:
    settings.save(tmp_path, {"mdns": False})
    assert "relay" not in plain_start(tmp_path)
