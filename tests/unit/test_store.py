"""The SQLite store, on real files: schema, durability, encryption at rest, sync and delivery."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nacl.secret import SecretBox

import p2pchat.storage.store as store_mod
from p2pchat.core.messages import (
    ZERO_HASH,
    Envelope,
    dm_conversation_id,
    encode_text,
    envelope_hash,
)
from p2pchat.core.session import MAX_IK_TIMESTAMP
from p2pchat.storage import schema
from p2pchat.storage.store import NameTaken, Store, StoreError
from tests.hostile_peer import raw_envelope, raw_hash

BODY_KEY = bytes(range(32))
ME = b"\x01" * 32
PEER = b"\x02" * 32
OTHER = b"\x03" * 32
CONV = dm_conversation_id(ME, PEER)
NOW = 1_700_000_000_000


def make_log(
    author: bytes, lamports: list[int], conv: bytes = CONV, start: int = 1, prev: bytes = ZERO_HASH
) -> list[Envelope]:
    """A correctly hash-chained run of `author`'s envelopes, seqs start, start+1, ..."""
    out = []
    for i, lamport in enumerate(lamports):
        seq = start + i
        env = Envelope(
            conv=conv,
            author=author,
            seq=seq,
            lamport=lamport,
            sent_at=NOW + seq,
            prev=prev,
            body=encode_text(f"message {seq} from {author[:1].hex()}"),
        )
        out.append(env)
        prev = envelope_hash(env)
    return out


def open_store(path: Path, key: bytes = BODY_KEY) -> Store:
    return Store(path, key, clock=lambda: NOW)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "p2pchat.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = open_store(db_path)
    yield s
    s.close()


@pytest.fixture
def dm(store: Store) -> Store:
    store.conversations.ensure_dm(CONV, PEER)
    store.commit()
    return store


def side_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + sfx) for sfx in ("-wal", "-shm", "-journal")]


# --- opening, schema, files ------------------------------------------------------------------


def test_new_database_settings(store: Store, db_path: Path) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store_mod.SCHEMA_VERSION == 12


def test_files_are_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    old = os.umask(0o000)
    try:
        s = open_store(path)
        s.contacts.add(PEER, "peer", "contact")
        s.commit()
        files = [path, *side_files(path)[:2]]
        assert all(p.exists() for p in files)  # WAL and SHM exist while open
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        s.close()
    finally:
        os.umask(old)


def test_existing_loose_file_is_tightened(db_path: Path) -> None:
    open_store(db_path).close()
    db_path.chmod(0o644)
    open_store(db_path).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def test_bad_body_key_length(db_path: Path) -> None:
    with pytest.raises(ValueError):
        Store(db_path, b"short")


def test_newer_schema_is_refused_and_left_unchanged(db_path: Path) -> None:
    s = open_store(db_path)
    s.contacts.add(PEER, "peer", "contact")
    s.commit()
    s.close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(db_path)
    assert db_path.read_bytes() == before


def test_random_bytes_are_refused_and_left_unchanged(db_path: Path) -> None:
    junk = random.Random(1234).randbytes(8192)
    db_path.write_bytes(junk)
    with pytest.raises(StoreError, match="not an SQLite file"):
        open_store(db_path)
    assert db_path.read_bytes() == junk
    assert not any(p.exists() for p in side_files(db_path))


def test_sqlite_header_but_corrupt_is_refused_and_left_unchanged(db_path: Path) -> None:
    junk = b"SQLite format 3\x00" + random.Random(99).randbytes(4096)
    db_path.write_bytes(junk)
    with pytest.raises(StoreError):
        open_store(db_path)
    assert db_path.read_bytes() == junk


def test_other_programs_database_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="some other program"):
        open_store(db_path)
    assert db_path.read_bytes() == before


def test_a_new_migration_is_applied_once_and_keeps_data(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = open_store(db_path)
    s.contacts.add(PEER, "peer", "contact")
    s.commit()
    s.close()
    nxt = store_mod.SCHEMA_VERSION + 1
    step = schema.migration(["CREATE TABLE next_thing (conv BLOB PRIMARY KEY) STRICT"])
    monkeypatch.setattr(store_mod, "_MIGRATIONS", (*store_mod._MIGRATIONS, step))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", nxt)
    s = open_store(db_path)
    assert s._conn.execute("PRAGMA user_version").fetchone()[0] == nxt
    assert s._conn.execute("SELECT count(*) FROM next_thing").fetchone()[0] == 0
    assert s.contacts.get(PEER) is not None
    s.close()
    open_store(db_path).close()  # already applied: CREATE TABLE is not run again


def test_a_failing_migration_changes_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(db_path).close()
    current = store_mod.SCHEMA_VERSION
    broken = schema.migration(["CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"])
    monkeypatch.setattr(store_mod, "_MIGRATIONS", (*store_mod._MIGRATIONS, broken))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", current + 1)
    with pytest.raises(StoreError, match="migrate"):
        open_store(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == current
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in names
    conn.close()


# --- transactions and durability -------------------------------------------------------------


def test_uncommitted_writes_vanish_on_close(db_path: Path) -> None:
    s = open_store(db_path)
    s.contacts.add(PEER, "kept", "contact")
    s.commit()
    s.contacts.add(OTHER, "lost", "contact")
    s.contacts.set_name(PEER, "renamed")
    s.close()
    s = open_store(db_path)
    assert [c.name for c in s.contacts.list_all()] == ["kept"]
    s.close()


def test_rollback_and_transaction_context(store: Store) -> None:
    store.contacts.add(PEER, "a", "contact")
    store.rollback()
    assert store.contacts.get(PEER) is None
    with store.transaction():
        store.contacts.add(PEER, "a", "contact")
    with pytest.raises(RuntimeError), store.transaction():
        store.contacts.add(OTHER, "b", "contact")
        raise RuntimeError("boom")
    assert [c.name for c in store.contacts.list_all()] == ["a"]
    store.commit()  # nothing pending: a no-op


_CHILD = textwrap.dedent(
    """
    import sys
    from p2pchat.core.messages import ZERO_HASH, Envelope, encode_text, envelope_hash
    from p2pchat.storage.store import Store

    path, key, conv, me, peer = sys.argv[1], *(bytes.fromhex(a) for a in sys.argv[2:])
    s = Store(path, key)
    s.conversations.ensure_dm(conv, peer)
    s.contacts.add(peer, "peer", "contact", addrs=["10.0.0.2:7000"])
    s.ik_stamps.record(peer, 12345)
    prev = ZERO_HASH
    for seq in range(1, 51):
        env = Envelope(conv, me, seq, seq, seq, prev, encode_text(f"m{seq}"))
        s.conversations.insert_envelope(env, seq, own=True)
        prev = envelope_hash(env)
    s.commit()
    env = Envelope(conv, me, 51, 51, 51, prev, encode_text("never committed"))
    s.conversations.insert_envelope(env, 51, own=True)
    s.contacts.set_name(peer, "uncommitted")
    print("pending", flush=True)
    sys.stdin.read()  # parked until SIGKILLed
    """
)


@pytest.mark.timeout(30)
def test_committed_writes_survive_sigkill(db_path: Path) -> None:
    args = [BODY_KEY.hex(), CONV.hex(), ME.hex(), PEER.hex()]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db_path), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "pending"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    # the commits live only in the WAL, so reopening exercises WAL recovery
    assert db_path.with_name(db_path.name + "-wal").stat().st_size > 0
    s = open_store(db_path)
    try:
        assert s.conversations.heads(CONV)[ME][0] == 50
        assert len(s.conversations.history(CONV)) == 50
        contact = s.contacts.get(PEER)
        assert contact is not None
        assert (contact.name, contact.addrs) == ("peer", ("10.0.0.2:7000",))
        assert s.ik_stamps.latest() == {PEER: 12345}
    finally:
        s.close()


# --- encryption at rest ----------------------------------------------------------------------


def test_bodies_are_not_stored_in_plaintext(dm: Store, db_path: Path) -> None:
    secret = "zebra-crossing-7f3a9c-attack-at-dawn"
    env = Envelope(CONV, ME, 1, 1, NOW, ZERO_HASH, encode_text(secret))
    dm.conversations.insert_envelope(env, NOW, own=True)
    dm.commit()
    assert dm.conversations.history(CONV)[0].envelope == env

    def all_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())

    needles = [secret.encode(), encode_text(secret), env.body[:16]]
    assert db_path.with_name(db_path.name + "-wal").stat().st_size > 0
    for needle in needles:
        assert needle not in all_bytes()
    dm.close()  # checkpoints the WAL into the main file
    for needle in needles:
        assert needle not in all_bytes()


def test_rows_that_do_not_decrypt_read_as_unreadable(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = open_store(db_path)
    s.conversations.ensure_dm(CONV, PEER)
    [env] = make_log(ME, [1])
    s.conversations.insert_envelope(env, NOW, own=True)
    s.commit()
    s.close()
    s = open_store(db_path, key=b"\x55" * 32)
    try:
        [msg] = s.conversations.history(CONV)
        assert not msg.readable and msg.own and msg.hash == envelope_hash(env)
        assert (msg.envelope.seq, msg.envelope.body) == (1, b"")
        # never sent on as something it is not
        assert s.conversations.envelopes(CONV, ME, 1, 1) == []
        assert s.conversations.undelivered(CONV, ME, PEER) == []
    finally:
        s.close()
    assert "does not decrypt" in caplog.text


def test_swapped_ciphertexts_are_detected(dm: Store, caplog: pytest.LogCaptureFixture) -> None:
    a, b, c = make_log(ME, [1, 2, 3])
    for env in (a, b, c):
        dm.conversations.insert_envelope(env, NOW, own=True)
    dm.commit()
    # someone with write access to the file moves one sealed body onto another row
    dm._conn.execute(
        "UPDATE messages SET sealed = (SELECT sealed FROM messages WHERE seq = 3) WHERE seq = 2"
    )
    assert [m.readable for m in dm.conversations.history(CONV)] == [True, False, True]
    assert [m.envelope for m in dm.conversations.history(CONV)][::2] == [a, c]
    # Sync gets what precedes the bad row, and nothing from beyond it.
    assert dm.conversations.envelopes(CONV, ME, 1, 3) == [a]
    assert dm.conversations.envelopes(CONV, ME, 3, 3) == [c]
    assert "does not match its row" in caplog.text


def test_a_row_stored_with_a_far_future_sent_at_reads_as_unreadable(dm: Store) -> None:
    # An older version stored envelopes whose sent_at no calendar can show (year > 9999);
    # the codec now refuses them, and every view must still work around such a row.
    first, second = make_log(PEER, [1, 2])
    dm.conversations.insert_envelope(first, NOW, own=False)
    dm.conversations.insert_envelope(second, NOW + 7, own=False)
    dm.commit()
    poisoned = raw_envelope(second, sent_at=2**63 - 1)
    dm._conn.execute(
        "UPDATE messages SET sealed = ?, hash = ?, sent_at = ? WHERE seq = 2",
        (bytes(SecretBox(BODY_KEY).encrypt(poisoned)), raw_hash(poisoned), 2**63 - 1),
    )
    history = dm.conversations.history(CONV)
    assert [m.readable for m in history] == [True, False]
    assert history[1].hash == raw_hash(poisoned)
    assert history[1].envelope.sent_at == NOW + 7  # shown at its arrival
    assert dm.conversations.envelopes(CONV, PEER, 1, 2) == [first]
    assert dm.conversations.history(CONV, limit=1)[0].readable is False


# --- contacts --------------------------------------------------------------------------------


def test_contact_round_trip_and_updates(store: Store, db_path: Path) -> None:
    c = store.contacts.add(PEER, " Alice ", "request", addrs=["192.168.1.5:7000"], note="hi")
    assert c.key == PEER
    assert (c.name, c.state, c.note, c.addrs) == ("Alice", "request", "hi", ("192.168.1.5:7000",))
    assert (c.created_at, c.last_seen) == (NOW, None)
    store.contacts.set_state(PEER, "contact")
    store.contacts.set_addrs(PEER, ["[fe80::1]:7000", "10.0.0.1:1", "10.0.0.1:1"])
    store.contacts.set_note(PEER, "line one\nline two")
    store.contacts.set_last_seen(PEER, NOW + 5)
    store.commit()
    store.close()
    s = open_store(db_path)
    got = s.contacts.get(PEER)
    s.close()
    assert got is not None
    assert got.state == "contact"
    assert got.addrs == ("[fe80::1]:7000", "10.0.0.1:1")  # duplicates dropped, order kept
    assert got.note == "line one\nline two"
    assert got.last_seen == NOW + 5


def test_contact_names_are_unique_case_insensitively(store: Store) -> None:
    store.contacts.add(PEER, "Alice", "contact")
    with pytest.raises(NameTaken):
        store.contacts.add(OTHER, "aLiCe", "request")
    with pytest.raises(NameTaken):
        store.contacts.add(OTHER, "ａｌｉｃｅ", "request")  # fullwidth
    store.contacts.add(OTHER, "Bob", "request")
    with pytest.raises(NameTaken):
        store.contacts.set_name(OTHER, "ALICE")
    store.contacts.set_name(PEER, "ALICE")  # recasing one's own name is fine
    found = store.contacts.by_name("alice")
    assert found is not None and found.key == PEER and found.name == "ALICE"
    assert store.contacts.by_name("carol") is None
    assert store.contacts.by_name("\x1b[31m") is None
    with pytest.raises(StoreError, match="already"):
        store.contacts.add(PEER, "Alice2", "contact")


def test_the_contacts_kept_in_memory_always_agree_with_the_database(store: Store) -> None:
    def from_disk() -> dict[bytes, tuple[str, str]]:
        rows = store._conn.execute("SELECT key, name, state FROM contacts").fetchall()
        return {key: (name, state) for key, name, state in rows}

    def from_memory() -> dict[bytes, tuple[str, str]]:
        found = {}
        for key in from_disk() | {PEER: ("", ""), OTHER: ("", "")}:
            contact = store.contacts.get(key)
            if contact is not None:
                assert store.contacts.state_of(key) == contact.state
                assert store.contacts.by_name(contact.name) == contact
                found[key] = (contact.name, contact.state)
        return found

    store.contacts.add(PEER, "bob", "request")
    assert from_memory() == from_disk() == {PEER: ("bob", "request")}
    store.commit()
    store.contacts.set_state(PEER, "contact")
    store.contacts.set_name(PEER, "Bobby")
    assert from_memory() == from_disk() == {PEER: ("Bobby", "contact")}
    assert store.contacts.by_name("bob") is None
    store.rollback()  # the rename and the state change are undone, in memory too
    assert from_memory() == from_disk() == {PEER: ("bob", "request")}
    store.contacts.add(OTHER, "carol", "contact")
    with pytest.raises(NameTaken):
        store.contacts.set_name(OTHER, "BOB")
    assert store.contacts.remove(PEER)
    assert from_memory() == from_disk() == {OTHER: ("carol", "contact")}
    assert store.contacts.by_name("bob") is None


def test_list_count_and_remove_contacts(store: Store) -> None:
    store.contacts.add(PEER, "bob", "contact")
    store.contacts.add(OTHER, "Alice", "request")
    store.contacts.add(b"\x04" * 32, "mallory", "blocked")
    assert [c.name for c in store.contacts.list_all()] == ["Alice", "bob", "mallory"]
    assert [c.name for c in store.contacts.list_all(["request", "blocked"])] == ["Alice", "mallory"]
    assert store.contacts.count("request") == 1
    assert store.contacts.remove(OTHER)
    assert not store.contacts.remove(OTHER)
    assert store.contacts.count("request") == 0
    with pytest.raises(StoreError, match="no such contact"):
        store.contacts.set_state(OTHER, "contact")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.contacts.add(PEER, "", "contact"),
        lambda s: s.contacts.add(PEER, "x" * 65, "contact"),
        lambda s: s.contacts.add(PEER, "evil\x1b[2J", "contact"),
        lambda s: s.contacts.add(PEER, "gnp.exe\u202e", "contact"),
        lambda s: s.contacts.add(PEER, "a\x9b2J", "contact"),  # C1, which Hello refuses too
        lambda s: s.contacts.add(PEER, "a", "friend"),
        lambda s: s.contacts.add(b"short", "a", "contact"),
        lambda s: s.contacts.add(PEER, "a", "contact", note="n" * 1001),
        lambda s: s.contacts.add(PEER, "a", "contact", addrs=["nohost"]),
        lambda s: s.contacts.add(PEER, "a", "contact", addrs=["h:0"]),
        lambda s: s.contacts.add(PEER, "a", "contact", addrs=["h:65536"]),
        lambda s: s.contacts.add(PEER, "a", "contact", addrs=[f"h{i}:1" for i in range(17)]),
        lambda s: s.contacts.add(PEER, "a", "contact", addrs=["h" * 300 + ":1"]),
    ],
)
def test_contact_inputs_are_bounded(store: Store, call: Callable[[Store], object]) -> None:
    with pytest.raises(ValueError):
        call(store)
    assert store.contacts.list_all() == []


def test_names_with_emoji_sequences_are_fine(store: Store) -> None:
    name = "dev 👩\u200d💻"  # zero-width joiner is a format char, not a control char
    assert store.contacts.add(PEER, name, "contact").name == name


def test_ik_timestamps_survive_restart_and_never_go_back(db_path: Path) -> None:
    s = open_store(db_path)
    s.ik_stamps.record(PEER, 100)
    s.ik_stamps.record(PEER, 50)
    s.ik_stamps.record(OTHER, 7)
    s.ik_stamps.record(ME, MAX_IK_TIMESTAMP)  # the largest a session accepts fits
    s.commit()
    s.close()
    s = open_store(db_path)
    assert s.ik_stamps.latest() == {PEER: 100, OTHER: 7, ME: MAX_IK_TIMESTAMP}
    s.close()


# --- conversations ---------------------------------------------------------------------------


def test_ensure_dm_is_idempotent_and_one_per_peer(store: Store) -> None:
    conv = store.conversations.ensure_dm(CONV, PEER)
    assert (conv.id, conv.kind, conv.peer, conv.title, conv.created_at) == (
        CONV,
        "dm",
        PEER,
        None,
        NOW,
    )
    assert store.conversations.ensure_dm(CONV, PEER) == conv
    assert store.conversations.for_peer(PEER) == conv
    assert store.conversations.get(CONV) == conv
    assert store.conversations.for_peer(OTHER) is None
    with pytest.raises(StoreError):
        store.conversations.ensure_dm(CONV, OTHER)  # id taken by another peer's dm
    with pytest.raises(StoreError):
        store.conversations.ensure_dm(b"\x07" * 16, PEER)  # peer already has a dm
    other = store.conversations.ensure_dm(dm_conversation_id(ME, OTHER), OTHER)
    assert store.conversations.list_all() == sorted([conv, other], key=lambda c: c.id)


def test_message_needs_a_known_conversation(store: Store) -> None:
    with pytest.raises(StoreError, match="constraint"):
        store.conversations.insert_envelope(make_log(ME, [1])[0], NOW, own=True)


# --- messages --------------------------------------------------------------------------------


def test_insert_is_idempotent_and_first_one_wins(dm: Store) -> None:
    env = make_log(ME, [1])[0]
    assert dm.conversations.insert_envelope(env, NOW, own=True)
    assert not dm.conversations.insert_envelope(env, NOW + 1, own=True)
    forged = Envelope(CONV, ME, 1, 1, NOW, ZERO_HASH, encode_text("different"))
    assert not dm.conversations.insert_envelope(forged, NOW + 2, own=False)
    dm.commit()
    [msg] = dm.conversations.history(CONV)
    assert (msg.envelope, msg.hash, msg.received_at, msg.own) == (
        env,
        envelope_hash(env),
        NOW,
        True,
    )


def test_heads_lamport_and_ranges(dm: Store) -> None:
    assert dm.conversations.heads(CONV) == {}
    assert dm.conversations.max_lamport(CONV) == 0
    mine = make_log(ME, [1, 2, 5])
    theirs = make_log(PEER, [3, 4])
    for env in mine + theirs:
        dm.conversations.insert_envelope(env, NOW, own=env.author == ME)
    assert dm.conversations.heads(CONV) == {
        ME: (3, envelope_hash(mine[-1])),
        PEER: (2, envelope_hash(theirs[-1])),
    }
    assert dm.conversations.max_lamport(CONV) == 5
    assert dm.conversations.envelopes(CONV, ME, 2, 3) == mine[1:]
    assert dm.conversations.envelopes(CONV, ME, 1, 99, limit=2) == mine[:2]
    assert dm.conversations.envelopes(CONV, PEER, 3, 9) == []


def test_history_order_and_limit(dm: Store) -> None:
    # equal lamports between authors are broken by author key, then seq
    mine = make_log(ME, [1, 2, 4, 6])
    theirs = make_log(PEER, [2, 3, 4, 5])
    for env in reversed(mine + theirs):  # insertion order must not matter
        dm.conversations.insert_envelope(env, NOW, own=env.author == ME)
    expected = sorted(mine + theirs, key=lambda e: (e.lamport, e.author, e.seq))
    assert [m.envelope for m in dm.conversations.history(CONV)] == expected
    assert [m.envelope for m in dm.conversations.history(CONV, limit=3)] == expected[-3:]
    assert [m.envelope for m in dm.conversations.history(CONV, limit=100)] == expected
    assert dm.conversations.history(CONV, limit=0) == []
    assert dm.conversations.history(b"\x09" * 16) == []


def test_peer_vector_is_monotonic(dm: Store, db_path: Path) -> None:
    assert dm.conversations.peer_vector(CONV, PEER) == {}
    dm.conversations.set_peer_seq(CONV, PEER, ME, 5)
    dm.conversations.set_peer_seq(CONV, PEER, ME, 3)  # a stale vector arriving late
    dm.conversations.set_peer_seq(CONV, PEER, PEER, 2)
    dm.commit()
    dm.close()
    s = open_store(db_path)
    assert s.conversations.peer_vector(CONV, PEER) == {ME: 5, PEER: 2}
    s.conversations.set_peer_seq(CONV, PEER, ME, 6)
    assert s.conversations.peer_vector(CONV, PEER) == {ME: 6, PEER: 2}
    s.close()


def test_delivery_status_queued_sent_delivered(dm: Store) -> None:
    mine = make_log(ME, [1, 2, 3])
    theirs = make_log(PEER, [4])
    for env in mine:
        dm.conversations.insert_envelope(env, NOW, own=True)
    dm.conversations.insert_envelope(theirs[0], NOW, own=False)

    def statuses() -> list[str | None]:
        return [m.status for m in dm.conversations.history(CONV)]

    assert statuses() == ["queued", "queued", "queued", None]
    assert dm.conversations.undelivered(CONV, ME, PEER) == mine
    dm.conversations.mark_sent(CONV, ME, 2)
    assert statuses() == ["sent", "sent", "queued", None]
    assert [m.sent for m in dm.conversations.history(CONV)] == [True, True, False, False]
    dm.conversations.set_peer_seq(CONV, PEER, ME, 1)
    assert statuses() == ["delivered", "sent", "queued", None]
    assert dm.conversations.undelivered(CONV, ME, PEER) == mine[1:]
    assert dm.conversations.undelivered(CONV, ME, PEER, limit=1) == mine[1:2]
    # delivered without ever being marked sent (e.g. restart)
    dm.conversations.set_peer_seq(CONV, PEER, ME, 3)
    assert statuses() == ["delivered", "delivered", "delivered", None]
    assert dm.conversations.undelivered(CONV, ME, PEER) == []
    # only the dm peer's vector counts as delivery; another key's vector is its own outbox
    fourth = make_log(ME, [5], start=4, prev=envelope_hash(mine[-1]))[0]
    dm.conversations.insert_envelope(fourth, NOW, own=True)
    dm.conversations.set_peer_seq(CONV, OTHER, ME, 4)
    assert statuses() == ["delivered", "delivered", "delivered", None, "queued"]
    assert dm.conversations.undelivered(CONV, ME, OTHER) == []
    assert dm.conversations.undelivered(CONV, ME, PEER) == [fourth]
