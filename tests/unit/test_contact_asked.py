"""A contact we asked whose node never said it has us reads "asked, waiting" everywhere, from
what the node keeps (`asked`, schema v10), not "offline" once the screen that asked is gone
(trial 12, B15: the header said "asked, waiting", `p2pchat contacts` later "offline")."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import p2pchat.storage.store as store_mod
from p2pchat.core.contact_words import (
    ASKED,
    NEARBY,
    NOT_DELIVERED,
    NOT_LINKED,
    OFFLINE,
    ONLINE,
    contact_presence,
)
from tests.unit.test_store import open_store

KEYS = [bytes([n]) * 32 for n in range(2, 9)]


def row(**fields: Any) -> dict[str, Any]:
    return {"state": "contact", "online": False, **fields}


@pytest.mark.parametrize(("contact", "nearby", "word"), [
    (row(asked=True), False, NOT_DELIVERED),  # asked, their node never met: not "offline"
    (row(asked=True), True, NOT_DELIVERED),  # seen nearby, not told it has the request
    (row(asked=True, awaits_answer=True), False, ASKED),  # their node has it (14b, B13)
    (row(asked=False), False, OFFLINE),  # they accepted once, away now
    (row(asked=False), True, NEARBY),
    (row(), False, OFFLINE),  # a node before v10 says nothing: as before
    (row(asked=True, online=True), False, ONLINE),  # they accepted: linked
    (row(asked=True, online=True, awaits_answer=True), False, ASKED),  # a knock
    (row(asked=False, awaits_answer=True), False, NOT_LINKED),  # removed us (13b, B7)
    (row(asked=True, unanswered=True), False, NOT_LINKED),  # says more: as the header
    (row(asked=True, state="request"), False, "asking"),  # only a contact's counts
])
def test_the_nodes_asked_is_said_as_asked_waiting(contact: dict[str, Any], nearby: bool,
                                                  word: str) -> None:
    assert contact_presence(contact, nearby=nearby) == word


def test_asked_is_kept_until_their_node_says_it_has_us(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db")
    store.contacts.add(KEYS[0], "bob", "contact", asked=True)
    store.contacts.add(KEYS[1], "carol", "request", note="hi")
    store.commit()
    store.close()
    store = open_store(tmp_path / "db")  # a restart
    try:
        bob, carol = store.contacts.get(KEYS[0]), store.contacts.get(KEYS[1])
        assert bob is not None and bob.asked and carol is not None and not carol.asked
        store.contacts.answered(KEYS[0])
        store.contacts.answered(KEYS[1])  # nothing to do: no write
        store.commit()
        bob = store.contacts.get(KEYS[0])
        assert bob is not None and not bob.asked
    finally:
        store.close()


def test_a_v9_home_asks_only_where_nothing_says_they_met(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    """Old homes: a contact who linked (last_seen), wrote, held what we wrote (their vector)
    or asked us (a request's note) is not "asked, waiting"; one with none of those is."""
    path = tmp_path / "db"
    with monkeypatch.context() as m:  # the store as v9 left it
        m.setattr(store_mod, "_MIGRATIONS", store_mod._MIGRATIONS[:9])
        m.setattr(store_mod, "SCHEMA_VERSION", 9)
        open_store(path).close()
    never, seen, wrote, held, asked_us, request, blocked = KEYS
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for key, state, note, last_seen in [
                (never, "contact", "", None), (seen, "contact", "", 1000),
                (wrote, "contact", "", None), (held, "contact", "", None),
                (asked_us, "contact", "hello", None), (request, "request", "", None),
                (blocked, "blocked", "", None)]:
            conn.execute("INSERT INTO contacts (key, name, name_fold, state, note, created_at,"
                         " last_seen) VALUES (?, ?, ?, ?, ?, 1, ?)",
                         (key, key.hex()[:4], key.hex()[:4], state, note, last_seen))
        for n, key in enumerate((wrote, held)):
            conn.execute("INSERT INTO conversations (id, kind, peer, created_at)"
                         " VALUES (?, 'dm', ?, 1)", (bytes([n]) * 16, key))
        conn.execute("INSERT INTO messages (conv, author, seq, lamport, sent_at, hash,"
                     " received_at, own, sealed) VALUES (?, ?, 1, 1, 1, ?, 1, 0, x'00')",
                     (b"\0" * 16, wrote, b"\0" * 32))
        conn.execute("INSERT INTO peer_seqs (conv, peer, author, seq) VALUES (?, ?, ?, 1)",
                     (b"\1" * 16, held, b"\1" * 32))
    finally:
        conn.close()
    store = open_store(path)
    try:
        asked = {c.key for c in store.contacts.list_all() if c.asked}
        assert asked == {never}
    finally:
        store.close()


def test_a_request_held_is_kept_until_answered_or_removed(tmp_path: Path) -> None:
    """Trial 14c, B6 (schema v11): their node's "it has our request" outlives a restart."""
    store = open_store(tmp_path / "db")
    try:
        for key in KEYS[:2]:
            store.contacts.add(key, key.hex()[:4], "contact", asked=True)
        store.contacts.hold_request(KEYS[0], True)
        store.contacts.hold_request(KEYS[0], True)  # once
        store.contacts.hold_request(KEYS[1], True)
        store.commit()
    finally:
        store.close()
    store = open_store(tmp_path / "db")
    try:
        assert store.contacts.request_held(KEYS[0]) and store.contacts.request_held(KEYS[1])
        store.contacts.hold_request(KEYS[0], False)  # their node knows us now
        store.contacts.remove(KEYS[1])
        store.contacts.add(KEYS[1], "again", "contact", asked=True)
        store.contacts.hold_request(KEYS[1], True)
        store.contacts.set_state(KEYS[1], "blocked")  # the dialer forgets it too
        assert not store.contacts.request_held(KEYS[0])
        assert not store.contacts.request_held(KEYS[1])
    finally:
        store.close()
