"""Files between two node processes on loopback, next to a raw TCP pipe carrying the same bytes.

    python bench/bench_file.py [--quick] [--mib N]

* baseline, same run: the file's bytes through a plain TCP connection on 127.0.0.1, read from
  the source file in 256 KiB blocks and written into a new file that is fsynced at the end (what
  a tool with no encryption, no hashing and no resume does). The median of three runs.
* `file_mib_per_s`: `file send` from alice to bob, timed from the offer (the sender's reply to
  `file.send`, after it hashed the file) to bob's "done" event (every chunk verified, the file
  fsynced and renamed); `ratio_vs_pipe` = that over the pipe's rate. `offer_s` is the hashing
  before the offer, reported apart.
* `relay_ratio_vs_pipe`: the same between two fresh nodes that reach each other only through a
  `p2pchat relay` on loopback.
* `ceiling_ratio_vs_pipe`: the crypto ceiling (bench/_file_ceiling.py), same run: the same
  bytes between two processes doing only what the protocol obliges (seal every transport
  message, open it, hash every chunk, write, fsync), in the leanest threaded structure we know;
  no implementation of section 13 can beat it on this machine. `ceiling_cpu_s_per_gib` is the
  CPU time all its processes spent, `ceiling_cpu_bound_ratio_vs_pipe` the rate that CPU time
  allows on all cores if nothing else ran, `primitives_cpu_s_per_gib` the seal + open + hash
  alone (one thread, no I/O). `relay_ceiling_*`: the same through a relay hop process (the
  sender seals every record twice, for the peer and for its relay link; the relay opens and
  seals it again; the receiver opens it twice). `--ceiling-only` measures the pipe and the
  ceilings alone.
* `file_cpu_s_per_gib` / `relay_file_cpu_s_per_gib`: CPU time both node processes spent
  during the transfer (from the offer, after its hashing), and the relay's, to compare with the
  ceiling's: what the implementation costs above what the protocol obliges.
* `rss_growth_mb`: the most either node's resident set grew during its transfer, above what it
  held just before (sampled every 20 ms).
* `chat_latency_idle_ms` / `chat_latency_during_ms`: one-way latency (send call issued to the
  receiver's event) of chat messages at 20/s, idle and while a transfer runs, medians;
  `chat_latency_ratio` = during / idle.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import emit, environment
from _file_ceiling import forward, hash_list, primitives_cpu_s_per_gib, receive, send
from _nodes import WAIT, cpu_seconds, link_up, node_pair, rss_mb, text_for

from p2pchat.control_client import ControlClient
from p2pchat.home import socket_path
from tests.nodes import NodeProcess
from tests.relay_client import RelayProcess

BLOCK = 256 * 1024
RATE = 20.0  # chat messages per second in the latency runs
TARGETS = {"ratio_vs_pipe": 0.5, "relay_ratio_vs_pipe": 0.4, "rss_growth_mb": 30,
           "chat_latency_ratio": 2.0}


def make_source(path: Path, mib: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for i in range(mib):
            out.write(block[i % 1024:] + block[:i % 1024])  # each MiB differs


# ---------------------------------------------------------------- the raw pipe


def pipe_receiver(dest: str) -> None:
    """Subprocess: accept one connection, write what comes into `dest`, fsync, say done."""
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    with conn, open(dest, "wb") as out:
        while data := conn.recv(BLOCK):  # ends with the connection
            out.write(data)
        out.flush()
        os.fsync(out.fileno())
    print("done", flush=True)


def pipe_once(src: Path, directory: Path) -> float:
    dest = directory / "pipe.out"
    proc = subprocess.Popen([sys.executable, __file__, "--pipe-recv", str(dest)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock, \
                src.open("rb") as handle:
            while data := handle.read(BLOCK):  # bounded by the file's size
                sock.sendall(data)
        if proc.stdout.readline().strip() != "done":
            raise RuntimeError("the pipe's receiver failed")
        elapsed = time.perf_counter() - started
    finally:
        proc.wait(WAIT)
    if dest.stat().st_size != src.stat().st_size:
        raise RuntimeError("the pipe lost bytes")
    dest.unlink()
    return elapsed


# ---------------------------------------------------------------- the crypto ceiling


def ceiling_receiver(dest: str, size: int, hashes_path: str, layers: int) -> None:
    """Subprocess: accept one connection, open, check and write what comes (_file_ceiling)."""
    hashes = Path(hashes_path).read_bytes()
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    before = _cpu_s()
    with conn:
        receive(conn, dest, size, hashes, layers)
    print("done", _cpu_s() - before, flush=True)


def ceiling_relay(size: int, port: int) -> None:
    """Subprocess: a relay hop between one inbound connection and the receiver at `port`."""
    server = socket.create_server(("127.0.0.1", 0))
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as outbound:
        print(server.getsockname()[1], flush=True)
        conn, _ = server.accept()
        before = _cpu_s()
        with conn:
            forward(conn, outbound, size)
    print("done", _cpu_s() - before, flush=True)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _done_cpu(proc: subprocess.Popen[str], what: str) -> float:
    assert proc.stdout is not None
    said = proc.stdout.readline().split()
    if not said or said[0] != "done":
        raise RuntimeError(f"the ceiling's {what} failed")
    return float(said[1])


def ceiling_once(src: Path, directory: Path, hashes_path: Path,
                 relayed: bool = False) -> tuple[float, float]:
    """(seconds, CPU seconds of every process) of one run; `relayed`: through a relay hop
    process, every record sealed twice by the sender and opened twice by the receiver."""
    dest = directory / "ceiling.out"
    size = src.stat().st_size
    layers = 2 if relayed else 1
    procs = [subprocess.Popen([sys.executable, __file__, "--ceiling-recv", str(dest), str(size),
                               str(hashes_path), str(layers)],
                              stdout=subprocess.PIPE, text=True)]
    try:
        assert procs[0].stdout is not None
        port = int(procs[0].stdout.readline())
        if relayed:
            procs.append(subprocess.Popen([sys.executable, __file__, "--ceiling-relay",
                                           str(size), str(port)],
                                          stdout=subprocess.PIPE, text=True))
            assert procs[1].stdout is not None
            port = int(procs[1].stdout.readline())
        started, cpu = time.perf_counter(), _cpu_s()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            send(sock, src, layers)
        cpu = _cpu_s() - cpu
        cpu += sum(_done_cpu(proc, what) for proc, what in zip(
            reversed(procs), ("relay", "receiver")[-len(procs):], strict=True))
        elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.wait(WAIT)
    if dest.stat().st_size != size:
        raise RuntimeError("the ceiling lost bytes")
    dest.unlink()
    return elapsed, cpu


def ceiling_figures(src: Path, directory: Path, mib: int) -> dict[str, Any]:
    """The crypto ceiling, direct and through a relay hop, the median of three runs each: its
    rate, and the rate its CPU time would allow on this machine's cores if nothing else ran
    (the work split perfectly)."""
    hashes_path = directory / "hashes.bin"
    hashes_path.write_bytes(hash_list(src))
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {}
    for prefix, relayed in (("ceiling", False), ("relay_ceiling", True)):
        runs = [ceiling_once(src, directory, hashes_path, relayed) for _ in range(3)]
        cpu = statistics.median(c for _, c in runs)
        out.update({f"{prefix}_mib_per_s": round(mib / statistics.median(s for s, _ in runs), 1),
                    f"{prefix}_runs_mib_per_s": [round(mib / s, 1) for s, _ in runs],
                    f"{prefix}_cpu_s_per_gib": round(cpu / mib * 1024, 2),
                    f"{prefix}_cpu_bound_mib_per_s": round(mib / (cpu / cores), 1)})
    out["primitives_cpu_s_per_gib"] = round(primitives_cpu_s_per_gib(), 2)
    return out


def ceiling_ratios(figures: dict[str, Any], pipe_rate: float) -> dict[str, Any]:
    out = dict(figures)
    for prefix in ("ceiling", "relay_ceiling"):
        out[f"{prefix}_ratio_vs_pipe"] = round(figures[f"{prefix}_mib_per_s"] / pipe_rate, 3)
        out[f"{prefix}_cpu_bound_ratio_vs_pipe"] = \
            round(figures[f"{prefix}_cpu_bound_mib_per_s"] / pipe_rate, 3)
    return out


# ---------------------------------------------------------------- nodes


class Watcher(threading.Thread):
    """bob's event stream: when each file ended (by id, with its state), when each chat text
    arrived."""

    def __init__(self, home: Path) -> None:
        super().__init__(daemon=True)
        self.files: dict[str, tuple[str, float]] = {}
        self.texts: dict[str, float] = {}
        self.cond = threading.Condition()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT * 5)
        self.sock.connect(str(socket_path(home)))
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b'{"id": 1, "method": "subscribe"}\n')
        json.loads(self.file.readline())
        self.start()

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while line := self.file.readline():  # ends when close() shuts the socket
                now = time.perf_counter()
                event = json.loads(line).get("event") or {}
                with self.cond:
                    if event.get("type") == "file" and event.get("state") in (
                            "done", "failed", "declined", "cancelled"):
                        self.files[event["id"]] = (event["state"], now)
                    elif event.get("type") == "message":
                        self.texts.setdefault(event.get("text", ""), now)
                    self.cond.notify_all()

    def wait_file(self, id_: str, timeout: float) -> tuple[str, float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while id_ not in self.files:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError("the transfer did not end in time")
                self.cond.wait(min(remaining, 1.0))
            return self.files[id_]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()


class RssSampler(threading.Thread):
    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.base = {pid: rss_mb(pid) or 0.0 for pid in pids}
        self.peak = dict(self.base)
        self.stop = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stop.wait(0.02):  # ended by growth()
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_mb(pid) or 0.0)

    def growth(self) -> float:
        self.stop.set()
        self.join(5)
        return max(self.peak[pid] - self.base[pid] for pid in self.pids)


def transfer(alice: NodeProcess, bob: NodeProcess, watcher: Watcher, src: Path,
             chat: bool = False, relay_pid: int | None = None) -> dict[str, Any]:
    assert alice.proc is not None and bob.proc is not None
    sampler = RssSampler([alice.proc.pid, bob.proc.pid])
    pids = [alice.proc.pid, bob.proc.pid, *([relay_pid] if relay_pid else [])]
    latencies: list[float] = []
    with ControlClient(alice.home, timeout=None) as client:
        t0 = time.perf_counter()
        [sent] = client.call("file.send", to=bob.name, paths=[str(src)])
        t1 = time.perf_counter()
        cpu_before = sum(cpu_seconds(pid) or 0.0 for pid in pids)  # after the offer's hashing
        if chat:
            latencies = chat_run(client, bob, watcher, f"busy{sent['id'][:6]}",
                                 until=lambda: sent["id"] in watcher.files)
        state, t2 = watcher.wait_file(sent["id"], WAIT * 5)
    cpu = sum(cpu_seconds(pid) or 0.0 for pid in pids) - cpu_before
    growth = sampler.growth()
    if state != "done":
        raise RuntimeError(f"the transfer ended {state}")
    got = next(t for t in json.loads(bob.cli("file", "list", "--json", check=True).stdout)
           if t["id"] == sent["id"])
    if os.path.getsize(got["path"]) != src.stat().st_size:
        raise RuntimeError("the received file has the wrong size")
    os.unlink(got["path"])
    size_mib = src.stat().st_size / 2**20
    return {"offer_s": round(t1 - t0, 3), "transfer_s": round(t2 - t1, 3),
            "mib_per_s": round(size_mib / (t2 - t1), 1), "rss_growth_mb": round(growth, 1),
            "cpu_s_per_gib": round(cpu / size_mib * 1024, 2),
            "latencies": latencies}


def chat_run(client: ControlClient, bob: NodeProcess, watcher: Watcher, label: str,
             n: int = 1000, until: Any = None) -> list[float]:
    """Messages at RATE, n at most or until `until()`; their one-way latencies."""
    issued: list[tuple[str, float]] = []
    start = time.perf_counter() + 0.02
    for i in range(n):
        if until is not None and until():
            break
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing, not synchronisation
        text = text_for(label, i)
        issued.append((text, time.perf_counter()))
        client.call("send", to=bob.name, text=text)
    with watcher.cond:
        deadline = time.monotonic() + WAIT
        while any(t not in watcher.texts for t, _ in issued) and time.monotonic() < deadline:
            watcher.cond.wait(1.0)
        return [watcher.texts[t] - at for t, at in issued if t in watcher.texts]


def relay_transfer(directory: Path, src: Path) -> dict[str, Any]:
    # Per-client rates lifted, as bench_relay.py does: the relay's default budget (4 MiB/s a
    # client) is its operator's choice; the transfer itself is measured.
    relay = RelayProcess(directory / "relay").start("--byte-rate", str(2**32 - 1),
                                                    "--frame-rate", str(2**32 - 1))
    arg = f"127.0.0.1:{relay.port}#{relay.status['fingerprint']}"
    alice = NodeProcess(directory / "ralice", "ralice")
    bob = NodeProcess(directory / "rbob", "rbob")
    try:
        alice.start("--relay", arg, "--auto-accept-size", "100G")
        bob.start("--relay", arg, "--auto-accept-size", "100G")
        alice.cli("contacts", "add", bob.fingerprint, "--name", bob.name, check=True)
        bob.cli("contacts", "add", alice.fingerprint, "--name", alice.name, check=True)
        link_up(alice, bob)
        watcher = Watcher(bob.home)
        try:
            assert relay.proc is not None
            return transfer(alice, bob, watcher, src, relay_pid=relay.proc.pid)
        finally:
            watcher.close()
    finally:
        for node in (alice, bob):
            with contextlib.suppress(Exception):
                node.stop()
            node.close()
        relay.close()


def ceiling_run(mib: int) -> dict[str, Any]:
    """The pipe and the crypto ceiling alone, no nodes."""
    directory = Path(tempfile.mkdtemp(prefix="p2pchat-bench-file-"))
    try:
        src = directory / "source.bin"
        make_source(src, mib)
        pipes = [mib / pipe_once(src, directory) for _ in range(3)]
        pipe_rate = statistics.median(pipes)
        result = {"file_mib": mib, "pipe_mib_per_s": round(pipe_rate, 1),
                  "pipe_runs_mib_per_s": [round(r, 1) for r in pipes],
                  **ceiling_ratios(ceiling_figures(src, directory, mib), pipe_rate)}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {**result, "environment": environment()}


def run(mib: int) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="p2pchat-bench-file-"))
    try:
        src = directory / "source.bin"
        make_source(src, mib)
        pipe_s = statistics.median(pipe_once(src, directory) for _ in range(3))
        ceiling = ceiling_figures(src, directory, mib)
        with node_pair(directory) as (alice, bob):
            # the pair's own start: restart with a large auto-accept (no prompt in the way)
            for node in (alice, bob):
                node.stop()
                node.start("--auto-accept-size", "100G")
            link_up(alice, bob)
            watcher = Watcher(bob.home)
            try:
                with ControlClient(alice.home, timeout=None) as client:
                    idle = chat_run(client, bob, watcher, "idle", n=40)
                direct = transfer(alice, bob, watcher, src)
                busy = transfer(alice, bob, watcher, src, chat=True)
            finally:
                watcher.close()
        relayed = relay_transfer(directory, src)
        pipe_again = statistics.median(pipe_once(src, directory) for _ in range(3))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    pipe_rate = mib / statistics.median([pipe_s, pipe_again])
    idle_ms = statistics.median(idle) * 1e3
    busy_ms = statistics.median(busy["latencies"]) * 1e3 if busy["latencies"] else None
    result: dict[str, Any] = {
        "file_mib": mib,
        "pipe_mib_per_s": round(pipe_rate, 1),
        **ceiling_ratios(ceiling, pipe_rate),
        "file_mib_per_s": direct["mib_per_s"],
        "ratio_vs_pipe": round(direct["mib_per_s"] / pipe_rate, 3),
        "file_cpu_s_per_gib": direct["cpu_s_per_gib"],
        "busy_file_mib_per_s": busy["mib_per_s"],
        "relay_mib_per_s": relayed["mib_per_s"],
        "relay_ratio_vs_pipe": round(relayed["mib_per_s"] / pipe_rate, 3),
        "relay_file_cpu_s_per_gib": relayed["cpu_s_per_gib"],
        "offer_s": direct["offer_s"],
        "rss_growth_mb": max(direct["rss_growth_mb"], busy["rss_growth_mb"],
                             relayed["rss_growth_mb"]),
        "chat_latency_idle_ms": round(idle_ms, 2),
        "chat_latency_during_ms": None if busy_ms is None else round(busy_ms, 2),
        "chat_messages_during": len(busy["latencies"]),
        "chat_latency_ratio": None if busy_ms is None else round(busy_ms / idle_ms, 2),
        "baseline": "raw TCP pipe on 127.0.0.1: file read in 256 KiB blocks, written and fsynced",
        "environment": environment(),
    }
    result["targets"] = {
        "ratio_vs_pipe >= 0.5": result["ratio_vs_pipe"] >= TARGETS["ratio_vs_pipe"],
        "relay_ratio_vs_pipe >= 0.4":
            result["relay_ratio_vs_pipe"] >= TARGETS["relay_ratio_vs_pipe"],
        "rss_growth_mb <= 30": result["rss_growth_mb"] <= TARGETS["rss_growth_mb"],
        "chat_latency_ratio <= 2": None if result["chat_latency_ratio"] is None
        else result["chat_latency_ratio"] <= TARGETS["chat_latency_ratio"],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 64 MiB file instead of 200")
    parser.add_argument("--mib", type=int, help="the file's size in MiB")
    parser.add_argument("--pipe-recv", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-recv", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-relay", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-only", action="store_true",
                        help="only the pipe and the crypto ceiling (no nodes)")
    args = parser.parse_args()
    if args.ceiling_recv:
        dest, size, hashes, layers = args.ceiling_recv
        ceiling_receiver(dest, int(size), hashes, int(layers))
        return
    if args.ceiling_relay:
        ceiling_relay(*args.ceiling_relay)
        return
    if args.pipe_recv:
        pipe_receiver(args.pipe_recv)
        return
    if args.ceiling_only:
        emit(ceiling_run(args.mib or (64 if args.quick else 200)))
        return
    emit(run(args.mib or (64 if args.quick else 200)))


if __name__ == "__main__":
    main()
