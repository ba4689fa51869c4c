"""Shared helpers for the benchmarks: timing loops, medians, paths, JSON output.

Benchmarks print JSON and never assert on time; every loop here is bounded by an iteration
count or a deadline.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere: import p2pchat and tests
    sys.path.insert(0, str(ROOT))


def per_op(fn: Callable[[int], None], iterations: int, repeats: int) -> dict[str, float]:
    """Run `fn(iterations)` `repeats` times (after one warm-up of a tenth of the work).

    Returns the median, min and max seconds *per operation*, both CPU (process_time) and wall
    (perf_counter). The garbage collector is off while timing, as timeit does.
    """
    fn(max(1, iterations // 10))
    cpu: list[float] = []
    wall: list[float] = []
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            c0, w0 = time.process_time(), time.perf_counter()
            fn(iterations)
            c1, w1 = time.process_time(), time.perf_counter()
            cpu.append((c1 - c0) / iterations)
            wall.append((w1 - w0) / iterations)
    finally:
        if was_enabled:
            gc.enable()
    return {
        "cpu_median_s": statistics.median(cpu),
        "cpu_min_s": min(cpu),
        "cpu_max_s": max(cpu),
        "wall_median_s": statistics.median(wall),
        "iterations": iterations,
        "repeats": repeats,
    }


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median_s": None, "max_s": None, "min_s": None, "values_s": []}
    return {
        "n": len(values),
        "median_s": round(statistics.median(values), 4),
        "min_s": round(min(values), 4),
        "max_s": round(max(values), 4),
        "values_s": [round(v, 4) for v in values],
    }


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def versions() -> dict[str, Any]:
    """PyNaCl, its bundled libsodium and zeroconf versions, as installed."""
    from importlib import metadata

    out: dict[str, Any] = {}
    for dist in ("PyNaCl", "zeroconf", "msgpack"):
        try:
            out[dist.lower()] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist.lower()] = None
    # PyNaCl's bundled libsodium exports no version function through its cffi module; its own
    # changelog (in the package metadata) names the libsodium it ships.
    out["libsodium"] = None
    try:
        text = metadata.metadata("PyNaCl").get_payload()  # type: ignore[attr-defined]
        found = re.search(r"libsodium``\s+to\s+([0-9][\w.\-]*)", str(text))
        if found:
            out["libsodium"] = f"{found.group(1)} (bundled, per PyNaCl's changelog)"
    except Exception:
        pass
    return out


def emit(result: dict[str, Any]) -> None:
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()
