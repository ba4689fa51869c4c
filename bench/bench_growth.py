"""Does a message cost more when its conversation already holds a long history?

    .venv/bin/python bench/bench_growth.py [-n 500] [--history 10000,50000]

Two `p2pchat node` processes (`--no-mdns`, 127.0.0.1, port 0), mutual contacts with typed
addresses, as in bench_chat.py. One control-API client sends N 100-character messages one at a
time (`ControlClient.call("send")`, each returning after the sender's commit):

1. `rate_empty`: with an empty conversation (after a short untimed warm-up);
2. the nodes are stopped, and both stores are extended *directly* (through `Store`, in one
   transaction per store) until the conversation holds 10,000 messages, written alternately by
   the two nodes, hash-chained on from each author's head. Both stores get the same envelopes;
   each marks its own as sent and records the other node's acknowledgement of them. The two
   stores' heads are then compared (they must be equal), so the sync on reconnecting finds
   nothing missing and sends no envelope. The nodes restart on the same ports:
   `rate_after_10k`;
3. the same up to 50,000 messages: `rate_after_50k`, then `log_last50_ms`, the median time of
   a `log` control call for the newest 50 messages of that conversation (what `p2pchat log
   NAME -n 50` asks).

`ratio` = rate_after_50k / rate_empty, in the same run. Targets: both rates after history at
least 0.8 x the empty one, and log of the last 50 under 50 ms. Prints one JSON object; every
wait has a deadline; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, environment, ratio, versions

from p2pchat.control_client import ControlClient
from p2pchat.core.messages import Envelope, dm_conversation_id, encode_text, envelope_hash
from p2pchat.storage import keystore
from p2pchat.storage.store import Store
from tests.nodes import NodeProcess, wait_for

WAIT = 60.0  # seconds before a phase gives up
WARMUP = 20  # untimed sends after each (re)start: the first ones pay for connection set-up
DB_FILE = "p2pchat.db"  # the node's store inside its home (p2pchat.node.DB_FILE)
LOG_CALLS = 21  # `log -n 50` calls timed; the median is reported


def text_for(run: str, i: int) -> str:
    return f"{run} message {i:06d} ".ljust(100, "x")  # 100 characters, like a chat line


def public_key(node: NodeProcess) -> bytes:
    return keystore.load(node.home, None).identity.public_key


def open_store(home: Path) -> Store:
    """The store a stopped node left behind, opened with the key the node derives."""
    identity = keystore.load(home, None).identity
    path = home / DB_FILE
    if not path.exists():
        raise RuntimeError(f"no store at {path}: has the node's DB_FILE changed?")
    return Store(path, identity.derive_key("store"))


def history_size(store: Store, conv: bytes) -> int:
    return sum(seq for seq, _ in store.heads(conv).values())


def extend_history(alice: NodeProcess, bob: NodeProcess, conv: bytes, total: int) -> int:
    """Append messages to the stopped nodes' conversation until it holds `total`.

    Both stores receive the same envelopes, so neither side misses anything when they link
    again. Returns the number of messages appended.
    """
    stores = {alice.fingerprint: open_store(alice.home), bob.fingerprint: open_store(bob.home)}
    keys = {alice.fingerprint: public_key(alice), bob.fingerprint: public_key(bob)}
    try:
        a_store, b_store = stores.values()
        heads = a_store.heads(conv)
        if heads != b_store.heads(conv):
            raise RuntimeError("the two stores disagree before pre-filling; sync has not settled")
        lamport = max(a_store.max_lamport(conv), b_store.max_lamport(conv))
        missing = total - history_size(a_store, conv)
        authors = list(keys.values())
        tips = {key: heads.get(key, (0, bytes(32))) for key in authors}
        now = time.time_ns() // 1_000_000
        for i in range(max(0, missing)):
            author = authors[i % 2]
            seq, prev = tips[author]
            lamport += 1
            env = Envelope(conv=conv, author=author, seq=seq + 1, lamport=lamport,
                           sent_at=now - missing + i, prev=prev,
                           body=encode_text(text_for("history", i)))
            tips[author] = (seq + 1, envelope_hash(env))
            for fp, store in stores.items():
                store.insert_envelope(env, env.sent_at, own=author == keys[fp])
        # Each side's own messages went out and came back acknowledged, as after a live chat.
        for fp, store in stores.items():
            me = keys[fp]
            other = next(k for k in authors if k != me)
            store.mark_sent(conv, me, tips[me][0])
            store.set_peer_seq(conv, other, me, tips[me][0])
            store.commit()
        # Equal heads mean equal version vectors: on reconnecting, neither side finds anything
        # missing, so the sync exchanges one vector each way and sends no envelope.
        if a_store.heads(conv) != b_store.heads(conv):
            raise RuntimeError("the two stores disagree after pre-filling")
        return max(0, missing)
    finally:
        for store in stores.values():
            store.close()


def link_up(alice: NodeProcess, bob: NodeProcess) -> None:
    wait_for(lambda: any(p["fingerprint"] == bob.fingerprint and p["state"] == "contact"
                         for p in alice.json("peers")["links"]), WAIT, "the link")


def newest(client: ControlClient, who: str) -> dict[str, Any] | None:
    last = client.call("log", **{"with": who, "limit": 1})
    return last[-1] if last else None


def send_run(alice: NodeProcess, bob: NodeProcess, n: int, label: str) -> dict[str, Any]:
    """Warm up, then send n messages one at a time; wait until the receiver has them all and
    the sender shows the last one delivered (so both stores agree before the next phase)."""
    latencies: list[float] = []
    with ControlClient(alice.home, timeout=WAIT) as client:
        for i in range(WARMUP):
            client.call("send", to=bob.name, text=text_for(f"{label}-warmup", i))
        started = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            client.call("send", to=bob.name, text=text_for(label, i))
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        last_text = text_for(label, n - 1)
        with ControlClient(bob.home, timeout=WAIT) as receiver:
            wait_for(lambda: (newest(receiver, alice.name) or {}).get("text") == last_text,
                     WAIT, f"{label}: the last message on the receiver")
        wait_for(lambda: (newest(client, bob.name) or {}).get("status") == "delivered",
                 WAIT, f"{label}: the last message delivered")
    return {
        "messages": n,
        "send_s": round(elapsed, 3),
        "rate_per_s": round(n / elapsed, 1),
        "send_call_latency_ms": {
            "median": round(statistics.median(latencies) * 1e3, 3),
            "max": round(max(latencies) * 1e3, 3),
        },
    }


def time_log(alice: NodeProcess, bob: NodeProcess) -> dict[str, Any]:
    times: list[float] = []
    with ControlClient(alice.home, timeout=WAIT) as client:
        for _ in range(LOG_CALLS):
            t0 = time.perf_counter()
            got = client.call("log", **{"with": bob.name, "limit": 50})
            times.append(time.perf_counter() - t0)
            if len(got) != 50:
                raise RuntimeError(f"log -n 50 returned {len(got)} messages")
    return {"calls": LOG_CALLS, "median_ms": round(statistics.median(times) * 1e3, 3),
            "max_ms": round(max(times) * 1e3, 3)}


def restart(alice: NodeProcess, bob: NodeProcess) -> None:
    for node in (alice, bob):
        node.start()
    link_up(alice, bob)


def run(n: int = 500, histories: tuple[int, ...] = (10_000, 50_000)) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"benchmark": "growth",
                              "environment": {**environment(), **versions()},
                              "messages_per_run": n, "warmup_per_run": WARMUP,
                              "history": "pre-filled directly into both stores (nodes stopped)"}
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="p2pbench-growth-") as tmp:
        directory = Path(tmp).resolve()
        alice = NodeProcess(directory / "alice", "alice")
        bob = NodeProcess(directory / "bob", "bob")
        conv = dm_conversation_id(public_key(alice), public_key(bob))
        try:
            alice.start()
            bob.start()
            alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
                      check=True)
            bob.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr",
                    alice.addr, check=True)
            link_up(alice, bob)
            runs["empty"] = {"history_before": 0, **send_run(alice, bob, n, "empty")}
            for total in histories:
                for node in (alice, bob):
                    node.stop()
                t0 = time.perf_counter()
                added = extend_history(alice, bob, conv, total)
                prefill_s = time.perf_counter() - t0
                restart(alice, bob)
                label = f"after_{total // 1000}k"
                runs[label] = {"history_before": total, "prefilled": added,
                               "prefill_s": round(prefill_s, 2),
                               **send_run(alice, bob, n, label)}
            result["log_last50"] = time_log(alice, bob)
        finally:
            for node in (alice, bob):
                with contextlib.suppress(Exception):
                    node.stop()
                node.close()
        with contextlib.closing(open_store(alice.home)) as store:
            result["history_at_end"] = history_size(store, conv)
    empty = runs["empty"]["rate_per_s"]
    result["runs"] = runs
    result["rate_empty"] = empty
    for total in histories:
        label = f"after_{total // 1000}k"
        result[f"rate_{label}"] = runs[label]["rate_per_s"]
        result[f"ratio_{label}"] = ratio(runs[label]["rate_per_s"], empty)
    last = f"after_{histories[-1] // 1000}k"
    result["ratio"] = ratio(runs[last]["rate_per_s"], empty)
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
    parser.add_argument("-n", type=int, default=500, choices=range(1, 10_001), metavar="N",
                        help="messages timed per run (1..10000, default 500)")
    parser.add_argument("--history", default="10000,50000",
                        help="conversation sizes to measure at, increasing (default 10000,50000)")
    args = parser.parse_args()
    try:
        histories = tuple(int(x) for x in args.history.split(","))
    except ValueError:
        parser.error("--history: comma-separated message counts")
    if not histories or any(b <= a for a, b in zip((0, *histories), histories, strict=False)) \
            or histories[-1] > 1_000_000:
        parser.error("--history: increasing counts, each above 0, at most 1000000")
    emit(run(n=args.n, histories=histories))


if __name__ == "__main__":
    main()
