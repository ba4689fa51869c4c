"""The names contacts announce for themselves in their Hello, kept across restarts so a request
from a new key under a verified contact's own name is flagged while that contact is offline."""

from __future__ import annotations

from p2pchat.storage.database import KEY_BYTES, Database, check_bytes

__all__ = ["AnnouncedTable"]


class AnnouncedTable:
    """The `announced_names` table: one casefolded name per contact key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> dict[bytes, str]:
        """Every kept name, by key."""
        return {k: fold for k, fold in self._db.all("SELECT key, fold FROM announced_names")}

    def get(self, key: bytes) -> str | None:
        """The name `key` announced, casefolded; None if none was heard."""
        row = self._db.one("SELECT fold FROM announced_names WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def keep(self, key: bytes, fold: str) -> None:
        """The name `key` announced, casefolded (replacing the one it had)."""
        check_bytes("key", key, KEY_BYTES)
        self._db.write("INSERT INTO announced_names (key, fold) VALUES (?, ?)"
                       " ON CONFLICT (key) DO UPDATE SET fold = excluded.fold", (key, fold))

    def forget(self, key: bytes) -> None:
        self._db.write("DELETE FROM announced_names WHERE key = ?", (key,))
