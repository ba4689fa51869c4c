"""Groups: each group we are in or left, where its logs started, its op chain, epoch keys,
pending leaves and the invitations not yet handed over (ops, keys and invitations sealed at rest).
The group's messages are ordinary rows of storage/conversations.py."""

from __future__ import annotations

from p2pchat.storage.contacts import MAX_NAME
from p2pchat.storage.conversations import CONV_ID_BYTES
from p2pchat.storage.database import KEY_BYTES, Database, StoreError, check_bytes, check_text

__all__ = ["GroupTable"]


class GroupTable:
    """The `groups`, `group_start`, `group_ops`, `group_keys`, `group_leaves` and
    `group_invites` tables, and cutting a member's log where an op ended it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, conv: bytes, title: str, lamport: int,
                     start: dict[bytes, tuple[int, bytes]]) -> None:
        """A group we created or joined; its logs start at `start` (an invitation's heads)."""
        check_bytes("conv", conv, CONV_ID_BYTES)
        title = check_text("title", title, MAX_NAME, newlines=False)
        self._db.write(
            "INSERT INTO conversations (id, kind, title, created_at) VALUES (?, 'group', ?, ?)",
            (conv, title, self._db.clock()),
        )
        self._db.write("INSERT INTO groups (conv, lamport) VALUES (?, ?)", (conv, lamport))
        for author, (seq, hash_) in start.items():
            check_bytes("author", author, KEY_BYTES)
            check_bytes("hash", hash_, KEY_BYTES)
            self._db.write("INSERT INTO group_start (conv, author, seq, hash) VALUES (?, ?, ?, ?)",
                        (conv, author, seq, hash_))
            self._db.write("INSERT INTO log_heads (conv, author, seq, hash) VALUES (?, ?, ?, ?)",
                        (conv, author, seq, hash_))

    def list_all(self) -> list[tuple[bytes, bool]]:
        """(group id, left) of every group, oldest first."""
        rows = self._db.all(
            "SELECT g.conv, g.left FROM groups AS g JOIN conversations AS c ON c.id = g.conv"
            " ORDER BY c.created_at, g.conv")
        return [(conv, bool(left)) for conv, left in rows]

    def set_left(self, conv: bytes) -> None:
        """We left: the group's keys go, its history stays."""
        self._db.write("UPDATE groups SET left = 1 WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_keys WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_leaves WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_invites WHERE conv = ?", (conv,))

    def rejoin(self, conv: bytes) -> None:
        """Invited again after we left: the group is ours to read and write again."""
        self._db.write("UPDATE groups SET left = 0 WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_leaves WHERE conv = ?", (conv,))

    def add_op(self, conv: bytes, number: int, record: bytes) -> None:
        self._db.write("INSERT INTO group_ops (conv, number, sealed) VALUES (?, ?, ?)",
                    (conv, number, self._db.seal(record)))

    def ops(self, conv: bytes) -> list[bytes]:
        """The chain's record bytes, op 1 first; StoreError if a row does not unseal."""
        rows = self._db.all("SELECT number, sealed FROM group_ops WHERE conv = ? ORDER BY number",
                         (conv,))
        out: list[bytes] = []
        for number, sealed in rows:
            if number != len(out) + 1:
                raise StoreError("a group's op chain has a gap: damaged database")
            out.append(self._db.open_sealed(sealed, "a group op"))
        return out

    def put_key(self, conv: bytes, epoch: int, key: bytes) -> None:
        check_bytes("key", key, KEY_BYTES)
        self._db.write("INSERT OR IGNORE INTO group_keys (conv, epoch, sealed) VALUES (?, ?, ?)",
                    (conv, epoch, self._db.seal(key)))

    def epoch_keys(self, conv: bytes) -> dict[int, bytes]:
        rows = self._db.all("SELECT epoch, sealed FROM group_keys WHERE conv = ?", (conv,))
        return {epoch: self._db.open_sealed(sealed, "a group key") for epoch, sealed in rows}

    def put_leave(self, conv: bytes, member: bytes, record: bytes) -> None:
        self._db.write("INSERT OR REPLACE INTO group_leaves (conv, member, record)"
                       " VALUES (?, ?, ?)",
                    (conv, member, record))

    def drop_leave(self, conv: bytes, member: bytes) -> None:
        self._db.write("DELETE FROM group_leaves WHERE conv = ? AND member = ?", (conv, member))

    def leaves(self, conv: bytes) -> list[bytes]:
        rows = self._db.all("SELECT record FROM group_leaves WHERE conv = ?", (conv,))
        return [r[0] for r in rows]

    def set_invite(self, conv: bytes, member: bytes, record: bytes | None) -> None:
        """Keep the invitation for `member` until it is handed over (None: it was)."""
        if record is not None:
            self._db.write("INSERT OR REPLACE INTO group_invites (conv, member, sealed)"
                        " VALUES (?, ?, ?)", (conv, member, self._db.seal(record)))
        else:
            self._db.write("DELETE FROM group_invites WHERE conv = ? AND member = ?",
                           (conv, member))

    def invites(self, conv: bytes) -> dict[bytes, bytes]:
        rows = self._db.all("SELECT member, sealed FROM group_invites WHERE conv = ?", (conv,))
        return {member: self._db.open_sealed(sealed, "an invitation") for member, sealed in rows}

    def truncate_log(self, conv: bytes, author: bytes, cut: int) -> None:
        """Drop `author`'s messages above seq `cut` and move its head back to `cut` (a group op
        ended that member's log there)."""
        self._db.write("DELETE FROM messages WHERE conv = ? AND author = ? AND seq > ?",
                    (conv, author, cut))
        row = self._db.one("SELECT hash FROM messages WHERE conv = ? AND author = ? AND seq = ?",
                        (conv, author, cut))
        if row is None:
            row = self._db.one("SELECT hash FROM group_start WHERE conv = ? AND author = ?"
                            " AND seq = ?", (conv, author, cut))
        if row is None or cut == 0:
            self._db.write("DELETE FROM log_heads WHERE conv = ? AND author = ?", (conv, author))
        else:
            self._db.write("UPDATE log_heads SET seq = ?, hash = ? WHERE conv = ? AND author = ?",
                        (cut, row[0], conv, author))
