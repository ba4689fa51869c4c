"""Which contacts' keys the user verified (safety numbers compared in person): `verified.json`
in the home, fingerprint -> when. Public keys only, nothing secret; a missing or damaged file
means "none verified", never an error that stops the node."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from p2pchat.storage.atomic import replace_file

FILE_NAME = "verified.json"
MAX_FILE_SIZE = 256 * 1024
MAX_ENTRIES = 4096

log = logging.getLogger("p2pchat.node")


class VerifiedKeys:
    def __init__(self, home: Path) -> None:
        self._path = home / FILE_NAME
        self._keys: dict[str, int] = {}  # key hex -> unix ms
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            with self._path.open("rb") as handle:
                data = json.loads(handle.read(MAX_FILE_SIZE))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignored %s (%s): no contact counts as verified", self._path, exc)
            return
        if isinstance(data, dict):
            self._keys = {k: v for k, v in list(data.items())[:MAX_ENTRIES]
                          if isinstance(k, str) and len(k) == 64 and isinstance(v, int)}

    def is_verified(self, key: bytes) -> bool:
        """Whether the user verified `key` in person."""
        self._load()
        return key.hex() in self._keys

    def set(self, key: bytes, verified: bool, now_ms: int) -> None:
        """Raises OSError when the file cannot be written (the command says so)."""
        self._load()
        keys = dict(self._keys)
        if verified:
            if len(keys) >= MAX_ENTRIES and key.hex() not in keys:
                raise OSError("too many verified contacts")
            keys[key.hex()] = now_ms
        else:
            keys.pop(key.hex(), None)
        replace_file(self._path, json.dumps(keys).encode())
        self._keys = keys
