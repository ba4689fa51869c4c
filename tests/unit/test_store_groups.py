"""The store's group tables (schema v3): chain, keys sealed at rest, start heads, cuts."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.core.messages import envelope_hash
from p2pchat.storage.store import StoreError
from tests.unit.test_store import ME, PEER, make_log, open_store

GROUP = b"\x07" * 16
KEY = b"\x09" * 32


def test_a_joined_group_starts_at_the_invitation_heads(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    start = {PEER: (5, b"\x05" * 32)}
    store.groups.create(GROUP, "club", 40, start)
    assert store.conversations.heads(GROUP) == start
    assert store.conversations.max_lamport(GROUP) == 40
    later = make_log(PEER, [41, 42], conv=GROUP, start=6, prev=b"\x05" * 32)
    for env in later:
        assert store.conversations.insert_envelope(env, 0, own=False)
    assert store.conversations.heads(GROUP)[PEER] == (7, envelope_hash(later[-1]))
    assert store.conversations.max_lamport(GROUP) == 42
    assert store.groups.list_all() == [(GROUP, False)]
    conv = store.conversations.get(GROUP)
    assert conv is not None and conv.kind == "group" and conv.title == "club"


def test_ops_and_keys_are_sealed_at_rest_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    store.groups.create(GROUP, "club", 0, {})
    store.groups.add_op(GROUP, 1, b"op one bytes")
    store.groups.add_op(GROUP, 2, b"op two bytes")
    store.groups.put_key(GROUP, 1, KEY)
    store.commit()
    store.close()
    raw = path.read_bytes() + (path.with_name("s.db-wal").read_bytes()
                               if path.with_name("s.db-wal").exists() else b"")
    assert KEY not in raw and b"op one bytes" not in raw
    store = open_store(path)
    assert store.groups.ops(GROUP) == [b"op one bytes", b"op two bytes"]
    assert store.groups.epoch_keys(GROUP) == {1: KEY}
    store.groups.set_left(GROUP)
    # a leaver keeps the keys of the epochs it was in: its history stays readable
    assert store.groups.epoch_keys(GROUP) == {1: KEY} and store.groups.list_all() == [(GROUP, True)]


def test_a_gap_in_the_stored_chain_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    store.groups.create(GROUP, "club", 0, {})
    store.groups.add_op(GROUP, 1, b"one")
    store.groups.add_op(GROUP, 3, b"three")
    with pytest.raises(StoreError, match="gap"):
        store.groups.ops(GROUP)


def test_a_cut_drops_what_came_after_and_moves_the_head_back(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    store.groups.create(GROUP, "club", 0, {})
    theirs = make_log(PEER, [1, 2, 3, 4], conv=GROUP)
    mine = make_log(ME, [5], conv=GROUP)
    for env in theirs + mine:
        store.conversations.insert_envelope(env, 0, own=env.author == ME)
    store.groups.truncate_log(GROUP, PEER, 2)
    assert store.conversations.heads(GROUP) == {PEER: (2, envelope_hash(theirs[1])),
                                  ME: (1, envelope_hash(mine[0]))}
    assert [e.seq for e in store.conversations.envelopes(GROUP, PEER, 1, 10)] == [1, 2]
    store.groups.truncate_log(GROUP, PEER, 0)
    assert PEER not in store.conversations.heads(GROUP)
    assert not store.conversations.envelopes(GROUP, PEER, 1, 10)


def test_an_invitation_waits_sealed_until_it_is_handed_over(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    store.groups.create(GROUP, "club", 0, {})
    store.groups.set_invite(GROUP, PEER, b"the invitation")
    assert store.groups.invites(GROUP) == {PEER: b"the invitation"}
    raw = store._conn.execute("SELECT sealed FROM group_invites").fetchone()[0]
    assert b"the invitation" not in raw
    store.groups.set_invite(GROUP, PEER, None)
    assert store.groups.invites(GROUP) == {}
