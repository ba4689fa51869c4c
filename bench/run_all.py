"""Run every benchmark and print one JSON document (optionally also written to a file).

    .venv/bin/python bench/run_all.py [--out bench/results.json] [--only crypto,chat,growth]

Each benchmark runs in its own process (so none inherits another's warm caches or threads),
with a timeout; a benchmark that fails or times out is reported as such, and the others still
run. The discovery benchmark needs root and iproute2 and reports "skipped" otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import environment, versions

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "crypto": "bench_crypto.py",
    "discovery": "bench_discovery.py",
    "chat": "bench_chat.py",
    "growth": "bench_growth.py",
    "relay": "bench_relay.py",
    "group": "bench_group.py",
}
TIMEOUT = 120.0  # seconds per benchmark; each normally takes well under a minute
# growth takes about 20 s, but where the history does make messages dearer (the code it was
# written against took 60-90 s) it must still get to report how much dearer
TIMEOUTS = {"growth": 300.0}


def run_one(name: str) -> dict[str, Any]:
    started = time.monotonic()
    timeout = TIMEOUTS.get(name, TIMEOUT)
    try:
        proc = subprocess.run([sys.executable, str(HERE / BENCHMARKS[name])],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return {"benchmark": name, "error": f"timed out after {timeout:g} s"}
    elapsed = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        return {"benchmark": name, "error": f"exit status {proc.returncode}",
                "stderr": proc.stderr[-2000:], "wall_s": elapsed}
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        return {"benchmark": name, "error": "output was not JSON",
                "stdout": proc.stdout[-2000:], "wall_s": elapsed}
    result["wall_s"] = elapsed
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHMARKS))
    args = parser.parse_args()
    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = {name: run_one(name) for name in names}
    targets: dict[str, Any] = {}
    for name, result in results.items():
        for target, passed in (result.get("targets") or {}).items():
            targets[f"{name}.{target}"] = passed
    document = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": {**environment(), **versions()},
        "targets": targets,
        "all_targets_met": bool(targets) and all(v is True for v in targets.values()),
        "results": results,
    }
    text = json.dumps(document, indent=2) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
