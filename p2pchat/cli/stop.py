"""`p2pchat stop`: ask the running node to stop (the local API), and wait until it has."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from p2pchat.cli.output import fail

STOP_WAIT = 20.0  # seconds: a node closes its links and store within a few


def _gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie not yet reaped by its parent has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def cmd_stop(args: argparse.Namespace) -> int:
    from p2pchat.control_client import ControlClient, ControlError

    if not args.home.is_dir():
        fail(f"there is no p2pchat home at {args.home}")
    try:
        with ControlClient(args.home) as client:
            answer = client.call("stop")
    except ControlError as exc:
        if exc.code == "no_node":
            print(f"No node is running for {args.home}: nothing to stop.")
            return 0
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot talk to the node: {exc}")
    pid = int(answer["pid"])
    deadline = time.monotonic() + args.timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            fail(f"the node (pid {pid}) was asked to stop but still runs after"
                 f" {args.timeout:.0f} s; 'kill {pid}' ends it")
        time.sleep(0.1)  # polling another process's exit, with a deadline
    print(f"Stopped the node (pid {pid}); you are offline until it runs again.")
    return 0
