"""How long `p2pchat --help` takes next to an empty Python start (the `startup` object's
`help_ratio_vs_python`; the UI adds `chat_first_screen_ms` from bench_startup.py).

    .venv/bin/python bench/bench_help.py [--quick]

Both commands run as fresh processes, alternately (so drift on a shared machine hits both),
R times each; the medians are compared. The command is the installed `p2pchat` script next to
this interpreter (what a user types), or `python -m p2pchat` where there is none. Prints one
JSON object; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit

from tests.cli import cli_env

TARGET_RATIO = 8.0


def _env() -> dict[str, str]:
    # A user's install has its bytecode; PYTHONDONTWRITEBYTECODE (set in this machine's shells)
    # would leave the warm-up without effect and time compiling every module from source
    # instead (session 33: 15-18 ms of a 70 ms --help).
    return {k: v for k, v in cli_env().items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, timeout=60, env=_env(),
                          stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited with status {proc.returncode}")
    return elapsed


def run(repeats: int) -> dict[str, Any]:
    script = Path(sys.executable).with_name("p2pchat")
    help_argv = [str(script), "--help"] if script.exists() else \
        [sys.executable, "-m", "p2pchat", "--help"]
    python_argv = [sys.executable, "-c", "pass"]
    wall(help_argv)  # warm the page cache and the bytecode cache
    wall(python_argv)
    helps, pythons = [], []
    for _ in range(repeats):
        pythons.append(wall(python_argv))
        helps.append(wall(help_argv))
    h, p = statistics.median(helps), statistics.median(pythons)
    out: dict[str, Any] = {
        "help_ratio_vs_python": round(h / p, 2),
        "help_ms": round(h * 1e3, 1),
        "baseline_python_ms": round(p * 1e3, 1),
        "help_command": " ".join(Path(a).name if i == 0 else a
                                 for i, a in enumerate(help_argv)),
        "repeats": repeats,
        "bytecode_cache": True,  # PYTHONDONTWRITEBYTECODE removed for these processes
    }
    out["targets"] = {"help_ratio_vs_python <= 8": out["help_ratio_vs_python"] <= TARGET_RATIO}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Quick: 9 of each (a median of 5 let one slow moment move the ratio from 6 to 8.1).
    parser.add_argument("--quick", action="store_true", help="9 runs of each instead of 15")
    emit(run(9 if parser.parse_args().quick else 15))


if __name__ == "__main__":
    main()
