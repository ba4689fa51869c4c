"""Run the benchmark objects and print one line per object.

    python -m bench [--quick] [--json] [--out FILE] [--list] [NAME...]

Each object (bench/registry.py) runs in its own process, one after another, so none inherits
another's warm caches, threads or load; one that fails or times out is reported as such and the
others still run. With --json every line is one JSON object with a `name`: first the machine
and its load (`environment`), then each object's figures, the baseline it measured in the same
run, its `targets` and `met` (all targets met; null if any could not be measured). Without
--json a short human summary. The exit status is 1 if an object failed to run, else 0: a missed
target is a result, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.registry import OBJECTS, Entry

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def environment() -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    try:
        from _common import environment as env
        from _common import versions
    finally:
        sys.path.remove(str(HERE))
    load = os.getloadavg()
    return {"name": "environment", **env(), **versions(),
            "load_average_1_5_15": [round(x, 2) for x in load],
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git": git_commit()}


def git_commit() -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def run_entry(entry: Entry, quick: bool, nodes: int | None = None) -> dict[str, Any]:
    args = entry.quick if quick else entry.full
    assert args is not None
    if nodes is not None and entry.name == "group":  # `python -m bench group --nodes N`
        args = (*args, "--nodes", str(nodes))
    script = HERE / entry.script
    started = time.monotonic()
    if not script.exists():
        return {"error": f"{entry.script} is registered but missing"}
    try:
        proc = subprocess.run([sys.executable, str(script), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=entry.timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{entry.script} timed out after {entry.timeout:g} s"}
    wall = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        return {"error": f"{entry.script} exited with status {proc.returncode}",
                "stderr": proc.stderr[-2000:], "wall_s": wall}
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        return {"error": f"{entry.script} printed no JSON object", "stdout": proc.stdout[-2000:],
                "wall_s": wall}
    if not isinstance(result, dict):
        return {"error": f"{entry.script} printed JSON that is not an object"}
    result.pop("benchmark", None)  # the old scripts' own label; the registry names the object
    result.pop("environment", None)  # printed once, on the environment line
    result["wall_s"] = wall
    return result


def merge(name: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One object from its entries' outputs: figures side by side, targets and errors joined."""
    merged: dict[str, Any] = {"name": name}
    targets: dict[str, Any] = {}
    errors: list[str] = []
    wall = 0.0
    for part in parts:
        part = dict(part)
        targets.update(part.pop("targets", None) or {})
        wall += part.pop("wall_s", 0.0) or 0.0
        if "error" in part:
            errors.append(part.pop("error"))
        merged.update(part)
    merged["targets"] = targets
    values = list(targets.values())
    merged["met"] = None if not values or any(v is None for v in values) \
        else all(v is True for v in values)
    if errors:
        merged["error"] = "; ".join(errors)
        merged["met"] = None if not values else merged["met"] and False
    merged["wall_s"] = round(wall, 1)
    return merged


def headline(obj: dict[str, Any]) -> str:
    """Top-level numbers of an object, for the human summary."""
    bits = [f"{k}={v}" for k, v in obj.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k != "wall_s"]
    if "skipped" in obj:
        bits.append(f"skipped: {obj['skipped']}")
    if "error" in obj:
        bits.append(f"ERROR: {obj['error']}")
    return " ".join(bits)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=__doc__.strip().split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the quick set with smaller counts (within 60 s on 2 cores)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    parser.add_argument("--list", action="store_true", help="list the objects and exit")
    parser.add_argument("--nodes", type=int, metavar="N",
                        help="group: how many nodes (members) to run (default 30)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="objects to run (default: all"
                        " of the full run, or the quick set with --quick)")
    args = parser.parse_args()
    known = list(dict.fromkeys(e.name for e in OBJECTS))
    if args.list:
        for name in known:
            scripts = [e for e in OBJECTS if e.name == name]
            quick = "quick and full" if all(e.quick is not None for e in scripts) else "full"
            print(f"{name:12} {quick:15} {', '.join(e.script for e in scripts)}")
        return 0
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown object(s): {', '.join(unknown)}; known: {', '.join(known)}")
    if args.names:
        names = list(dict.fromkeys(args.names))
    else:
        names = [n for n in known
                 if not args.quick or all(e.quick is not None for e in OBJECTS if e.name == n)]
    lines: list[dict[str, Any]] = [environment()]
    if args.quick:
        lines[0]["run"] = "quick"
    out(lines[0], args.json)
    failed = False
    for name in names:
        entries = [e for e in OBJECTS if e.name == name]
        parts = []
        for entry in entries:
            if args.quick and entry.quick is None:
                parts.append({"skipped": f"{entry.script} runs only in a full run"})
            else:
                parts.append(run_entry(entry, args.quick, args.nodes))
        obj = merge(name, parts)
        failed = failed or "error" in obj
        lines.append(obj)
        out(obj, args.json)
    if args.out is not None:
        with args.out.open("a") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
    return 1 if failed else 0


def out(obj: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj), flush=True)
    elif obj["name"] == "environment":
        print(f"# {obj['python']} on {obj['platform']}, {obj['cpus']} cpus, load "
              f"{obj['load_average_1_5_15']}, commit {obj['git']}", flush=True)
    else:
        met = {True: "met", False: "MISSED", None: "-"}[obj.get("met")]
        print(f"{obj['name']:10} {met:7} {obj.get('wall_s', 0):6.1f}s  {headline(obj)}",
              flush=True)
        for target, ok in (obj.get("targets") or {}).items():
            print(f"{'':10} {'ok' if ok else 'no' if ok is False else '?':>7}  {target}",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
