"""A message costs the same on day 300 as on day 1 (issue #16).

Every statement the node runs for one message (send, receive, acknowledgement, the event and
the `log -n 50` view) and once per link start or catch-up batch is checked two ways on real
SQLite files holding a long history:

* its query plan (`EXPLAIN QUERY PLAN`, on the statements the store actually executed, captured
  with the connection's trace callback) may not scan a table, sort into a temporary b-tree, or
  search the messages table in a way whose length follows the history;
* the virtual-machine steps SQLite executes for each of those sequences (a progress handler
  called every step) stay the same order of magnitude at 1,000 and at 50,000 messages.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import p2pchat.storage.store as store_mod
from p2pchat.core.messages import ZERO_HASH, Envelope, encode_text, envelope_hash
from p2pchat.storage.store import Store
from tests.unit.test_store import CONV, ME, NOW, PEER, make_log, open_store

SMALL = 1_000
LARGE = 50_000
CATCH_UP = 100  # envelopes in one catch-up batch


def build_history(path: Path, n: int) -> Store:
    """A dm of n messages, written alternately by us and the peer, all sent and acknowledged:
    the state after a long chat. One transaction, so 50,000 messages take about a second."""
    store = open_store(path)
    store.contacts.add(PEER, "peer", "contact")
    store.conversations.ensure_dm(CONV, PEER)
    half = n // 2
    mine = make_log(ME, [2 * i + 1 for i in range(half)])
    theirs = make_log(PEER, [2 * i + 2 for i in range(half)])
    for own_env, their_env in zip(mine, theirs, strict=True):
        store.conversations.insert_envelope(own_env, NOW, own=True)
        store.conversations.insert_envelope(their_env, NOW, own=False)
    store.conversations.mark_sent(CONV, ME, half)
    store.conversations.set_peer_seq(CONV, PEER, ME, half)
    store.commit()
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Store]]:
    directory = tmp_path_factory.mktemp("growth")
    built = {n: build_history(directory / f"h{n}.db", n) for n in (SMALL, LARGE)}
    yield built
    for store in built.values():
        store.close()


def next_envelope(store: Store, author: bytes, text: str) -> Envelope:
    """The author's next envelope, chained on from what the store holds."""
    seq, prev = store.conversations.heads(CONV).get(author, (0, ZERO_HASH))
    return Envelope(
        conv=CONV,
        author=author,
        seq=seq + 1,
        lamport=store.conversations.max_lamport(CONV) + 1,
        sent_at=NOW + seq + 1,
        prev=prev,
        body=encode_text(text),
    )


# --- what the node asks of the store ---------------------------------------------------------
# Each returns the store calls of one step, given the envelope it handles (built beforehand, so
# that building it is not counted).


def send(store: Store) -> Callable[[], object]:
    """`p2pchat send` with the link up, then the peer's acknowledging vector."""
    env = next_envelope(store, ME, "a new message")

    def calls() -> None:
        store.contacts.by_name("peer")  # Node._contact_for
        store.conversations.insert_envelope(env, env.sent_at, own=True)
        store.conversations.mark_sent(CONV, ME, env.seq)
        # Node._on_sync_vector for the acknowledgement
        before = store.conversations.peer_vector(CONV, PEER).get(ME, 0)
        store.conversations.set_peer_seq(CONV, PEER, ME, env.seq)
        assert store.conversations.envelopes(CONV, ME, before + 1, env.seq) == [env]

    return calls


def receive(store: Store) -> Callable[[], object]:
    """An envelope from the peer arrives, is stored and shown as an event."""
    env = next_envelope(store, PEER, "a reply")

    def calls() -> None:
        store.contacts.get(PEER)  # Node._on_record
        assert store.conversations.insert_envelope(env, NOW, own=False)
        store.contacts.get(PEER)  # the event's author name
        store.conversations.get(CONV)  # the event's conversation, when not cached

    return calls


def view(store: Store) -> Callable[[], object]:
    """`p2pchat log peer -n 50`."""

    def calls() -> None:
        store.contacts.by_name("peer")
        assert len(store.conversations.history(CONV, limit=50)) == 50
        store.contacts.get(PEER)

    return calls


def link_start(store: Store) -> Callable[[], object]:
    """A link comes up: the conversation's log is loaded, vectors compared, and one catch-up
    batch of the peer's newest messages sent back (as if the peer had lost them)."""
    last = store.conversations.heads(CONV)[PEER][0]

    def calls() -> None:
        store.conversations.heads(CONV)
        store.conversations.max_lamport(CONV)
        store.conversations.peer_vector(CONV, PEER)
        store.conversations.undelivered(CONV, ME, PEER)
        assert len(store.conversations.envelopes(CONV, PEER, last - CATCH_UP + 1, last)) == CATCH_UP

    return calls


STEPS: dict[str, Callable[[Store], Callable[[], object]]] = {
    "send": send,
    "receive": receive,
    "view": view,
    "link_start": link_start,
}


@dataclass
class Run:
    statements: list[str]
    vm_steps: int


def run(store: Store, step: Callable[[Store], Callable[[], object]]) -> Run:
    """Run one step's store calls, recording the SQL executed and the VM steps it took; then
    roll back, so the history stays as built for the next test."""
    calls = step(store)
    conn = store._conn
    statements: list[str] = []
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0  # 0: carry on

    conn.set_trace_callback(statements.append)
    conn.set_progress_handler(tick, 1)
    try:
        calls()
    finally:
        conn.set_progress_handler(None, 1)
        conn.set_trace_callback(None)
        store.rollback()
    return Run(statements, count[0])


# --- query plans ------------------------------------------------------------------------------

_SEARCH = re.compile(
    r"^SEARCH (\S+) USING (?:COVERING )?(?:INDEX (\S+)|PRIMARY KEY|INTEGER PRIMARY KEY)"
    r"(?: \((.*)\))?"
)
_LIMIT = re.compile(r"\bLIMIT (\d+)\s*$")


def message_indexes(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                        ("messages",))
    return {name for (name,) in rows}


def plan_problems(conn: sqlite3.Connection, sql: str) -> list[str]:
    """What in this statement's plan would read more rows as the history grows."""
    indexes = message_indexes(conn)
    problems = []
    for _, _, _, detail in conn.execute("EXPLAIN QUERY PLAN " + sql):
        if detail == "SCAN contacts" and sql.rstrip().endswith("FROM contacts"):
            # Store._contact_index: every contact read once, then kept until one changes (this
            # test rolls back after each step, which is such a change); never per message.
            continue
        if detail.startswith("SCAN ") and detail != "SCAN CONSTANT ROW":
            problems.append(f"full scan: {detail}")
        elif "TEMP B-TREE" in detail:
            problems.append(f"sorts every matching row: {detail}")
        elif (found := _SEARCH.match(detail)) and found.group(2) in indexes:
            index, where = found.group(2), found.group(3) or ""
            terms = where.split(" AND ")
            if index == "messages_unsent":
                continue  # holds the unsent queue only, not the history
            if "seq=?" in terms or "seq>?" in terms:
                continue  # one message, or a walk forward from a given seq (a range, what follows)
            if terms == ["conv=?"] and index == "messages_order" and _LIMIT.search(sql):
                continue  # walks the display order from one end and stops after LIMIT rows
            problems.append(f"walks the history: {detail}")
    return problems


def statements_of(store: Store) -> dict[str, list[str]]:
    return {name: run(store, step).statements for name, step in STEPS.items()}


def test_no_statement_on_the_message_path_walks_the_history(stores: dict[int, Store]) -> None:
    store = stores[LARGE]
    conn = store._conn
    executed = statements_of(store)
    every = [sql for sqls in executed.values() for sql in sqls]
    # the capture saw the statements this test is about, so an empty pass means something
    for expected in ("UPDATE messages INDEXED BY messages_unsent", "FROM log_heads",
                     "INSERT OR IGNORE INTO messages", "ORDER BY m.lamport DESC",
                     "FROM peer_seqs", "seq BETWEEN"):
        assert any(expected in sql for sql in every), expected
    found = {
        f"{step}: {sql[:120]}": problems
        for step, sqls in executed.items()
        for sql in sqls
        if (problems := plan_problems(conn, sql))
    }
    assert found == {}


def test_the_event_lookups_are_key_lookups(stores: dict[int, Store]) -> None:
    """Node._message_event's get_conversation is one row by its primary key; its get_contact
    reads the contacts once (the step starts just after a rollback) and then from memory."""
    store = stores[LARGE]
    statements = run(store, receive).statements
    [sql, *_] = [s for s in statements if "FROM conversations WHERE id =" in s]
    details = [row[3] for row in store._conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert details == ["SEARCH conversations USING INDEX sqlite_autoindex_conversations_1 (id=?)"]
    assert len([s for s in statements if "FROM contacts" in s]) <= 1


@pytest.mark.parametrize(
    "sql",
    [
        # v1's heads(): every message of the conversation, grouped
        f"SELECT author, max(seq), hash FROM messages WHERE conv = x'{CONV.hex()}' GROUP BY author",
        # v1's mark_sent walk: all of an author's earlier messages by primary key
        f"SELECT sealed FROM messages WHERE conv = x'{CONV.hex()}' AND author = x'{ME.hex()}'"
        " AND seq <= 25000",
        "SELECT count(*) FROM messages",
        f"SELECT sealed FROM messages WHERE conv = x'{CONV.hex()}' ORDER BY received_at LIMIT 5",
        f"SELECT sealed FROM messages WHERE conv = x'{CONV.hex()}' ORDER BY lamport",
    ],
)
def test_the_plan_check_catches_history_walks(stores: dict[int, Store], sql: str) -> None:
    assert plan_problems(stores[LARGE]._conn, sql)


# --- steps executed ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STEPS))
def test_vm_steps_do_not_grow_with_the_history(stores: dict[int, Store], name: str) -> None:
    small = run(stores[SMALL], STEPS[name]).vm_steps
    large = run(stores[LARGE], STEPS[name]).vm_steps
    # A walk over an author's history costs several steps per message, so at 50 times the
    # history it would be tens of times dearer; b-tree depth alone adds at most a few steps.
    assert small > 0
    assert large < 2 * small, f"{name}: {small} steps at {SMALL} messages, {large} at {LARGE}"


# --- migration --------------------------------------------------------------------------------


def downgrade_to_v1(path: Path) -> None:
    """Turn a current store into exactly what v1 left: v2 only added an index and a table, v3
    the group tables, v4 the tables of issue 22, v5 the files table, v6 those of issue 24, v7
    group_joins (issue 23), v8 blocked_from (trial 4), v9 announced_names (trial 7), v10 the
    contacts' `asked` (trial 12), v11 requests_held and v12 lookalikes (trial 14c)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("ALTER TABLE contacts DROP COLUMN asked")
        for table in ("lookalikes", "requests_held", "announced_names", "blocked_from",
                      "group_joins", "group_receipts", "group_base", "group_changes", "files",
                      "group_invitations", "equivocations",
                      "group_floors", "group_invites", "group_leaves", "group_start", "group_keys",
                      "group_ops", "groups"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP INDEX messages_unsent")
        conn.execute("DROP TABLE log_heads")
        conn.execute("PRAGMA user_version = 1")
    finally:
        conn.close()


def schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return {(name, sql) for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
    finally:
        conn.close()


def test_a_v1_home_migrates_and_keeps_every_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    store = open_store(path)
    store.conversations.ensure_dm(CONV, PEER)
    mine = make_log(ME, [2 * i + 1 for i in range(150)])
    theirs = make_log(PEER, [2 * i + 2 for i in range(140)])
    for env in mine + theirs:
        store.conversations.insert_envelope(env, NOW, own=env.author == ME)
    store.conversations.mark_sent(CONV, ME, 120)  # 30 of ours still queued
    store.conversations.set_peer_seq(CONV, PEER, ME, 100)
    store.commit()
    before = store.conversations.history(CONV)
    store.close()
    downgrade_to_v1(path)

    # the downgraded file is what the v1 code creates
    with monkeypatch.context() as m:
        m.setattr(store_mod, "_MIGRATIONS", store_mod._MIGRATIONS[:1])
        m.setattr(store_mod, "SCHEMA_VERSION", 1)
        open_store(tmp_path / "v1.db").close()
    assert schema(path) == schema(tmp_path / "v1.db")

    store = open_store(path)
    try:
        version = store._conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == store_mod.SCHEMA_VERSION == 12
        assert store.conversations.history(CONV) == before
        assert [m.status for m in before].count("queued") == 30
        assert store.conversations.heads(CONV) == {
            ME: (150, envelope_hash(mine[-1])),
            PEER: (140, envelope_hash(theirs[-1])),
        }
        assert store.conversations.max_lamport(CONV) == 299
        # the queue is found through the new index: marking it sent reaches all 30
        store.conversations.mark_sent(CONV, ME, 150)
        assert [m.status for m in store.conversations.history(CONV)].count("queued") == 0
        nxt = next_envelope(store, ME, "after the upgrade")
        assert store.conversations.insert_envelope(nxt, NOW, own=True)
        assert store.conversations.heads(CONV)[ME] == (151, envelope_hash(nxt))
        store.commit()
    finally:
        store.close()


def test_heads_follow_inserts_and_ignore_duplicates(tmp_path: Path) -> None:
    store = open_store(tmp_path / "h.db")
    try:
        store.conversations.ensure_dm(CONV, PEER)
        mine = make_log(ME, [1, 2, 3])
        for env in mine:
            store.conversations.insert_envelope(env, NOW, own=True)
        # a different envelope for a taken seq is ignored, and so is its hash
        forged = Envelope(CONV, ME, 2, 9, NOW, envelope_hash(mine[0]), encode_text("other"))
        assert not store.conversations.insert_envelope(forged, NOW, own=False)
        assert not store.conversations.insert_envelope(mine[0], NOW, own=True)
        assert store.conversations.heads(CONV) == {ME: (3, envelope_hash(mine[-1]))}
        store.rollback()  # the head goes with the messages it was written with
        assert store.conversations.heads(CONV) == {}
        assert store.conversations.max_lamport(CONV) == 0
    finally:
        store.close()
