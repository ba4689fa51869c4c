"""A receiver that comes back to 10,000 waiting messages: how long until it has them all
(the `catchup` object).

    .venv/bin/python bench/bench_catchup.py [--quick] [-n 10000]

Two `p2pchat node` processes on 127.0.0.1 (`--no-mdns`) become mutual contacts and link; both
stop. The sender's store is then given N own messages that were never sent (written directly
through `Store`, one transaction, hash-chained as the node writes them), and the sender starts
again, alone. Timed: from the moment the receiver's process is started (`Popen`) until its store
holds all N *committed* (read from the receiver's database file by a separate read-only
connection, which sees only committed transactions; `log_heads` is kept in the same transaction
as each message, so its seq counts them). The receiver dials the sender at start; the sender
serves the range the receiver's vector lacks. `first_committed_s`: when the first batch was
committed (start-up and link), so `seconds - first_committed_s` is the transfer itself.

Baselines in the same run: the receiver's own start (process start until its control API
answers, polled with `p2pchat status`, so coarse), and SQLite alone inserting N rows of the
same size in transactions of 256 with synchronous=FULL. Prints one JSON object; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import emit
from _nodes import cpu_seconds, filesystem, node_pair, text_for
from bench_growth import open_store, public_key

from p2pchat.core.messages import Envelope, dm_conversation_id, encode_text, envelope_hash
from tests.nodes import NodeProcess

WAIT = 60.0
POLL = 0.005  # seconds between reads of the receiver's committed head
TARGET_S = 1.5


def prefill(sender: NodeProcess, receiver: NodeProcess, n: int) -> float:
    """N own, unsent messages in the stopped sender's store; returns the seconds it took."""
    started = time.perf_counter()
    me, other = public_key(sender), public_key(receiver)
    conv = bytes(dm_conversation_id(me, other))
    store = open_store(sender.home)
    try:
        seq, prev = store.conversations.heads(conv).get(me, (0, bytes(32)))
        lamport = store.conversations.max_lamport(conv)
        now = time.time_ns() // 1_000_000
        for i in range(n):
            env = Envelope(conv=conv, author=me, seq=seq + 1, lamport=lamport + 1,
                           sent_at=now - n + i, prev=prev, body=encode_text(text_for("c", i)))
            seq, lamport, prev = env.seq, env.lamport, envelope_hash(env)
            store.conversations.insert_envelope(env, env.sent_at, own=True)
        store.commit()
    finally:
        store.close()
    return time.perf_counter() - started


def committed_seq(db: Path, author: bytes) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT max(seq) FROM log_heads WHERE author = ?",
                           (author,)).fetchone()
        return int(row[0] or 0)
    finally:
        conn.close()


def watch(db: Path, author: bytes, n: int, t0: float, marks: dict[str, float]) -> None:
    """Poll the receiver's committed head from t0 on: when the first and the last arrived."""
    deadline = t0 + WAIT
    while time.monotonic() < deadline:
        got = 0
        if db.exists():
            with contextlib.suppress(sqlite3.Error):
                got = committed_seq(db, author)
        if got and "first" not in marks:
            marks["first"] = time.monotonic() - t0
        if got >= n:
            marks["done"] = time.monotonic() - t0
            return
        time.sleep(POLL)  # polling a file with a deadline


def sqlite_baseline(directory: Path, n: int) -> float:
    conn = sqlite3.connect(directory / "baseline.sqlite3", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE m (conv BLOB, author BLOB, seq INTEGER, hash BLOB,"
                     " sealed BLOB, PRIMARY KEY (conv, author, seq)) STRICT")
        conv, author = os.urandom(16), os.urandom(32)
        rows = [(conv, author, i, os.urandom(32), os.urandom(200)) for i in range(1, n + 1)]
        started = time.perf_counter()
        for start in range(0, n, 256):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", rows[start:start + 256])
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def run(n: int, repeats: int) -> dict[str, Any]:
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="p2pbench-catchup-") as tmp:
        directory = Path(tmp).resolve()
        baseline_sqlite_s = sqlite_baseline(directory, n)
        for r in range(repeats):
            home = directory / f"run{r}"
            home.mkdir()
            with node_pair(home) as (alice, bob):
                bob.stop()
                alice.stop()
                prefill_s = prefill(alice, bob, n)
                author = public_key(alice)
                db = bob.home / "p2pchat.db"
                alice.start()
                assert alice.proc is not None
                alice_cpu0 = cpu_seconds(alice.proc.pid)
                marks: dict[str, float] = {}
                t0 = time.monotonic()
                watcher = threading.Thread(target=watch, args=(db, author, n, t0, marks),
                                           daemon=True)
                watcher.start()
                bob.start()  # returns once its control API answers
                ready = time.monotonic() - t0
                watcher.join(WAIT)
                done, first = marks.get("done"), marks.get("first")
                assert bob.proc is not None
                runs.append({
                    "seconds": None if done is None else round(done, 3),
                    "receiver_control_ready_s": round(ready, 3),
                    "first_committed_s": None if first is None else round(first, 3),
                    "received": committed_seq(db, author),
                    "prefill_s": round(prefill_s, 2),
                    "receiver_cpu_s_since_start": cpu_seconds(bob.proc.pid),
                    "sender_cpu_s": None if alice_cpu0 is None else round(
                        (cpu_seconds(alice.proc.pid) or 0) - alice_cpu0, 2),
                })
        fs = filesystem(directory)
    times = [r["seconds"] for r in runs if r["seconds"] is not None]
    best = sorted(times)[len(times) // 2] if times else None
    out: dict[str, Any] = {
        "messages": n,
        "seconds": best,
        "seconds_runs": [r["seconds"] for r in runs],
        "runs": runs,
        "first_committed_s": sorted(r["first_committed_s"] or 0 for r in runs)[len(runs) // 2],
        "baseline_receiver_start_s": sorted(r["receiver_control_ready_s"] for r in runs)[
            len(runs) // 2],
        "baseline_sqlite_insert_s": round(baseline_sqlite_s, 3),
        "baseline": "the receiver's process start to its control API answering; SQLite alone"
                    " inserting the same number of rows, 256 per FULL commit",
        "filesystem": fs,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    out["targets"] = {"seconds <= 1.5": None if best is None else best <= TARGET_S}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run instead of three")
    parser.add_argument("-n", type=int, default=10_000, choices=range(1, 100_001), metavar="N",
                        help="messages waiting (default 10000)")
    args = parser.parse_args()
    emit(run(args.n, 1 if args.quick else 3))


if __name__ == "__main__":
    main()
