"""Trial 13: B10, `p2pchat status` with no node running said where a plain start listens and
looks, not that it attaches to the relay `settings` keeps (dan's only way to erin); B13, what
the node says of when a request came, for the screen's list order."""

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


def test_a_request_says_when_it_came(tmp_path: Path) -> None:
    """Trial 13, B13: the screen places a request by when it came (`requested_at`, the row's
    first arrival), not above every conversation; a contact has no such field."""
    from p2pchat.node.views import Views
    from p2pchat.storage.store import Store

    came = 1_780_000_000_000
    db = Store(tmp_path / "store.db", b"k" * 32, clock=lambda: came)
    try:
        db.contacts.add(b"r" * 32, "mallory", "request")
        db.contacts.add(b"c" * 32, "bob", "contact")
        views = Views(b"m" * 32, "me", store=lambda: db, is_linked=lambda key: False,
                      peer_of=lambda key: None)
        request, known = (views.contact(c) for c in (db.contacts.get(b"r" * 32),
                                                       db.contacts.get(b"c" * 32)))
    finally:
        db.close()
    from p2pchat.core.timestamps import iso_from_ms

    assert request["requested_at"] == iso_from_ms(came)
    assert "requested_at" not in known
