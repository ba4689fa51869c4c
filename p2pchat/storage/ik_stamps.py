"""IK timestamps: the last accepted IK timestamp of each peer (replay protection), and the
leased floor of those we send (our own key's row)."""

from __future__ import annotations

from p2pchat.storage.database import KEY_BYTES, Database, check_bytes

__all__ = ["IkStampTable"]


class IkStampTable:
    """The `ik_timestamps` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def latest(self) -> dict[bytes, int]:
        """The newest IK timestamp kept per key."""
        return {k: ts for k, ts in self._db.all("SELECT key, ts FROM ik_timestamps")}

    def prune(self, own_key: bytes) -> int:
        """Forget the IK timestamps of keys that are not contacts (`own_key`'s row, the floor
        of those we send, stays); returns how many."""
        return self._db.write(
            "DELETE FROM ik_timestamps WHERE key != ? AND key NOT IN"
            " (SELECT key FROM contacts WHERE state = 'contact')", (own_key,))

    def record(self, key: bytes, ts: int) -> None:
        """Record the last accepted IK timestamp of a peer; never moves backwards."""
        check_bytes("key", key, KEY_BYTES)
        self._db.write(
            "INSERT INTO ik_timestamps (key, ts) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET ts = max(ts, excluded.ts)",
            (key, ts),
        )
