"""Forwarding through a real `p2pchat relay` next to a plain byte pipe, and the relay's memory.

    .venv/bin/python bench/bench_relay.py [--small N] [--bulk-mib M] [--repeats R]

Two peers run their own end-to-end Noise `Session` (as nodes will), each in its own process:

* through the relay: each peer attached to a `p2pchat relay` process (its per-client rates
  lifted with --byte-rate/--frame-rate, so the forwarding itself is measured) with the node's
  own relay client (`net/relay_connection.py`): what a stream writes in one event-loop turn goes
  out as one relay frame (or a few, at most `max_data` each), padded to its bucket, in the
  relay's Noise session;
* baseline, same run: the same two peers joined by a plain asyncio byte pipe in its own process
  (what socat would do: it forwards their session's bytes unchanged). The pipe is used even
  where socat is installed, so figures from different machines compare; the JSON says which.

Measured at the receiver, from its first record to its last: small frames (N chat-sized records
of 100 bytes, written one by one, 16 per event-loop turn, in both modes) in records/s, and
bulk (M one-MiB records) in MiB/s; the ratio of each to the baseline. Then 200 clients attach
and sit idle: the relay's resident memory (VmRSS) before and after. Prints one JSON object;
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, emit, environment, ratio, versions

from p2pchat.core.identity import Identity
from p2pchat.core.session import RecordReceived, Session
from p2pchat.net.relay_connection import RELAY_SESSION, RelayAddress, RelayConnection, RelayedLink
from tests.cli import cli_env
from tests.relay_client import RelayClient

WAIT = 60.0  # seconds before any one phase gives up
SMALL_SIZE = 100
BULK_RECORD = 1 << 20
IDLE_CLIENTS = 200
TURN = 16  # small records a sender writes between two yields to the event loop
BULK_TURN = 4  # 1 MiB records per turn: 4 MiB, under the 8 MiB a link lets a peer leave unread


def turn_of(size: int) -> int:
    """Records per turn: 16 small ones, or 4 bulk ones (a link closes on a peer that leaves
    more than 8 MiB unread, net/link.py, so a node never writes 16 MiB in one turn)."""
    return TURN if size < BULK_RECORD else BULK_TURN
TARGETS = {"small_ratio_vs_socat": 0.5, "bulk_ratio_vs_socat": 0.5, "rss_200_clients_mb": 60}


# ---------------------------------------------------------------- the peers (worker processes)


class Peer:
    """One end of an end-to-end session over the baseline pipe (bytes, unchanged)."""

    def __init__(self, identity: Identity, peer_key: bytes, mode: str) -> None:
        self.identity, self.peer_key, self.mode = identity, peer_key, mode
        self.session: Session | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int, relay_key: bytes | None) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)

    def push(self) -> None:
        assert self.session is not None and self.writer is not None
        data = self.session.data_to_send()
        if data:
            self.writer.write(data)

    async def drain(self) -> None:
        assert self.writer is not None
        await self.writer.drain()

    async def receive(self) -> list[Any]:
        assert self.session is not None and self.reader is not None
        data = await asyncio.wait_for(self.reader.read(1 << 20), WAIT)
        if not data:
            raise RuntimeError("the pipe closed")
        return self.session.receive_data(data, asyncio.get_running_loop().time())


async def run_receiver(args: argparse.Namespace) -> None:
    peer = Peer(Identity.from_seed(bytes.fromhex(args.seed)), bytes.fromhex(args.peer), args.mode)
    await peer.connect(args.port, bytes.fromhex(args.relay_key) if args.relay_key else None)
    now = asyncio.get_running_loop().time()
    peer.session = Session(identity=peer.identity, initiator=False, now=now)
    print("ready", flush=True)
    got, nbytes, first, first_cpu = 0, 0, 0.0, 0.0
    while got < args.count:  # bounded: every receive waits at most WAIT
        for event in await peer.receive():
            if isinstance(event, RecordReceived):
                if got == 0:
                    first, first_cpu = time.perf_counter(), time.process_time()
                got += 1
                nbytes += len(event.record)
        peer.push()  # IK2 after IK1 (we are established only on the key confirmation)
    elapsed = time.perf_counter() - first
    print(json.dumps({"records": got, "bytes": nbytes, "elapsed_s": elapsed,
                      "cpu_s": time.process_time() - first_cpu}), flush=True)


async def run_sender(args: argparse.Namespace) -> None:
    peer = Peer(Identity.from_seed(bytes.fromhex(args.seed)), bytes.fromhex(args.peer), args.mode)
    await peer.connect(args.port, bytes.fromhex(args.relay_key) if args.relay_key else None)
    loop = asyncio.get_running_loop()
    peer.session = Session(identity=peer.identity, initiator=True, now=loop.time(),
                           remote_key=peer.peer_key, ik_timestamp=time.time_ns())
    peer.push()
    while not peer.session.established:  # bounded: every receive waits at most WAIT
        await peer.receive()
    record = os.urandom(args.size)
    turn = turn_of(args.size)
    started_cpu = time.process_time()
    for i in range(args.count):
        peer.session.send_record(record, loop.time())
        peer.push()  # each record leaves at once, as a chat message would
        if i % turn == turn - 1:
            await peer.drain()
            await asyncio.sleep(0)  # the same turns as the node's relay client
    await peer.drain()
    print(json.dumps({"cpu_s": time.process_time() - started_cpu}), flush=True)
    # Stay connected until the orchestrator has the receiver's figures.
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), WAIT)


# ------------------------------------------------ through the relay with the node's relay client


class NodeClient:
    """One peer through the node's own relay client (net/relay_connection.py): what a stream writes
    in one event-loop turn leaves as one Send."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.attached = asyncio.Event()
        self.done = asyncio.Event()
        self.got, self.nbytes, self.first, self.first_cpu = 0, 0, 0.0, 0.0
        self.count = 0
        self.conn: RelayConnection | None = None

    async def connect(self, port: int, relay_key: bytes | None) -> RelayConnection:
        def relay_session(key: bytes | None) -> Session:
            return Session(identity=self.identity, initiator=True,
                           now=asyncio.get_running_loop().time(), remote_key=key,
                           ik_timestamp=time.time_ns(), config=RELAY_SESSION)

        self.conn = RelayConnection(RelayAddress(("127.0.0.1", port), relay_key),
                                    session=relay_session, on_inbound=self._inbound,
                                    on_change=self.attached.set)
        asyncio.get_running_loop().create_task(self.conn.run(WAIT))
        await asyncio.wait_for(self.attached.wait(), WAIT)
        return self.conn

    def _inbound(self, conn: RelayConnection, sender: bytes, stream: int) -> RelayedLink[None]:
        session = Session(identity=self.identity, initiator=False,
                          now=asyncio.get_running_loop().time())
        return conn.carry(sender, stream, session, outbound=False, on_event=self.on_event,
                          peer_state=None)

    def on_event(self, link: Any, event: Any) -> None:
        if isinstance(event, RecordReceived):
            if self.got == 0:
                self.first, self.first_cpu = time.perf_counter(), time.process_time()
            self.got += 1
            self.nbytes += len(event.record)
            if self.got >= self.count:
                self.done.set()


async def run_node_receiver(args: argparse.Namespace) -> None:
    peer = NodeClient(Identity.from_seed(bytes.fromhex(args.seed)))
    peer.count = args.count
    await peer.connect(args.port, bytes.fromhex(args.relay_key) if args.relay_key else None)
    print("ready", flush=True)
    await asyncio.wait_for(peer.done.wait(), WAIT)
    elapsed = time.perf_counter() - peer.first
    print(json.dumps({"records": peer.got, "bytes": peer.nbytes, "elapsed_s": elapsed,
                      "cpu_s": time.process_time() - peer.first_cpu}), flush=True)


async def run_node_sender(args: argparse.Namespace) -> None:
    peer = NodeClient(Identity.from_seed(bytes.fromhex(args.seed)))
    conn = await peer.connect(args.port,
                              bytes.fromhex(args.relay_key) if args.relay_key else None)
    loop = asyncio.get_running_loop()
    peer_key = bytes.fromhex(args.peer)
    session = Session(identity=peer.identity, initiator=True, now=loop.time(),
                      remote_key=peer_key, ik_timestamp=time.time_ns())
    link = conn.open(peer_key, session, peer.on_event, peer_state=None)
    assert link is not None
    assert await asyncio.wait_for(asyncio.shield(link.established), WAIT)
    record = os.urandom(args.size)
    turn = turn_of(args.size)
    started_cpu = time.process_time()
    for i in range(args.count):
        link.send_record(record)
        if i % turn == turn - 1:
            await link.drained()
            await asyncio.sleep(0)  # the end of a turn, as between two bursts of a node
    await asyncio.sleep(0)
    await link.drained()
    print(json.dumps({"cpu_s": time.process_time() - started_cpu}), flush=True)
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), WAIT)


# ---------------------------------------------------------------- the baseline pipe


async def run_pipe() -> None:
    """Join connections in pairs (1st with 2nd, ...) and copy bytes both ways, unchanged."""
    waiting: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not waiting:
            waiting.append((reader, writer))
            return
        other_reader, other_writer = waiting.pop()
        await asyncio.gather(copy(reader, other_writer), copy(other_reader, writer),
                             return_exceptions=True)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until killed


# ---------------------------------------------------------------- the orchestrator


def _worker(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _readline(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"worker exited early with status {proc.wait(WAIT)}")
    return line.strip()


def one_transfer(mode: str, ports: tuple[int, int], relay_key: bytes | None, size: int,
                 count: int) -> dict[str, Any]:
    a, b = Identity.generate(), Identity.generate()
    common = ["--mode", mode, "--count", str(count), "--size", str(size)]
    if relay_key is not None:
        common += ["--relay-key", relay_key.hex()]
    receiver = _worker("--receive", "--seed", b.seed.hex(), "--peer", a.public_key.hex(),
                       "--port", str(ports[1]), *common)
    sender: subprocess.Popen[str] | None = None
    try:
        if _readline(receiver) != "ready":
            raise RuntimeError("receiver did not start")
        sender = _worker("--send", "--seed", a.seed.hex(), "--peer", b.public_key.hex(),
                         "--port", str(ports[0]), *common)
        result: dict[str, Any] = json.loads(_readline(receiver))
        result["sender_cpu_s"] = json.loads(_readline(sender))["cpu_s"]
        return result
    finally:
        for proc in (sender, receiver):
            if proc is not None:
                if proc.stdin is not None:
                    proc.stdin.close()
                try:
                    proc.wait(WAIT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(WAIT)


def measure(mode: str, start: Any, relay_key: bytes | None, size: int, count: int,
            repeats: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeats):
        ports, cleanup, pid = start()
        try:
            before = cpu_s(pid)
            runs.append(one_transfer(mode, ports, relay_key, size, count))
            runs[-1]["forwarder_cpu_s"] = cpu_s(pid) - before
        finally:
            cleanup()
    rates = [r["records"] / r["elapsed_s"] for r in runs if r["elapsed_s"] > 0]
    mib = [r["bytes"] / r["elapsed_s"] / (1 << 20) for r in runs if r["elapsed_s"] > 0]
    # CPU per record: what each process spent, whatever else the machine was doing.
    per_record_us = {
        who: round(statistics.median(r[key] for r in runs) / count * 1e6, 2)
        for who, key in (("forwarder", "forwarder_cpu_s"), ("sender", "sender_cpu_s"),
                         ("receiver", "cpu_s"))
    }
    return {"records_per_s": round(statistics.median(rates), 1),
            "mib_per_s": round(statistics.median(mib), 2),
            "cpu_us_per_record": per_record_us,
            "runs_records_per_s": [round(x, 1) for x in rates], "records": count,
            "record_bytes": size}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def attach_idle(port: int, relay_key: bytes, n: int) -> list[RelayClient]:
    from p2pchat.core.relay_limits import RelayLimits

    clients: list[RelayClient] = []
    step = RelayLimits().max_pending_per_host  # one host's handshakes at a time: none evicted
    for start in range(0, n, step):
        batch = [RelayClient() for _ in range(start, min(n, start + step))]
        await asyncio.gather(*(c.connect("127.0.0.1", port, relay_key=relay_key)
                               for c in batch))
        clients += batch
    return clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=20000, help="small records per run")
    parser.add_argument("--bulk-mib", type=int, default=64, help="one-MiB records per run")
    parser.add_argument("--repeats", type=int, default=3)
    # Worker modes (the benchmark runs itself in separate processes).
    parser.add_argument("--pipe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--send", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    for name in ("--mode", "--seed", "--peer", "--relay-key"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    for name in ("--port", "--count", "--size"):
        parser.add_argument(name, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipe:
        asyncio.run(run_pipe())
        return
    if args.send:
        asyncio.run(run_node_sender(args) if args.mode == "relay" else run_sender(args))
        return
    if args.receive:
        asyncio.run(run_node_receiver(args) if args.mode == "relay" else run_receiver(args))
        return

    # socat is the reference forwarder; the pipe does its job in the same run on any machine.
    baseline_kind = ("asyncio byte pipe (socat is installed but not used)" if shutil.which("socat")
                     else "asyncio byte pipe (socat is not installed)")
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        home = Path(tmp) / "relay"
        relay = subprocess.Popen(
            [sys.executable, "-m", "p2pchat", "--home", str(home), "relay", "--listen",
             "127.0.0.1:0", "--no-mdns", "--byte-rate", str(2**32 - 1), "--frame-rate",
             str(2**32 - 1), "--max-clients", "300", "--max-clients-per-host", "300", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=cli_env(),
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        try:
            port = relay_key = None
            deadline = time.monotonic() + WAIT
            while relay_key is None and time.monotonic() < deadline:  # bounded by lines
                line = _readline(relay)
                if line.startswith("paste into a node: --relay "):
                    addr, fp = line.split("--relay ", 1)[1].split("#", 1)
                    port = int(addr.rsplit(":", 1)[1])
                    from p2pchat.core.identity import parse_fingerprint

                    relay_key = parse_fingerprint(fp)
            assert port is not None and relay_key is not None
            relay_ports = (port, port)

            def start_relay_mode() -> tuple[tuple[int, int], Any, int]:
                return relay_ports, lambda: None, relay.pid

            def start_baseline() -> tuple[tuple[int, int], Any, int]:
                pipe = _worker("--pipe")
                p = int(_readline(pipe))
                return (p, p), lambda: (pipe.kill(), pipe.wait(WAIT)), pipe.pid

            small_base = measure("pipe", start_baseline, None, SMALL_SIZE, args.small,
                                 args.repeats)
            small_relay = measure("relay", start_relay_mode, relay_key, SMALL_SIZE, args.small,
                                  args.repeats)
            bulk_base = measure("pipe", start_baseline, None, BULK_RECORD, args.bulk_mib,
                                args.repeats)
            bulk_relay = measure("relay", start_relay_mode, relay_key, BULK_RECORD,
                                 args.bulk_mib, args.repeats)

            rss_before = rss_mb(relay.pid)

            async def idle() -> float:
                clients = await attach_idle(port, relay_key, IDLE_CLIENTS)
                try:
                    return rss_mb(relay.pid)
                finally:
                    for c in clients:
                        await c.close()

            rss_after = asyncio.run(idle())
            from p2pchat.relay.status import read_status

            counts = read_status(home)
            relay_counts = {k: counts[k] for k in ("frames_forwarded", "not_here",
                                                   "dropped_queue_full", "throttled",
                                                   "refusals")}
        finally:
            os.killpg(relay.pid, signal.SIGTERM)
            relay.wait(WAIT)

    small_ratio = ratio(small_relay["records_per_s"], small_base["records_per_s"])
    bulk_ratio = ratio(bulk_relay["mib_per_s"], bulk_base["mib_per_s"])
    emit({
        "benchmark": "relay",
        "environment": {**environment(), **versions()},
        "baseline": baseline_kind,
        "small": {"relay": small_relay, "baseline": small_base, "ratio": small_ratio},
        "bulk": {"relay": bulk_relay, "baseline": bulk_base, "ratio": bulk_ratio},
        "small_ratio_vs_socat": small_ratio,
        "bulk_ratio_vs_socat": bulk_ratio,
        "relay_status": relay_counts,
        "rss_before_clients_mb": round(rss_before, 1),
        "rss_200_clients_mb": round(rss_after, 1),
        "targets": {
            "small_ratio_vs_socat": small_ratio is not None
            and small_ratio >= TARGETS["small_ratio_vs_socat"],
            "bulk_ratio_vs_socat": bulk_ratio is not None
            and bulk_ratio >= TARGETS["bulk_ratio_vs_socat"],
            "rss_200_clients_mb": rss_after <= TARGETS["rss_200_clients_mb"],
        },
        "target_values": TARGETS,
    })


if __name__ == "__main__":
    main()
