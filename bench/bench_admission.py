"""What admission to a network costs, and how fast an online guesser gets its guesses in.

    .venv/bin/python bench/bench_admission.py [--quick] [--seconds S]

1. The SPAKE2 exchange (core/admission.py): CPU per joiner side and per member side.
2. An online guesser against a real member (`p2pchat node` in its own process, a network made
   by `p2pchat network create`): it runs admission exchanges with wrong passphrases as fast as
   the member lets it, waiting what each BUSY answer says, for S seconds; once from one source
   address (127.0.0.1), once spread over 32 source addresses (127.0.0.2..33) against a fresh
   member. A guess counts when the member ran the exchange (ADMIT2 came back), whatever the
   passphrase. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, environment, per_op, versions

from p2pchat.core import admission as adm
from p2pchat.core.framing import encode_frame
from p2pchat.core.guess_limits import GuessLimits
from p2pchat.node.admission import Busy, Frames

KEY = bytes(range(32))


_ADMIT1 = adm.Joiner("lab", "x").first()
_ADMIT2 = adm.Member(lambda nid: ("lab", "x", KEY)).on_first(_ADMIT1)


def joiner_side(n: int) -> None:
    """ADMIT1 written and ADMIT2 read: the joiner's two Ed25519 scalar multiplications."""
    for _ in range(n):
        joiner = adm.Joiner("lab", "stuff-tank-gift-busy-rail-frost")
        joiner.first()
        joiner.on_reply(_ADMIT2)


def member_side(n: int) -> None:
    """ADMIT1 read, ADMIT2 written: what each guess costs a member."""
    for _ in range(n):
        adm.Member(lambda nid: ("lab", "stuff-tank-gift-busy-rail-frost", KEY)).on_first(_ADMIT1)


async def guess_once(address: tuple[str, int], source: str) -> float:
    """One wrong guess; 0.0 if the member ran the exchange, else the wait it asked for."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        *address, local_addr=(source, 0)), 5)
    try:
        joiner = adm.Joiner("lab", "wrong-guess")
        writer.write(encode_frame(bytes((adm.KIND_ADMIT1,)) + joiner.first()))
        kind, body = await Frames(reader).next()
        if kind == adm.KIND_BUSY:
            raise Busy(float(int.from_bytes(body, "big")))
        writer.write(encode_frame(bytes((adm.KIND_ADMIT3,)) + joiner.on_reply(body)))
        await asyncio.wait_for(reader.read(200), 10)  # closed on us: a failed guess
        return 0.0
    except Busy as exc:
        return exc.retry_after
    finally:
        writer.close()


async def guesser(address: tuple[str, int], sources: list[str], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    guesses = 0
    busy = 0
    ready = dict.fromkeys(sources, 0.0)
    times: list[float] = []
    start = time.monotonic()
    while time.monotonic() < deadline:  # bounded by the deadline
        now = time.monotonic()
        source = min(ready, key=lambda s: ready[s])
        if ready[source] > now:
            await asyncio.sleep(min(ready[source], deadline) - now)  # the attacker waits
            continue
        pause = await guess_once(address, source)
        if pause == 0.0:
            guesses += 1
            times.append(round(time.monotonic() - start, 1))
        else:
            busy += 1
            ready[source] = time.monotonic() + min(pause, 5.0 if len(sources) > 1 else pause)
    return {"seconds": seconds, "sources": len(sources), "guesses": guesses,
            "busy_answers": busy, "guesses_per_minute": round(guesses * 60 / seconds, 2),
            "guess_times_s": times}


def member(tmp: Path, label: str) -> Any:
    from tests.nodes import NodeProcess

    node = NodeProcess(tmp / label, label)
    node.cli("network", "create", "lab", "--json", check=True)
    return node.start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (30.0 if args.quick else 180.0)
    result: dict[str, Any] = {"bench": "admission", **environment(), **versions()}
    result["joiner_side"] = per_op(joiner_side, 20, 3)
    result["member_side"] = per_op(member_side, 20, 3)
    limits = GuessLimits()
    result["limits"] = {"free_per_source": limits.free_per_source, "backoff_s": limits.backoff,
                        "max_backoff_s": limits.max_backoff,
                        "network_burst": limits.network_burst,
                        "network_per_minute": limits.network_rate * 60}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for label, sources in (("one_source", ["127.0.0.1"]),
                               ("many_sources", [f"127.0.0.{i}" for i in range(2, 34)])):
            node = member(tmp, label)
            try:
                assert node.port is not None
                result[label] = asyncio.run(guesser(("127.0.0.1", node.port), sources, seconds))
            finally:
                node.close()
    emit(result)


if __name__ == "__main__":
    main()
