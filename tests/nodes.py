"""Real p2pchat nodes as separate processes, driven through the CLI like a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cli import cli_env, run, run_json


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # bounded: polling a condition with a deadline


class NodeProcess:
    """`p2pchat node` in its own process, listening on 127.0.0.1 with a port the OS picks."""

    def __init__(self, home: Path, name: str) -> None:
        self.home = home
        self.name = name
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = home.parent / f"{home.name}.log"
        run(home, "init", "--name", name, "--no-passphrase", check=True)
        self.fingerprint: str = run_json(home, "id")["fingerprint"]
        self.port: int | None = None

    def start(self, *extra: str, listen: str | None = None, mdns: bool = False,
              host: Any = None, env: dict[str, str] | None = None) -> NodeProcess:
        """Start the node; in a network-namespace `host` when given (see tests/netns); `env`
        adds to the (P2PCHAT_-free) environment."""
        listen = listen or f"127.0.0.1:{self.port or 0}"
        args = ["node", "--listen", listen, *([] if mdns else ["--no-mdns"]), *extra]
        argv = [sys.executable, "-m", "p2pchat", "--home", str(self.home), *args]
        with self.log_path.open("a") as log:
            if host is not None:
                self.proc = host.popen(argv, cli_env(env), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
            else:
                self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, text=True, env=cli_env(env),
                                             start_new_session=True)
        status = wait_for(self._status, 20, f"{self.name}'s node to start")
        self.port = int(status["listen"][0].rsplit(":", 1)[1])
        return self

    def _status(self) -> dict[str, Any] | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name}'s node exited: {self.log_path.read_text()}")
        proc = run(self.home, "status", "--json")
        if proc.returncode != 0:
            return None
        import json

        return json.loads(proc.stdout)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cli(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run(self.home, *args, **kwargs)

    def json(self, *args: str) -> Any:
        return run_json(self.home, *args)

    def log_json(self, who: str) -> list[dict[str, Any]]:
        import json

        proc = run(self.home, "log", who, "--json", check=True)
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
