"""Does a message cost more when its conversation already holds a long history?

    .venv/bin/python bench/bench_growth.py [-n 1000] [--history 10000,50000]

Three pairs of `p2pchat node` processes (`--no-mdns`, 127.0.0.1, port 0), each pair mutual
contacts with typed addresses as in bench_direct.py, one dm conversation per pair:

* `empty`: the conversation starts empty;
* `after_10k`, `after_50k`: before the timed sends, the pair's nodes are stopped and both of
  their stores are filled *directly* (through `Store`, one transaction per store) until the
  conversation holds 10,000 / 50,000 messages, written alternately by the two nodes and
  hash-chained from each author's head. Both stores get the same envelopes; each marks its own
  as sent and records the other node's acknowledgement of them; the two stores' heads are then
  compared (they must be equal), so the sync on reconnecting finds nothing missing and sends no
  envelope. The nodes restart on the same ports.

Each pair gets an untimed warm-up, then one control-API client per pair sends N 100-character
messages one at a time (`ControlClient.call("send")`, each returning after the sender's
commit), in blocks that take turns between the pairs (round robin, the order rotating each
round). Interleaving puts the three measurements in the same seconds: on a shared virtual disk
the fsync latency drifts by several times within a minute, which sequential phases would read
as a difference between them. `rate_*` is the median of a pair's block rates (messages/s);
the overall rate is reported too. Afterwards each receiver must hold the last message and each
sender must show it delivered.

`ratio` = rate_after_50k / rate_empty. `log_last50_ms`: the median time of a `log` control call
for the newest 50 messages of the 50,000-message conversation (what `p2pchat log NAME -n 50`
asks), next to the same call on the empty pair's conversation. Targets: both rates after
history at least 0.8 x the empty one, and log of the last 50 under 50 ms. Prints one JSON
object; every wait has a deadline; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import emit, environment, ratio, versions
from _nodes import cpu_seconds

from p2pchat.control_client import ControlClient
from p2pchat.core.messages import Envelope, dm_conversation_id, encode_text, envelope_hash
from p2pchat.storage import keystore
from p2pchat.storage.store import Store
from tests.nodes import NodeProcess, wait_for

WAIT = 60.0  # seconds before a wait gives up
WARMUP = 50  # untimed sends per pair first: connection set-up, caches, the WAL file's growth
BLOCKS = 20  # timed blocks per pair; N messages are split between them
DB_FILE = "p2pchat.db"  # the node's store inside its home (p2pchat.node.DB_FILE)
LOG_CALLS = 21  # `log -n 50` calls timed; the median is reported


def text_for(run: str, i: int) -> str:
    return f"{run} message {i:06d} ".ljust(100, "x")  # 100 characters, like a chat line


def public_key(node: NodeProcess) -> bytes:
    return bytes(keystore.load(node.home, None).identity.public_key)


def open_store(home: Path) -> Store:
    """The store a stopped node left behind, opened with the key the node derives."""
    identity = keystore.load(home, None).identity
    path = home / DB_FILE
    if not path.exists():
        raise RuntimeError(f"no store at {path}: has the node's DB_FILE changed?")
    return Store(path, identity.derive_key("store"))


def history_size(store: Store, conv: bytes) -> int:
    return sum(seq for seq, _ in store.conversations.heads(conv).values())


def extend_history(alice: NodeProcess, bob: NodeProcess, conv: bytes, total: int) -> int:
    """Append messages to the stopped nodes' conversation until it holds `total`.

    Both stores receive the same envelopes, so neither side misses anything when they link
    again. Returns the number of messages appended.
    """
    stores = {alice.fingerprint: open_store(alice.home), bob.fingerprint: open_store(bob.home)}
    keys = {alice.fingerprint: public_key(alice), bob.fingerprint: public_key(bob)}
    try:
        a_store, b_store = stores.values()
        heads = a_store.conversations.heads(conv)
        if heads != b_store.conversations.heads(conv):
            raise RuntimeError("the two stores disagree before pre-filling; sync has not settled")
        lamport = max(a_store.conversations.max_lamport(conv),
                      b_store.conversations.max_lamport(conv))
        missing = max(0, total - history_size(a_store, conv))
        authors = list(keys.values())
        tips = {key: heads.get(key, (0, bytes(32))) for key in authors}
        now = time.time_ns() // 1_000_000
        for i in range(missing):
            author = authors[i % 2]
            seq, prev = tips[author]
            lamport += 1
            env = Envelope(conv=conv, author=author, seq=seq + 1, lamport=lamport,
                           sent_at=now - missing + i, prev=prev,
                           body=encode_text(text_for("history", i)))
            tips[author] = (seq + 1, envelope_hash(env))
            for fp, store in stores.items():
                store.conversations.insert_envelope(env, env.sent_at, own=author == keys[fp])
        # Each side's own messages went out and came back acknowledged, as after a live chat.
        for fp, store in stores.items():
            me = keys[fp]
            other = next(k for k in authors if k != me)
            if tips[me][0]:
                store.conversations.mark_sent(conv, me, tips[me][0])
                store.conversations.set_peer_seq(conv, other, me, tips[me][0])
            store.commit()
        # Equal heads mean equal version vectors: on reconnecting, neither side finds anything
        # missing, so the sync exchanges one vector each way and sends no envelope.
        if a_store.conversations.heads(conv) != b_store.conversations.heads(conv):
            raise RuntimeError("the two stores disagree after pre-filling")
        return missing
    finally:
        for store in stores.values():
            store.close()


def link_up(alice: NodeProcess, bob: NodeProcess) -> None:
    wait_for(lambda: any(p["fingerprint"] == bob.fingerprint and p["state"] == "contact"
                         for p in alice.json("peers")["links"]), WAIT, "the link")


def newest(client: ControlClient, who: str) -> dict[str, Any] | None:
    last = client.call("log", **{"with": who, "limit": 1})
    return last[-1] if last else None


@dataclass
class Pair:
    """Two nodes, one conversation, and the measurements of the sends between them."""

    label: str
    history: int
    alice: NodeProcess
    bob: NodeProcess
    prefilled: int = 0
    prefill_s: float = 0.0
    sent: int = 0
    block_s: list[float] = field(default_factory=list)
    block_rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=lambda: {"sender_node": 0.0,
                                                             "receiver_node": 0.0})
    client: ControlClient | None = None

    @property
    def conv(self) -> bytes:
        return bytes(dm_conversation_id(public_key(self.alice), public_key(self.bob)))

    def pids(self) -> dict[str, int]:
        assert self.alice.proc is not None and self.bob.proc is not None
        return {"sender_node": self.alice.proc.pid, "receiver_node": self.bob.proc.pid}

    def send(self, text: str) -> float:
        assert self.client is not None
        t0 = time.perf_counter()
        self.client.call("send", to=self.bob.name, text=text)
        return time.perf_counter() - t0

    def block(self, count: int) -> None:
        cpu_before = {who: cpu_seconds(pid) for who, pid in self.pids().items()}
        started = time.perf_counter()
        for _ in range(count):
            self.latencies.append(self.send(text_for(self.label, self.sent)))
            self.sent += 1
        elapsed = time.perf_counter() - started
        self.block_s.append(elapsed)
        self.block_rates.append(count / elapsed)
        for who, pid in self.pids().items():
            after, before = cpu_seconds(pid), cpu_before[who]
            if after is not None and before is not None:
                self.cpu_s[who] += after - before

    def settle(self) -> None:
        """Wait until the receiver holds the last message and the sender shows it delivered."""
        assert self.client is not None
        client = self.client
        last_text = text_for(self.label, self.sent - 1)
        with ControlClient(self.bob.home, timeout=WAIT) as receiver:
            wait_for(lambda: (newest(receiver, self.alice.name) or {}).get("text") == last_text,
                     WAIT, f"{self.label}: the last message on the receiver")
        wait_for(lambda: (newest(client, self.bob.name) or {}).get("status") == "delivered",
                 WAIT, f"{self.label}: the last message delivered")

    def time_log(self) -> dict[str, Any]:
        times: list[float] = []
        with ControlClient(self.alice.home, timeout=WAIT) as client:
            for _ in range(LOG_CALLS):
                t0 = time.perf_counter()
                got = client.call("log", **{"with": self.bob.name, "limit": 50})
                times.append(time.perf_counter() - t0)
                if len(got) != 50:
                    raise RuntimeError(f"log -n 50 returned {len(got)} messages")
        return {"calls": LOG_CALLS, "median_ms": round(statistics.median(times) * 1e3, 3),
                "max_ms": round(max(times) * 1e3, 3)}

    def report(self) -> dict[str, Any]:
        total_s = sum(self.block_s)
        return {
            "history_before": self.history,
            "prefilled": self.prefilled,
            "prefill_s": round(self.prefill_s, 2),
            "messages": self.sent,
            "blocks": len(self.block_s),
            "rate_per_s": round(statistics.median(self.block_rates), 1),
            "overall_rate_per_s": round(self.sent / total_s, 1) if total_s > 0 else None,
            "block_rates_per_s": [round(r, 1) for r in self.block_rates],
            "send_call_latency_ms": {
                "median": round(statistics.median(self.latencies) * 1e3, 3),
                "max": round(max(self.latencies) * 1e3, 3),
            },
            # while the sends were acknowledged; the receiver may still be finishing the last
            "cpu_ms_per_message": {who: round(s * 1e3 / self.sent, 3)
                                   for who, s in self.cpu_s.items()},
        }


def start_pair(directory: Path, label: str, history: int) -> Pair:
    home = directory / label
    home.mkdir()
    pair = Pair(label, history, NodeProcess(home / "alice", "alice"),
                NodeProcess(home / "bob", "bob"))
    alice, bob = pair.alice, pair.bob
    alice.start()
    bob.start()
    alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
              check=True)
    bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
            check=True)
    link_up(alice, bob)
    if history:
        for node in (alice, bob):
            node.stop()
        t0 = time.perf_counter()
        pair.prefilled = extend_history(alice, bob, pair.conv, history)
        pair.prefill_s = time.perf_counter() - t0
        alice.start()
        bob.start()
        link_up(alice, bob)
    return pair


def run(n: int = 1000, histories: tuple[int, ...] = (10_000, 50_000)) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"benchmark": "growth",
                              "environment": {**environment(), **versions()},
                              "messages_per_pair": n, "warmup_per_pair": WARMUP,
                              "history": "pre-filled directly into both stores (nodes stopped)"}
    blocks = min(BLOCKS, n)
    sizes = [n // blocks + (1 if i < n % blocks else 0) for i in range(blocks)]
    pairs: list[Pair] = []
    with tempfile.TemporaryDirectory(prefix="p2pbench-growth-") as tmp:
        directory = Path(tmp).resolve()
        try:
            for label, history in (("empty", 0),
                                   *((f"after_{h // 1000}k", h) for h in histories)):
                pairs.append(start_pair(directory, label, history))
            with contextlib.ExitStack() as clients:
                for pair in pairs:
                    pair.client = clients.enter_context(
                        ControlClient(pair.alice.home, timeout=WAIT))
                    for i in range(WARMUP):
                        pair.send(text_for(f"{pair.label}-warmup", i))
                for round_no, size in enumerate(sizes):
                    shift = round_no % len(pairs)
                    for pair in pairs[shift:] + pairs[:shift]:
                        pair.block(size)
                for pair in pairs:
                    pair.settle()
            result["log_last50"] = pairs[-1].time_log()
            result["log_last50_empty_pair"] = pairs[0].time_log()
        finally:
            for pair in pairs:
                for node in (pair.alice, pair.bob):
                    with contextlib.suppress(Exception):
                        node.stop()
                    node.close()
        runs: dict[str, Any] = {}
        for pair in pairs:
            with contextlib.closing(open_store(pair.alice.home)) as store:
                runs[pair.label] = {**pair.report(),
                                    "history_at_end": history_size(store, pair.conv)}
    empty = runs["empty"]["rate_per_s"]
    result["runs"] = runs
    result["rate_empty"] = empty
    for total in histories:
        label = f"after_{total // 1000}k"
        result[f"rate_{label}"] = runs[label]["rate_per_s"]
        result[f"ratio_{label}"] = ratio(runs[label]["rate_per_s"], empty)
    result["ratio"] = ratio(runs[f"after_{histories[-1] // 1000}k"]["rate_per_s"], empty)
    result["log_last50_ms"] = result["log_last50"]["median_ms"]
    result["targets"] = {
        **{f"rate_after_{t // 1000}k_ge_0.8x_empty": (result[f"ratio_after_{t // 1000}k"] or 0)
           >= 0.8 for t in histories},
        "log_last50_lt_50ms": result["log_last50_ms"] < 50,
    }
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, choices=range(1, 10_001),
                        metavar="N", help="messages timed per pair (1..10000, default 1000)")
    parser.add_argument("--history", default="10000,50000",
                        help="conversation sizes to measure at, increasing, each a multiple "
                             "of 1000 (default 10000,50000)")
    args = parser.parse_args()
    try:
        histories = tuple(int(x) for x in args.history.split(","))
    except ValueError:
        parser.error("--history: comma-separated message counts")
    if not histories or any(b <= a for a, b in zip((0, *histories), histories, strict=False)) \
            or any(h % 1000 for h in histories) or histories[-1] > 1_000_000:
        parser.error("--history: increasing multiples of 1000, at most 1000000")
    emit(run(n=args.n, histories=histories))


if __name__ == "__main__":
    main()
