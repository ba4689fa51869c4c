"""A group's membership changes in words (node/group_lines.py), and schema v7's rows: an add is
an invitation, "joined" only once accepted, a leave before that a declined invitation; a home
from before v7 keeps its adds as joined (issue 23)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import p2pchat.storage.store as store_mod
from p2pchat.node.group_lines import change_lines, change_text
from tests.unit.test_store import open_store

CONV = bytes(range(16))
ALICE, BOB, CAROL = (bytes([n]) * 32 for n in (1, 2, 3))
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}


def group() -> Any:
    return SimpleNamespace(conv=CONV, state=SimpleNamespace(title="hall"))


def texts(store: store_mod.Store, me: bytes = ALICE) -> list[str]:
    lines = change_lines(store, group(), None, me, lambda _g, key: NAMES[key])
    return [line["text"] for line in lines]


def test_the_words() -> None:
    assert change_text("add", "bob", you=False, by="you") == "you invited bob"
    assert change_text("add", "bob", you=True, by="alice") == "alice invited you"
    assert change_text("add", "bob", you=False) == "bob was invited"
    assert change_text("join", "bob", you=False) == "bob joined"
    assert change_text("leave", "bob", you=False, declined=True) == \
        "bob declined the invitation"
    assert change_text("leave", "bob", you=False) == "bob left"
    assert change_text("remove", "bob", you=True) == "you were removed"
    assert change_text("join", "bob", you=False, stranger=True) == "~bob joined"
    assert change_text("add", "bob", you=False, by="alice", stranger=True) == \
        "alice invited ~bob"


def test_joined_only_once_accepted_and_a_no_is_declined(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db")
    try:
        store.groups.create(CONV, "hall", 0, {})
        for key, name in NAMES.items():
            store.contacts.add(key, name, "contact")
        store.groups.add_change(CONV, 1, 1000, "create", ALICE, "alice")
        store.groups.add_change(CONV, 2, 2000, "add", BOB, "bob", ALICE)
        store.groups.add_change(CONV, 3, 3000, "add", CAROL, "carol", ALICE)
        assert texts(store) == ["you started the group", "you invited bob",
                                "you invited carol"]
        store.groups.add_join(CONV, 2, 3500)  # bob's sync reached us
        store.groups.add_change(CONV, 4, 4000, "leave", CAROL, "carol")  # carol said no
        store.groups.add_change(CONV, 5, 5000, "leave", BOB, "bob")  # bob left later
        assert texts(store) == ["you started the group", "you invited bob",
                                "you invited carol", "bob joined",
                                "carol declined the invitation", "bob left"]
        assert texts(store, me=BOB)[:2] == ["alice started the group", "alice invited you"]
        lines = change_lines(store, group(), None, ALICE, lambda _g, key: NAMES[key])
        assert [line["id"] for line in lines][3] == "join-2"
        assert lines[4]["declined"] is True and lines[4]["change"] == "leave"
    finally:
        store.close()


def test_a_v6_home_keeps_its_members_joined(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "db"
    with monkeypatch.context() as m:  # the store as v6 left it
        m.setattr(store_mod, "_MIGRATIONS", store_mod._MIGRATIONS[:6])
        m.setattr(store_mod, "SCHEMA_VERSION", 6)
        open_store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("INSERT INTO group_changes (conv, number, at, change, member, name)"
                     " VALUES (?, 2, 2000, 'add', ?, 'bob')", (CONV, BOB))
        conn.execute("INSERT INTO group_changes (conv, number, at, change, member, name)"
                     " VALUES (?, 3, 3000, 'remove', ?, 'bob')", (CONV, BOB))
    finally:
        conn.close()
    store = open_store(path)
    try:
        assert store.groups.joins(CONV) == {2: 2000}
        assert texts(store) == ["~bob was invited", "~bob joined", "~bob was removed"]
        store.contacts.add(BOB, "bob", "contact")
        assert texts(store) == ["bob was invited", "bob joined", "bob was removed"]
    finally:
        store.close()


def test_a_renamed_contact_is_named_as_now_in_every_line(tmp_path: Path) -> None:
    """Point 20 of issue 23 for the membership lines too: messages follow a rename, so do they.
    A member who is not a contact keeps the name it was added under."""
    store = open_store(tmp_path / "db")
    try:
        store.groups.create(CONV, "hall", 0, {})
        store.groups.add_change(CONV, 2, 2000, "add", BOB, "bob", ALICE)
        store.groups.add_change(CONV, 3, 3000, "add", CAROL, "carol", ALICE)
        store.contacts.add(BOB, "robert", "contact")
        store.contacts.add(CAROL, "caz", "request")  # not a contact: the added name stays
        # A member not a contact reads "~carol", as on the Members page (trial 6, B5).
        assert texts(store) == ["you invited robert", "you invited ~carol"]
    finally:
        store.close()
