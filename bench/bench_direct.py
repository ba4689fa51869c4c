"""Direct chat between two node processes on 127.0.0.1, next to a plain asyncio TCP pair that
commits each message to SQLite, measured in the same run (the `direct` object).

    .venv/bin/python bench/bench_direct.py [--quick]

Two `p2pchat node` processes (`--no-mdns`, port 0), mutual contacts with typed addresses, send
100-character messages through the control API (`ControlClient.call("send")`, which returns
once the sender has committed the message with synchronous=FULL). Measured, in rounds that
interleave the baseline and the nodes so that drift in the shared disk's flush latency hits
both alike (each figure is the median over the rounds):

* `baseline_msgs_per_s`: the same stream (one client, one 100-character line at a time) to a
  plain asyncio TCP server in its own process that INSERTs each line into SQLite (WAL,
  synchronous=FULL) and COMMITs before it answers: the floor of "acknowledged and durable".
* `sqlite_commits_per_s`: SQLite alone in this process, one row per FULL commit (the disk).
* `msgs_per_s`: one control client, one message at a time, acknowledged messages/s.
* `concurrent_msgs_per_s`: 8 control clients at once, each one message at a time.
* `batched_msgs_per_s`: one control client sending BATCH texts per `send` call (`texts`), so a
  batch shares one commit and one round trip: what a script or bridge with many lines gets.
* `latency_p50_ms`, `latency_p99_ms`: one way, from the send call issued to the receiver's
  subscriber (a control-API event stream in this process) seeing the message, at 100 msg/s; a
  block in every round, the percentiles over all of them (one block's median moved between 1.36
  and 1.83 ms within one run: the VM's wake-ups drift, as the disk does).

Between blocks the receiver must have received everything sent, so no block inherits a backlog,
and each measured block of the baseline, one client and eight clients follows LEAD unmeasured
messages of its own kind.
CPU per message of each node, and of this process (the control clients and the subscriber,
which share the same 2 cores), comes from /proc. Prints one JSON object; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import emit
from _nodes import (
    Subscriber,
    cpu_seconds,
    filesystem,
    node_pair,
    percentile,
    pids,
    text_for,
)

from p2pchat.control_client import ControlClient
from tests.nodes import NodeProcess

WAIT = 60.0
CLIENTS = 8
RATE = 100.0  # messages per second in the latency run
BATCH = 100  # texts per `send` call in the batched run
# Unmeasured messages of the same kind before each measured block: a block that follows another
# kind inherits its disk work (a sequential block after the batched and eight-client blocks ran
# 9 % slower, and after the SQLite-only commits 11 %, than one after another sequential block).
LEAD = 100
TARGETS = {"msgs_per_s": 2000, "concurrent_msgs_per_s": 5000, "latency_p50_ms": 1.5,
           "latency_p99_ms": 5.0}


# ---------------------------------------------------------------- the baseline (own process)

async def baseline_server(directory: Path) -> None:
    conn = sqlite3.connect(directory / "baseline.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY,"
                 " received_at INTEGER NOT NULL, body BLOB NOT NULL) STRICT")

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            conn.execute("BEGIN")
            conn.execute("INSERT INTO messages (received_at, body) VALUES (?, ?)",
                         (time.time_ns(), line))
            conn.execute("COMMIT")
            writer.write(b"ok\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Ends when the benchmark closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()
    conn.close()


class Baseline:
    def __init__(self, directory: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--baseline-server",
                                      str(directory)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.file = self.sock.makefile("rb")

    def block(self, label: str, n: int) -> float:
        started = time.perf_counter()
        for i in range(n):
            self.sock.sendall(text_for(label, i).encode() + b"\n")
            if self.file.readline() != b"ok\n":
                raise RuntimeError("the baseline server did not acknowledge")
        return n / (time.perf_counter() - started)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# ---------------------------------------------------------------- the nodes

class Direct:
    def __init__(self, alice: NodeProcess, bob: NodeProcess) -> None:
        self.alice, self.bob = alice, bob
        self.subscriber = Subscriber(bob.home, alice.fingerprint)
        self.clients = [ControlClient(alice.home, timeout=WAIT) for _ in range(CLIENTS)]
        self.cpu: dict[str, dict[str, float]] = {}
        self.counts: dict[str, int] = {}
        self.latencies_all: list[float] = []

    def close(self) -> None:
        self.subscriber.close()
        for client in self.clients:
            client.close()

    def _settle(self, label: str, n: int) -> None:
        if not self.subscriber.wait_count(label, n, WAIT):
            if self.subscriber.lagged:
                raise RuntimeError(f"the receiver's event stream lagged during {label} (the"
                                   " subscriber fell more than the node's queue behind)")
            raise RuntimeError(f"the receiver did not get all of {label} within {WAIT:g} s")

    def _measure(self, kind: str, label: str, n: int, work: Any) -> float:
        before = [cpu_seconds(p) for p in (*pids(self.alice, self.bob), os.getpid())]
        started = time.perf_counter()
        work()
        elapsed = time.perf_counter() - started
        self._settle(label, n)
        after = [cpu_seconds(p) for p in (*pids(self.alice, self.bob), os.getpid())]
        acc = self.cpu.setdefault(kind, {"sender_node": 0.0, "receiver_node": 0.0,
                                         "benchmark_clients": 0.0})
        for who, b, a in zip(acc, before, after, strict=True):
            if a is not None and b is not None:
                acc[who] += a - b
        self.counts[kind] = self.counts.get(kind, 0) + n
        return n / elapsed

    def sequential(self, label: str, n: int) -> float:
        client = self.clients[0]

        def work() -> None:
            for i in range(n):
                client.call("send", to=self.bob.name, text=text_for(label, i))

        return self._measure("sequential", label, n, work)

    def concurrent(self, label: str, n: int) -> float:
        errors: list[str] = []
        gate = threading.Barrier(CLIENTS + 1)

        def one(k: int) -> None:
            client = self.clients[k]
            gate.wait(WAIT)
            try:
                for i in range(k, n, CLIENTS):
                    client.call("send", to=self.bob.name, text=text_for(label, i))
            except Exception as exc:  # reported: the benchmark still prints
                errors.append(repr(exc))

        threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(CLIENTS)]
        for thread in threads:
            thread.start()

        def work() -> None:
            gate.wait(WAIT)
            for thread in threads:
                thread.join(WAIT)

        rate = self._measure("concurrent", label, n, work)
        if errors:
            raise RuntimeError(f"concurrent senders failed: {errors[:3]}")
        return rate

    def batched(self, label: str, n: int) -> float:
        client = self.clients[0]

        def work() -> None:
            for first in range(0, n, BATCH):
                texts = [text_for(label, i) for i in range(first, min(n, first + BATCH))]
                client.call("send", to=self.bob.name, texts=texts)

        return self._measure("batched", label, n, work)

    def latency(self, label: str, n: int) -> list[float]:
        client = self.clients[0]
        issued: list[float] = []
        start = time.perf_counter() + 0.05
        for i in range(n):
            # Pacing, not synchronisation: the next send is due at a fixed rate.
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            issued.append(time.perf_counter())
            client.call("send", to=self.bob.name, text=text_for(label, i))
        self._settle(label, n)
        arrivals = self.subscriber.arrivals
        return [arrivals[text_for(label, i)] - issued[i] for i in range(n)]

    def cpu_ms(self) -> dict[str, dict[str, float]]:
        return {kind: {who: round(s * 1e3 / self.counts[kind], 3) for who, s in acc.items()}
                for kind, acc in self.cpu.items()}


def sqlite_commits_per_s(directory: Path, n: int) -> float:
    """SQLite alone, in this process: one INSERT of a message-sized row per FULL commit."""
    conn = sqlite3.connect(directory / "commits.sqlite3", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, body BLOB) STRICT")
        body = os.urandom(220)
        started = time.perf_counter()
        for _ in range(n):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO m (body) VALUES (?)", (body,))
            conn.execute("COMMIT")
        return n / (time.perf_counter() - started)
    finally:
        conn.close()


def run(quick: bool) -> dict[str, Any]:
    # Five rounds: the disk's flush latency drifts from one block to the next (a block's rate
    # moved by a quarter between rounds of one run), and the median of five moves less.
    rounds = 5
    n_seq = 400 if quick else 1000
    n_conc = 800 if quick else 2000
    n_lat = 60 if quick else 200  # per round
    started = time.monotonic()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="p2pbench-direct-") as tmp:
        directory = Path(tmp).resolve()
        baseline = Baseline(directory)
        seq: list[float] = []
        conc: list[float] = []
        base: list[float] = []
        batched: list[float] = []
        lat: list[float] = []
        commits: list[float] = []
        try:
            with node_pair(directory) as (alice, bob):
                direct = Direct(alice, bob)
                try:
                    direct.sequential("warmup", 50)
                    baseline.block("warmup", 50)
                    for r in range(rounds):
                        baseline.block(f"lead-base{r}", LEAD)
                        base.append(baseline.block(f"base{r}", n_seq))
                        commits.append(sqlite_commits_per_s(directory, n_seq))
                        direct.sequential(f"lead-seq{r}", LEAD)
                        seq.append(direct.sequential(f"seq{r}", n_seq))
                        direct.concurrent(f"lead-conc{r}", LEAD)
                        conc.append(direct.concurrent(f"conc{r}", n_conc))
                        batched.append(direct.batched(f"batch{r}", n_conc))
                        lat.extend(direct.latency(f"lat{r}", n_lat))
                    lagged = direct.subscriber.lagged
                    cpu = direct.cpu_ms()
                finally:
                    direct.close()
        finally:
            baseline.close()
        fs = filesystem(directory)
    result.update({
        "msgs_per_s": round(statistics.median(seq), 1),
        "concurrent_msgs_per_s": round(statistics.median(conc), 1),
        "baseline_msgs_per_s": round(statistics.median(base), 1),
        "batched_msgs_per_s": round(statistics.median(batched), 1),
        "latency_p50_ms": round(statistics.median(lat) * 1e3, 3),
        "latency_p99_ms": round(percentile(lat, 99) * 1e3, 3),
        "latency_max_ms": round(max(lat) * 1e3, 3),
        "sqlite_commits_per_s": round(statistics.median(commits), 1),
        # Each ratio pairs the blocks of one round (seconds apart), then takes the median: the
        # disk's latency drifts between rounds, and a ratio of medians would mix rounds.
        "ratio_msgs_per_s_to_baseline": round(statistics.median(
            s / b for s, b in zip(seq, base, strict=True)), 3),
        "ratio_concurrent_to_msgs_per_s": round(statistics.median(
            c / s for c, s in zip(conc, seq, strict=True)), 3),
        "rounds": rounds,
        "msgs_per_s_rounds": [round(x, 1) for x in seq],
        "concurrent_msgs_per_s_rounds": [round(x, 1) for x in conc],
        "baseline_msgs_per_s_rounds": [round(x, 1) for x in base],
        "messages_per_block": {"sequential": n_seq, "concurrent": n_conc, "batched": n_conc,
                               "baseline": n_seq, "latency": n_lat * rounds},
        "texts_per_batched_call": BATCH,
        "clients_concurrent": CLIENTS,
        "latency_rate_per_s": RATE,
        "cpu_ms_per_message": cpu,
        "subscriber_lagged": lagged,
        "baseline": "plain asyncio TCP server, one SQLite COMMIT (WAL, synchronous=FULL) per"
                    " 100-character line before its answer; one client, one line at a time",
        "filesystem": fs,
    })
    mps, cmps = result["msgs_per_s"], result["concurrent_msgs_per_s"]
    result["targets"] = {
        "msgs_per_s >= 2000": mps >= TARGETS["msgs_per_s"],
        "concurrent_msgs_per_s >= 5000": cmps >= TARGETS["concurrent_msgs_per_s"],
        "concurrent_msgs_per_s >= msgs_per_s": cmps >= mps,
        "latency_p50_ms <= 1.5": result["latency_p50_ms"] <= TARGETS["latency_p50_ms"],
        "latency_p99_ms <= 5": result["latency_p99_ms"] <= TARGETS["latency_p99_ms"],
    }
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller blocks (a quick run)")
    parser.add_argument("--baseline-server", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server is not None:
        asyncio.run(baseline_server(args.baseline_server))
        return
    emit(run(args.quick))


if __name__ == "__main__":
    main()
