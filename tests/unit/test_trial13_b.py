"""Trial 13: B10, `p2pchat status` with no node running said where a plain start listens and
looks, not that it attaches to the relay `settings` keeps (dan's only way to erin); B13, what
the node says of when a request came, for the screen's list order."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_contacts_with_no_node_claim_no_presence(capsys: pytest.CaptureFixture[str]) -> None:
    """B4: with no node running, `contacts` said "bob offline": it cannot know. Said once."""
    from p2pchat.cli.remote import _print_contacts

    _print_contacts([{"name": "bob", "online": False, "state": "contact", "fingerprint": "B7",
                      "last_seen": "2026-12-06T19:21:00.000+00:00"},
                     {"name": "dan", "online": False, "state": "contact", "fingerprint": "D7",
                      "asked": True},
                     {"name": "eve", "online": False, "state": "request", "fingerprint": "E7",
                      "note": ""}], None)
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "(node not running: presence not known)", rows
    assert not any("offline" in row for row in rows), rows
    assert "last seen 2026-12-06 19:21 UTC" in rows[1], rows  # a fact, kept
    assert " asked, not delivered " in rows[2] and " asking " in rows[3], rows
    _print_contacts([{"name": "bob", "online": False, "state": "contact", "fingerprint": "B7"}],
                    set())
    assert capsys.readouterr().out.split()[:2] == ["bob", "offline"]


def test_group_members_in_the_words_of_contacts() -> None:
    """B4: `group members` said "offline" of a member not a contact whom the node has no link
    to, and of one discovery saw."""
    from p2pchat.cli.rows import member_rows

    members = [{"fingerprint": "B7", "name": "bob", "owner": True, "you": False,
                "online": False, "contact": True},
               {"fingerprint": "E7", "name": "erin", "owner": False, "you": False,
                "online": False, "contact": False},
               {"fingerprint": "F7", "name": "frank", "owner": False, "you": False,
                "online": False, "contact": False},
               {"fingerprint": "M7", "name": "me", "owner": False, "you": True,
                "online": True}]
    contacts = [{"fingerprint": "B7", "name": "bob", "state": "contact", "online": False}]
    rows = {row.split()[0]: row for row in member_rows(members, contacts, {"E7"})}
    assert rows["bob"].split()[1] == "offline"  # a contact: the node dials it
    assert " nearby " in rows["~erin"] and " not linked " in rows["~frank"], rows
    assert " online " in rows["me"]
    invited = member_rows([{**members[0], "online": True, "invited": True}], contacts, set())
    assert " online " in invited[0] and "(invited, not joined yet)" in invited[0], invited
