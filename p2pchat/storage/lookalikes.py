"""Requests that came under the name of one of our contacts (trial 14c, B1): the flag is a fact
about the request, kept whatever it renames itself to and across restarts, block and unblock."""

from __future__ import annotations

from p2pchat.storage.database import KEY_BYTES, Database, check_bytes

__all__ = ["LookalikesTable"]


class LookalikesTable:
    """The `lookalikes` table: per request key, the name it first claimed and whose it was."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: bytes) -> tuple[str, bytes] | None:
        """(the name claimed, the contact key it belonged to), or None if never flagged."""
        row = self._db.one("SELECT claimed, namesake FROM lookalikes WHERE key = ?", (key,))
        return None if row is None else (str(row[0]), bytes(row[1]))

    def keep(self, key: bytes, claimed: str, namesake: bytes) -> None:
        """Flag `key`; the first claim is kept (a later one changes nothing)."""
        check_bytes("key", key, KEY_BYTES)
        check_bytes("namesake", namesake, KEY_BYTES)
        # Bounded as the address book is: a request dropped or declined takes its flag along
        # (a blocked one keeps its row, so its flag too).
        self._db.write("DELETE FROM lookalikes WHERE key NOT IN (SELECT key FROM contacts)")
        self._db.write("INSERT INTO lookalikes (key, claimed, namesake) VALUES (?, ?, ?)"
                       " ON CONFLICT (key) DO NOTHING", (key, claimed, namesake))

    def forget(self, key: bytes) -> None:
        self._db.write("DELETE FROM lookalikes WHERE key = ?", (key,))
