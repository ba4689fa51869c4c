"""Shared by the benchmarks that run real node processes: a pair of nodes that are mutual
contacts, an event-stream subscriber that timestamps arrivals, CPU and memory of a process.

Every wait has a deadline; nothing here asserts on time.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the repository root on sys.path)

from p2pchat.home import socket_path
from tests.nodes import NodeProcess, wait_for

WAIT = 60.0  # seconds before any one wait gives up


def text_for(run: str, i: int) -> str:
    """A 100-character chat line whose start names its run and index."""
    return f"{run} {i:06d} ".ljust(100, "x")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    """Resident set size (VmRSS) of a process in MiB, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def filesystem(path: Path) -> str | None:
    """The filesystem type under `path` (from /proc/mounts), for the report."""
    best, kind = "", None
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


class Subscriber(threading.Thread):
    """A raw control-socket subscriber: the perf_counter time each message from `author`
    arrived, by its text. `wait_count(n)` blocks (with a deadline) until n have arrived."""

    def __init__(self, home: Path, author: str) -> None:
        super().__init__(daemon=True)
        self.author = author
        self.arrivals: dict[str, float] = {}
        self.lagged = False
        self._cond = threading.Condition()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        self.sock.connect(str(socket_path(home)))
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b'{"id": 1, "method": "subscribe"}\n')
        reply = json.loads(self.file.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"cannot subscribe: {reply}")
        self.start()

    def run(self) -> None:
        try:
            while True:  # bounded: each read times out after WAIT, and close() ends it
                line = self.file.readline()
                now = time.perf_counter()
                if not line:
                    return
                event = json.loads(line).get("event") or {}
                if event.get("type") == "lagged":
                    self.lagged = True
                if event.get("type") == "message" and event.get("author") == self.author:
                    with self._cond:
                        self.arrivals.setdefault(event.get("text", ""), now)
                        self._cond.notify_all()
        except (OSError, ValueError):
            return

    def wait_count(self, prefix: str, n: int, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for t in self.arrivals if t.startswith(prefix)) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.lagged:
                    return False
                self._cond.wait(min(remaining, 1.0))
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def link_up(alice: NodeProcess, bob: NodeProcess) -> None:
    wait_for(lambda: any(p["fingerprint"] == bob.fingerprint and p["state"] == "contact"
                         for p in alice.json("peers")["links"]), WAIT, "the link")


def make_contacts(alice: NodeProcess, bob: NodeProcess) -> None:
    """Both running: each adds the other with its typed address."""
    alice.cli("contacts", "add", bob.fingerprint, "--name", bob.name, "--addr", bob.addr,
              check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", alice.name, "--addr", alice.addr,
            check=True)


@contextlib.contextmanager
def node_pair(directory: Path) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """Two running node processes on 127.0.0.1 (no mDNS), mutual contacts, linked."""
    alice = NodeProcess(directory / "alice", "alice")
    bob = NodeProcess(directory / "bob", "bob")
    try:
        alice.start()
        bob.start()
        make_contacts(alice, bob)
        link_up(alice, bob)
        yield alice, bob
    finally:
        for node in (alice, bob):
            with contextlib.suppress(Exception):
                if node.proc is not None:
                    node.stop()
            node.close()


def pids(*nodes: NodeProcess) -> list[int]:
    out = []
    for node in nodes:
        assert node.proc is not None
        out.append(node.proc.pid)
    return out


def node_info(*nodes: NodeProcess) -> dict[str, Any]:
    return {node.name: {"pid": node.proc.pid if node.proc else None} for node in nodes}
