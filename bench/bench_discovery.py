"""How fast real nodes find each other by mDNS, and find each other again after renumbering.

    .venv/bin/python bench/bench_discovery.py [--repeats N]     (root and iproute2 needed)

Two hosts in Linux network namespaces on one bridge (tests/netns/netns.py; nothing else is
reachable and everything is torn down at the end). Measured, with a baseline from the same run:

* baseline: bare python-zeroconf (bench/_zc_agent.py, AsyncZeroconf): a browser in host 0, a
  registration in host 1; time from the registering process' start, and from its
  async_register_service call, until the browser has resolved the service.
* listed: node A (`p2pchat node --listen 0.0.0.0:0`, mDNS on) runs in host 0; a fresh node B is
  started in host 1; time from B's process start until A's `peers` (the control API call behind
  `p2pchat peers --json`) lists B under "nearby". Target <= 2 s.
* relinked: A and B are mutual contacts by fingerprint only (no address typed). B's host gets a
  new address (Host.set_address); time until A has a live link to B's new address (`peers`
  links[].address), and until A's nearby list shows the new address. Target <= 3 s.

Polling is every 50 ms with a deadline; each step has a timeout. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import emit, environment, ratio, summary, versions

from p2pchat.control_client import ControlClient, ControlError
from tests.cli import cli_env
from tests.netns import netns
from tests.netns.netns import Host, Network
from tests.nodes import NodeProcess

TARGET_LISTED_S = 2.0
TARGET_RELINK_S = 3.0
POLL = 0.05  # seconds between polls
WAIT = 15.0  # seconds before any one measurement gives up (recorded as a failure)
AGENT = Path(__file__).with_name("_zc_agent.py")


class Agent:
    """_zc_agent.py in one host; its JSON lines collected by a reader thread."""

    def __init__(self, host: Host, *args: str) -> None:
        self.popen_t = time.monotonic()
        self.process = host.popen([sys.executable, str(AGENT), *args, "--bind", host.address],
                                  {"PYTHONUNBUFFERED": "1"}, stderr=subprocess.DEVNULL)
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, event: str, timeout: float = WAIT, **match: Any) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if message is None:
                return None
            if message.get("event") == event and all(
                    message.get(k) == v for k, v in match.items()):
                return message
        return None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.process.stdin is not None
            self.process.stdin.write("stop\n")
            self.process.stdin.flush()
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def zeroconf_baseline(net: Network, repeats: int) -> dict[str, Any]:
    browser = Agent(net.hosts[0], "browse")
    from_process: list[float] = []
    from_call: list[float] = []
    probing: list[float] = []
    failures = 0
    try:
        if browser.next("ready") is None:
            raise RuntimeError("zeroconf browser did not start")
        for i in range(repeats):
            name = f"bench-{i}"
            reg = Agent(net.hosts[1], "register", "--name", name)
            try:
                call = reg.next("register_call")
                registered = reg.next("registered")
                seen = browser.next("seen", name=f"{name}._p2pbench._tcp.local.")
                if call is None or seen is None:
                    failures += 1
                    continue
                from_process.append(seen["t"] - reg.popen_t)
                from_call.append(seen["t"] - call["t"])
                if registered is not None:
                    probing.append(registered["t"] - call["t"])
            finally:
                reg.stop()
    finally:
        browser.stop()
    return {
        "what": "bare AsyncZeroconf register (host 1) -> AsyncServiceBrowser resolved (host 0)",
        "from_process_start": summary(from_process),
        "from_register_call": summary(from_call),
        "register_call_returns_after": summary(probing),
        "failures": failures,
    }


class Peers:
    """A's `peers` through one control connection (what `p2pchat peers --json` prints)."""

    def __init__(self, home: Path) -> None:
        self.client = ControlClient(home, timeout=10)

    def __call__(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call("peers")
        return result

    def close(self) -> None:
        self.client.close()


def start_timed(node: NodeProcess, host: Host) -> float:
    """Start `node` in `host` without waiting; returns the monotonic time of the start."""
    argv = [sys.executable, "-m", "p2pchat", "--home", str(node.home), "node",
            "--listen", "0.0.0.0:0"]
    with node.log_path.open("a") as log:
        started = time.monotonic()
        node.proc = host.popen(argv, cli_env(), stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    return started


def node_ready(node: NodeProcess) -> bool:
    try:
        with ControlClient(node.home, timeout=2) as client:
            client.call("status")
        return True
    except (ControlError, OSError):
        return False


def measure_listed(a_peers: Peers, b: NodeProcess, host: Host) -> dict[str, Any]:
    started = start_timed(b, host)
    ready_at: float | None = None
    listed_at: float | None = None
    deadline = started + WAIT
    while time.monotonic() < deadline:
        if ready_at is None and node_ready(b):
            ready_at = time.monotonic()
        if any(n["fingerprint"] == b.fingerprint for n in a_peers()["nearby"]):
            listed_at = time.monotonic()
            break
        time.sleep(POLL)
    return {
        "listed_s": None if listed_at is None else listed_at - started,
        "b_control_ready_s": None if ready_at is None else ready_at - started,
    }


def stop_node(node: NodeProcess) -> None:
    """SIGTERM (a clean stop sends mDNS goodbyes), then wait, bounded."""
    if node.proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        node.proc.send_signal(signal.SIGTERM)
    try:
        node.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        node.proc.kill()
        node.proc.wait(timeout=5)
    node.proc = None


def measure_relink(a_peers: Peers, b: NodeProcess, net: Network) -> dict[str, Any]:
    new_address = net.spare_address()
    moved = time.monotonic()
    net.hosts[1].set_address(new_address)
    prefix = new_address + ":"
    nearby_at: float | None = None
    linked_at: float | None = None
    direction = None
    deadline = moved + WAIT
    while time.monotonic() < deadline:
        peers = a_peers()
        now = time.monotonic()
        if nearby_at is None and any(
                n["fingerprint"] == b.fingerprint and any(x.startswith(prefix)
                                                          for x in n["addresses"])
                for n in peers["nearby"]):
            nearby_at = now
        link = next((p for p in peers["links"] if p["fingerprint"] == b.fingerprint
                     and p["address"].startswith(prefix)), None)
        if link is not None:
            linked_at, direction = now, link["direction"]
            break
        time.sleep(POLL)
    return {
        "new_address": new_address,
        "relinked_s": None if linked_at is None else linked_at - moved,
        "nearby_new_address_s": None if nearby_at is None else nearby_at - moved,
        "link_direction": direction,
    }


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL)
    return False


def run(repeats: int = 3) -> dict[str, Any]:
    try:
        netns.check_available()
    except netns.NetnsUnavailable as exc:
        return {"benchmark": "discovery", "skipped": str(exc)}
    netns.remove_stale()
    started = time.monotonic()
    result: dict[str, Any] = {"benchmark": "discovery",
                              "environment": {**environment(), **versions()}}
    nodes: list[NodeProcess] = []
    peers: Peers | None = None
    with tempfile.TemporaryDirectory(prefix="p2pbench-") as tmp, Network(2) as net:
        try:
            result["baseline_zeroconf"] = zeroconf_baseline(net, repeats)

            a = NodeProcess(Path(tmp) / "alice", "alice")
            nodes.append(a)
            a.start(listen="0.0.0.0:0", mdns=True, host=net.hosts[0])
            peers = Peers(a.home)
            listed: list[dict[str, Any]] = []
            b: NodeProcess | None = None
            for i in range(repeats):
                if b is not None:  # one B at a time; a clean stop says goodbye
                    stop_node(b)
                b = NodeProcess(Path(tmp) / f"bob{i}", f"bob{i}")
                nodes.append(b)
                listed.append(measure_listed(peers, b, net.hosts[1]))
            assert b is not None
            listed_values = [m["listed_s"] for m in listed if m["listed_s"] is not None]
            baseline = result["baseline_zeroconf"]["from_process_start"]["median_s"]
            result["listed_by_neighbour"] = {
                "what": "B's process start -> A's peers lists B in nearby",
                **summary(listed_values),
                "failures": len(listed) - len(listed_values),
                "b_control_ready": summary([m["b_control_ready_s"] for m in listed
                                            if m["b_control_ready_s"] is not None]),
                "baseline": "bare zeroconf, process start -> resolved (median)",
                "baseline_s": baseline,
                "ratio_median_to_baseline": ratio(summary(listed_values)["median_s"], baseline),
                "target_s": TARGET_LISTED_S,
                "pass": bool(listed_values) and len(listed_values) == len(listed)
                and max(listed_values) <= TARGET_LISTED_S,
            }

            # Mutual contacts, by fingerprint only, then renumber B's host.
            a.cli("contacts", "add", b.fingerprint, "--name", b.name, check=True)
            b.cli("contacts", "add", a.fingerprint, "--name", a.name, check=True)
            first_link = wait_until(lambda: any(
                p["fingerprint"] == b.fingerprint and p["state"] == "contact"
                for p in peers()["links"]), WAIT)
            if not first_link:
                raise RuntimeError("A never linked to B before the address change")
            moves = [measure_relink(peers, b, net) for _ in range(repeats)]
            relinked = [m["relinked_s"] for m in moves if m["relinked_s"] is not None]
            nearby = [m["nearby_new_address_s"] for m in moves
                      if m["nearby_new_address_s"] is not None]
            result["relinked_after_address_change"] = {
                "what": "B's host renumbered -> A has a live link to B's new address",
                **summary(relinked),
                "failures": len(moves) - len(relinked),
                "nearby_shows_new_address": summary(nearby),
                "link_directions": [m["link_direction"] for m in moves],
                "baseline": "bare zeroconf, register call -> resolved (median)",
                "baseline_s": result["baseline_zeroconf"]["from_register_call"]["median_s"],
                "ratio_median_to_baseline": ratio(
                    summary(relinked)["median_s"],
                    result["baseline_zeroconf"]["from_register_call"]["median_s"]),
                "target_s": TARGET_RELINK_S,
                "pass": bool(relinked) and len(relinked) == len(moves)
                and max(relinked) <= TARGET_RELINK_S,
            }
        finally:
            if peers is not None:
                peers.close()
            for node in nodes:
                with contextlib.suppress(Exception):
                    stop_node(node)
    result["targets"] = {
        "listed_le_2s": result.get("listed_by_neighbour", {}).get("pass"),
        "relinked_le_3s": result.get("relinked_after_address_change", {}).get("pass"),
    }
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, choices=range(1, 6),
                        metavar="1..5", help="measurements of each kind (default 3)")
    emit(run(repeats=parser.parse_args().repeats))


if __name__ == "__main__":
    main()
