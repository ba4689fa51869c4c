"""The relay's status file: counts a running relay rewrites atomically, `relay status` reads.

A file rather than a control socket: the relay has nothing to be asked, only counts to show, so
it needs no second listener (one less thing a stranger on the machine could poke), the status
stays readable while the relay is busy or after it died (with the time it was written and the
process id, so the reader can tell), and a rename makes every write all-or-nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from p2pchat.storage.atomic import replace_file

FILE_NAME = "relay-status.json"
MAX_SIZE = 64 * 1024


class StatusError(Exception):
    """No status, or an unreadable one; the message says what to do."""


def status_path(home: Path) -> Path:
    return home / FILE_NAME


def write_status(home: Path, status: dict[str, Any]) -> None:
    """Replace the status file in one step (write a temporary file, then rename it)."""
    replace_file(status_path(home), json.dumps(status).encode(), durable=False)


def read_status(home: Path) -> dict[str, Any]:
    path = status_path(home)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SIZE + 1)
    except FileNotFoundError:
        raise StatusError(f"no relay has run in {home}: start one with 'p2pchat relay'") from None
    except OSError as exc:
        raise StatusError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if len(raw) > MAX_SIZE:
            raise ValueError("too large")
        status = json.loads(raw.decode("utf-8"))
        if not isinstance(status, dict) or not isinstance(status.get("pid"), int):
            raise ValueError("not a status object")
    except ValueError:
        raise StatusError(f"{path} is damaged; it is rewritten when the relay starts") from None
    status["running"] = bool(status.get("running")) and _alive(status["pid"])
    return status


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True
