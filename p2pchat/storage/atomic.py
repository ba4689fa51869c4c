"""Replacing a small private file in the home in one step, so a crash leaves the old or the new."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to a temporary file beside `path` (mode 0600), then rename it over `path`.

    `durable` fsyncs before the rename: for what must survive power loss (the identity, network
    keys); a status file the next write replaces anyway can skip it. Raises OSError.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
