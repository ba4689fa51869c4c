"""Read positions: how far the user has read each conversation, so unread counts survive a
restart and agree between every screen attached to the node.

Kept in `read_positions.json` in the home (a contact's fingerprint or a group's id -> id of the
newest message read), written atomically; the file is bounded and checked like any file on disk.
Without a position, what came after our own last message counts as unread (we had read what we
answered).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

from p2pchat.storage.atomic import replace_file
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")

FILE_NAME = "read_positions.json"
MAX_FILE = 1024 * 1024
MAX_ENTRIES = 10_000
MAX_COUNTED = 99  # "99" means "99 or more": counting reads that many messages at most
_ID = re.compile(r"[0-9a-f]{32}")


class ReadPositions:
    def __init__(self, home: Path, *, store: Callable[[], Store]) -> None:
        self._path = home / FILE_NAME
        self._store = store
        self._positions: dict[str, str] | None = None  # read on first use

    def _loaded(self) -> dict[str, str]:
        if self._positions is None:
            self._positions = self._read()
        return self._positions

    def _read(self) -> dict[str, str]:
        try:
            with self._path.open("rb") as handle:
                raw = handle.read(MAX_FILE + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read %s: %s", self._path, exc.strerror)
            return {}
        try:
            value = json.loads(raw) if len(raw) <= MAX_FILE else None
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            log.warning("%s is damaged; unread counts start again", self._path)
            return {}
        return {k: v for k, v in list(value.items())[:MAX_ENTRIES]
                if isinstance(k, str) and len(k) <= 80 and isinstance(v, str) and _ID.fullmatch(v)}

    def mark_read(self, who: str, message_id: str) -> bool:
        """`who`: the conversation's name in the API (a contact's fingerprint, a group's id).
        Whether the position moved."""
        if not _ID.fullmatch(message_id):
            raise ValueError("a message id is 32 lowercase hex digits")
        positions = self._loaded()
        if positions.get(who) == message_id:
            return False
        positions.pop(who, None)
        positions[who] = message_id  # newest last: the oldest entries go first when full
        while len(positions) > MAX_ENTRIES:
            del positions[next(iter(positions))]
        self._write(positions)
        return True

    def unread(self, who: str, conv: bytes) -> int:
        """How many messages in `conv` came after what `who` was read up to (at most 99)."""
        messages = self._store().conversations.history(conv, MAX_COUNTED + 1)
        position = self._loaded().get(who)
        ids = [m.hash.hex()[:32] for m in messages]
        if position in ids:
            start = ids.index(position) + 1
        else:
            own = [i for i, m in enumerate(messages) if m.own]
            start = own[-1] + 1 if own else 0
        return min(MAX_COUNTED, sum(1 for m in messages[start:] if not m.own))

    def _write(self, positions: dict[str, str]) -> None:
        try:
            replace_file(self._path, json.dumps(positions).encode(), durable=False)
        except OSError as exc:  # unread counts are a convenience: never fail a command on them
            log.warning("cannot save read positions: %s", exc.strerror)
