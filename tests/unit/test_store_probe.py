"""The store's write probe: says whether the disk takes a commit, without ever waiting."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from p2pchat.storage.store import Store, StoreError

KEY = b"k" * 32


def test_probe_commits_on_a_healthy_store_and_refuses_with_writes_pending(tmp_path: Path) -> None:
    store = Store(tmp_path / "db", KEY)
    store.probe()
    store.contacts.add(b"b" * 32, "bob", "contact")
    with pytest.raises(StoreError):
        store.probe()  # it must not commit someone else's half-done turn
    store.rollback()
    store.probe()
    store.close()


def test_probe_fails_at_once_while_another_program_holds_the_lock(tmp_path: Path) -> None:
    store = Store(tmp_path / "db", KEY)
    holder = sqlite3.connect(tmp_path / "db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Writes would wait ten minutes for this lock (past the test's timeout); the probe must
        # not wait at all.
        store.set_busy_timeout(600_000)
        with pytest.raises(StoreError, match="locked"):
            store.probe()
        store.set_busy_timeout(0)
        with pytest.raises(StoreError, match="locked"):
            store.contacts.add(b"b" * 32, "bob", "contact")
    finally:
        holder.rollback()
        holder.close()
    store.set_busy_timeout(None)
    store.probe()
    store.contacts.add(b"b" * 32, "bob", "contact")
    store.commit()
    assert store.contacts.get(b"b" * 32) is not None
    store.close()
