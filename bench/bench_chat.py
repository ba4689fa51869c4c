"""Chat throughput between two real node processes on 127.0.0.1, next to what SQLite's durable
commits alone allow on the same disk.

    .venv/bin/python bench/bench_chat.py [-n 1000] [--clients 4]

Two `p2pchat node` processes (`--no-mdns`, port 0 on 127.0.0.1, as tests/nodes.py runs them)
are mutual contacts with typed addresses. Measured:

* sequential: one control-API client sends N messages (`ControlClient.call("send")`), each
  acknowledged only after the sender committed it: acknowledged messages/s, per-call latency,
  time until all N are on the receiver (its event stream, then a `log` call), time until the
  sender shows the last one "delivered" (the receiver's acknowledgement is back).
* concurrent: the same with several control clients at once (the node commits the writes of
  one event-loop turn together, so this shows how far batching helps).
* baseline: raw sqlite3 in the same temporary directory, WAL + synchronous=FULL, one commit
  per INSERT of a row shaped like a stored message: committed inserts/s.

Prints one JSON object. Every wait has a deadline; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import emit, environment, ratio, versions

from p2pchat.control import socket_path
from p2pchat.control_client import ControlClient
from tests.nodes import NodeProcess, wait_for

WAIT = 40.0  # seconds before a phase gives up


def text_for(run: str, i: int) -> str:
    return f"{run} message {i:05d} ".ljust(100, "x")  # 100 characters, like a chat line


class Receiver(threading.Thread):
    """Counts incoming messages from `author` on a node's event stream (raw control socket)."""

    def __init__(self, home: Path, author: str, expected: int, prefix: str) -> None:
        super().__init__(daemon=True)
        self.author, self.expected, self.prefix = author, expected, prefix
        self.count = 0
        self.done_at: float | None = None
        self.first_at: float | None = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        self.sock.connect(str(socket_path(home)))
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b'{"id": 1, "method": "subscribe"}\n')
        reply = json.loads(self.file.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"cannot subscribe: {reply}")

    def run(self) -> None:
        try:
            while self.count < self.expected:  # bounded: each read times out after WAIT
                line = self.file.readline()
                if not line:
                    return
                event = json.loads(line).get("event")
                if (event and event.get("type") == "message" and not event.get("own")
                        and event.get("author") == self.author
                        and event.get("text", "").startswith(self.prefix)):
                    self.count += 1
                    if self.first_at is None:
                        self.first_at = time.monotonic()
            self.done_at = time.monotonic()
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                self.file.close()
                self.sock.close()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def chat_run(alice: NodeProcess, bob: NodeProcess, n: int, clients: int,
             label: str) -> dict[str, Any]:
    receiver = Receiver(bob.home, alice.fingerprint, n, label)
    receiver.start()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    share = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
    starts = [sum(share[:i]) for i in range(clients)]
    statuses: list[str] = []

    def sender(index: int) -> None:
        try:
            with ControlClient(alice.home, timeout=WAIT) as client:
                for i in range(starts[index], starts[index] + share[index]):
                    t0 = time.perf_counter()
                    result = client.call("send", to=bob.name, text=text_for(label, i))
                    latencies[index].append(time.perf_counter() - t0)
                    statuses.append(result["status"])
        except Exception as exc:  # reported, not raised: the benchmark still prints
            errors.append(repr(exc))

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(clients)]
    assert alice.proc is not None and bob.proc is not None
    pids = {"sender_node": alice.proc.pid, "receiver_node": bob.proc.pid}
    cpu_before = {who: cpu_seconds(pid) for who, pid in pids.items()}
    bench_before = time.process_time()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    sent_done = time.monotonic()
    receiver.join(max(0.0, started + WAIT - time.monotonic()))
    received_done = receiver.done_at
    cpu_ms: dict[str, float | None] = {}
    for who, pid in pids.items():
        after, before = cpu_seconds(pid), cpu_before[who]
        cpu_ms[who] = None if after is None or before is None else round(
            (after - before) * 1e3 / n, 3)
    cpu_ms["benchmark_clients"] = round((time.process_time() - bench_before) * 1e3 / n, 3)

    # Confirm through the receiver's log (what `p2pchat log --json` prints).
    def in_log() -> bool:
        with ControlClient(bob.home, timeout=WAIT) as client:
            got = client.call("log", **{"with": alice.name})
        return sum(1 for m in got if m["text"].startswith(label)) >= n

    log_confirmed = None
    with contextlib.suppress(AssertionError):
        wait_for(in_log, WAIT, "all messages in the receiver's log", interval=0.05)
        log_confirmed = time.monotonic()

    # The sender sees its newest message "delivered" once bob's acknowledgement is back.
    def last_delivered() -> bool:
        with ControlClient(alice.home, timeout=WAIT) as client:
            last = client.call("log", **{"with": bob.name, "limit": 1})
        return bool(last) and last[-1]["status"] == "delivered"

    delivered = None
    with contextlib.suppress(AssertionError):
        wait_for(last_delivered, WAIT, "the delivery receipt", interval=0.05)
        delivered = time.monotonic()

    flat = [x for per in latencies for x in per]
    send_s = sent_done - started
    return {
        "messages": n,
        "clients": clients,
        "acknowledged": len(flat),
        "status_counts": {s: statuses.count(s) for s in sorted(set(statuses))},
        "errors": errors[:5],
        "send_s": round(send_s, 3),
        "acked_per_s": round(len(flat) / send_s, 1) if send_s > 0 else None,
        "send_call_latency_ms": {
            "median": round(statistics.median(flat) * 1e3, 3) if flat else None,
            "p99": round(percentile(flat, 99) * 1e3, 3) if flat else None,
            "max": round(max(flat) * 1e3, 3) if flat else None,
        },
        "cpu_ms_per_message": cpu_ms,
        "received": receiver.count,
        "first_received_after_s": None if receiver.first_at is None
        else round(receiver.first_at - started, 3),
        "all_received_after_s": None if received_done is None
        else round(received_done - started, 3),
        "all_in_receiver_log_after_s": None if log_confirmed is None
        else round(log_confirmed - started, 3),
        "last_delivered_after_s": None if delivered is None else round(delivered - started, 3),
    }


def sqlite_commits(path: Path, n: int) -> tuple[str, int, float]:
    """One run: (journal mode, rows, seconds) for n INSERTs, one COMMIT each."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(
            "CREATE TABLE messages (conv BLOB NOT NULL, author BLOB NOT NULL,"
            " seq INTEGER NOT NULL, lamport INTEGER NOT NULL, sent_at INTEGER NOT NULL,"
            " hash BLOB NOT NULL, received_at INTEGER NOT NULL, own INTEGER NOT NULL,"
            " sealed BLOB NOT NULL, PRIMARY KEY (conv, author, seq)) STRICT")
        conv, author = os.urandom(32), os.urandom(32)
        # A sealed 100-character message: body, envelope fields, nonce and tag.
        rows = [(conv, author, i, i, 1_700_000_000_000 + i, os.urandom(32),
                 1_700_000_000_000 + i, 1, os.urandom(220)) for i in range(1, n + 1)]
        started = time.perf_counter()
        for row in rows:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        conn.close()
    return mode, count, elapsed


def sqlite_baseline(directory: Path, n: int, repeats: int = 3) -> dict[str, Any]:
    """Committed inserts/s: WAL, synchronous=FULL, one transaction per row; median of runs."""
    runs = [sqlite_commits(directory / f"baseline{i}.sqlite3", n) for i in range(repeats)]
    rates = [n / elapsed for _, _, elapsed in runs]
    return {
        "what": "sqlite3, journal_mode=WAL, synchronous=FULL, one COMMIT per INSERT",
        "journal_mode": runs[0][0],
        "rows_per_run": runs[0][1],
        "runs": repeats,
        "commits_per_s": round(statistics.median(rates), 1),
        "commits_per_s_runs": [round(r, 1) for r in rates],
        "ms_per_commit": round(1e3 / statistics.median(rates), 3),
    }


def filesystem(path: Path) -> str | None:
    """The filesystem type under `path` (from /proc/mounts), for the report."""
    best, kind = "", None
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def run(n: int = 1000, clients: int = 4) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"benchmark": "chat",
                              "environment": {**environment(), **versions()}}
    with tempfile.TemporaryDirectory(prefix="p2pbench-chat-") as tmp:
        directory = Path(tmp).resolve()
        result["environment"]["filesystem"] = filesystem(directory)
        result["baseline_sqlite"] = sqlite_baseline(directory, n)
        alice = NodeProcess(directory / "alice", "alice")
        bob = NodeProcess(directory / "bob", "bob")
        try:
            alice.start()
            bob.start()
            alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
                      check=True)
            bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                    alice.addr, check=True)
            wait_for(lambda: any(p["fingerprint"] == bob.fingerprint and p["state"] == "contact"
                                 for p in alice.json("peers")["links"]), WAIT, "the link")
            sequential = chat_run(alice, bob, n, 1, "seq")
            concurrent = chat_run(alice, bob, n, clients, "conc") if clients > 1 else None
        finally:
            for node in (alice, bob):
                with contextlib.suppress(Exception):
                    node.stop()
                node.close()
    baseline = result["baseline_sqlite"]["commits_per_s"]
    result["sequential"] = {
        **sequential,
        "baseline": "sqlite committed inserts/s (WAL, synchronous=FULL)",
        "ratio_acked_per_s_to_sqlite_commits_per_s": ratio(sequential["acked_per_s"], baseline),
    }
    if concurrent is not None:
        result["concurrent"] = {
            **concurrent,
            "ratio_acked_per_s_to_sqlite_commits_per_s": ratio(concurrent["acked_per_s"],
                                                               baseline),
        }
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, choices=range(1, 10_001), metavar="N",
                        help="messages per run (1..10000, default 1000)")
    parser.add_argument("--clients", type=int, default=4, choices=range(1, 17), metavar="K",
                        help="control clients in the concurrent run (1 = skip it; default 4)")
    args = parser.parse_args()
    emit(run(n=args.n, clients=args.clients))


if __name__ == "__main__":
    main()
