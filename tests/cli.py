"""Run the real `p2pchat` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    env.update(extra or {})
    return env


def run(home: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 30, check: bool = False,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`input`: what the command reads on standard input (none by default)."""
    proc = subprocess.run(
        [sys.executable, "-m", "p2pchat", "--home", str(home), *args],
        capture_output=True, text=True, timeout=timeout, env=cli_env(env),
        **({"stdin": subprocess.DEVNULL} if input is None else {"input": input}),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"p2pchat {' '.join(args)} failed: {proc.stderr}")
    return proc


def run_json(home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(run(home, *args, "--json", env=env, check=True).stdout)


def assert_clean_failure(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("p2pchat: "), proc.stderr
