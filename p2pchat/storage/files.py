"""File transfers in the store: one row per transfer and direction (table `files`, schema in
storage/schema.py). Its writes join the store's open transaction (`Database`), so they are
committed with the event-loop turn's other writes (node/outbox.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from p2pchat.storage.database import Database

STATES: Final = ("offered", "receiving", "sending", "done", "failed", "declined", "cancelled")
OPEN_STATES: Final = ("offered", "receiving", "sending")
MAX_ERROR: Final = 200
HASH_LEN: Final = 32  # bytes of one chunk hash in `hashes`

_COLS: Final = ("id, peer, outgoing, name, size, root, state, path, part, hashes, have, "
                "received, resumed_from, error, created_at, conv")


@dataclass
class Transfer:
    id: bytes
    peer: bytes
    outgoing: bool
    name: str  # sending: the name offered; receiving: the cleaned name offered
    size: int
    root: bytes
    state: str
    path: str = ""
    part: str = ""
    hashes: bytes | None = None
    have: bytes | None = None
    received: int = 0
    resumed_from: int = 0
    error: str = ""
    created_at: int = 0
    conv: bytes | None = None  # the group it was offered in; `peer` is then its author


class FileTable:
    """The `files` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        return self._db.write(sql, params)

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._db.all(sql, params)

    def add(self, t: Transfer) -> None:
        self._write(f"INSERT INTO files ({_COLS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (t.id, t.peer, int(t.outgoing), t.name, t.size, t.root, t.state, t.path,
                     t.part, t.hashes, t.have, t.received, t.resumed_from, t.error[:MAX_ERROR],
                     t.created_at, t.conv))

    def save(self, t: Transfer) -> None:
        """Write back what changes during a transfer (state, paths, progress, hashes; a hash
        list dropped from memory, `hashes` None, stays as stored)."""
        self._write("UPDATE files SET state = ?, path = ?, part = ?, "
                    "hashes = COALESCE(?, hashes), have = ?, "
                    "received = ?, resumed_from = ?, error = ? "
                    "WHERE peer = ? AND id = ? AND outgoing = ?",
                    (t.state, t.path, t.part, t.hashes, t.have, t.received, t.resumed_from,
                     t.error[:MAX_ERROR], t.peer, t.id, int(t.outgoing)))

    def save_progress(self, t: Transfer) -> None:
        self._write("UPDATE files SET have = ?, received = ? "
                    "WHERE peer = ? AND id = ? AND outgoing = ?",
                    (t.have, t.received, t.peer, t.id, int(t.outgoing)))

    def hash_piece(self, t: Transfer, first: int, count: int) -> bytes | None:
        """`count` chunk hashes from chunk `first` on, as stored (fewer past the end), or None
        when the store holds no hash list for `t`."""
        rows = self._all("SELECT substr(hashes, ?, ?) FROM files "
                         "WHERE peer = ? AND id = ? AND outgoing = ? AND hashes IS NOT NULL",
                         (first * HASH_LEN + 1, count * HASH_LEN, t.peer, t.id,
                          int(t.outgoing)))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def load_all(self) -> list[Transfer]:
        """Every transfer, oldest first (the node keeps them in memory). Hash lists are read
        only for transfers with a contact still open and for downloads under way: a group's
        file is served for as long as the group lasts, its hash list read from here
        (`hash_piece`) when asked for, not held (32 bytes a chunk)."""
        rows = self._all(
            "SELECT id, peer, outgoing, name, size, root, state, path, part, "
            "CASE WHEN state = 'receiving' OR (state IN ('offered', 'sending') "
            "AND conv IS NULL) THEN hashes END, have, "
            "received, resumed_from, error, created_at, conv FROM files "
            "ORDER BY created_at, rowid")
        return [Transfer(bytes(r[0]), bytes(r[1]), bool(r[2]), r[3], r[4], bytes(r[5]), r[6],
                         r[7], r[8], _blob(r[9]), _blob(r[10]), r[11], r[12], r[13], r[14],
                         _blob(r[15])) for r in rows]


def _blob(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
