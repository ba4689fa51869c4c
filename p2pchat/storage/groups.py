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
                     start: dict[bytes, tuple[int, bytes]], created_at: int | None = None) -> None:
        """A group we created or joined; its logs start at `start` (an invitation's heads).
        `created_at` (unix ms): when it came to be for us, if not now (an invitation's arrival:
        the screens number their lists by it, trial 14a B16)."""
        check_bytes("conv", conv, CONV_ID_BYTES)
        title = check_text("title", title, MAX_NAME, newlines=False)
        self._db.write(
            "INSERT INTO conversations (id, kind, title, created_at) VALUES (?, 'group', ?, ?)",
            (conv, title, self._db.clock() if created_at is None else created_at),
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
        """We left: its history stays readable (the keys of the epochs we were in are kept, as
        are the receipts of our messages); what was pending for the group goes."""
        self._db.write("UPDATE groups SET left = 1 WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_leaves WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_invites WHERE conv = ?", (conv,))

    def rejoin(self, conv: bytes) -> None:
        """Invited again after we left: the group is ours to read and write again."""
        self._db.write("UPDATE groups SET left = 0 WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM group_leaves WHERE conv = ?", (conv,))

    def add_op(self, conv: bytes, number: int, record: bytes) -> None:
        """Store op `number` of a group's chain."""
        self._db.write("INSERT INTO group_ops (conv, number, sealed) VALUES (?, ?, ?)",
                    (conv, number, self._db.seal(record)))

    def drop_ops_from(self, conv: bytes, number: int) -> None:
        """A fork's losing branch goes: every op from `number` on (protocol 8.13)."""
        self._db.write("DELETE FROM group_ops WHERE conv = ? AND number >= ?", (conv, number))
        self._db.write("DELETE FROM group_joins WHERE conv = ? AND number >= ?", (conv, number))

    def drop_key(self, conv: bytes, epoch: int) -> None:
        """An epoch key that belongs to a fork's losing branch (protocol 8.13)."""
        self._db.write("DELETE FROM group_keys WHERE conv = ? AND epoch = ?", (conv, epoch))

    def set_receipt(self, conv: bytes, member: bytes, seq: int) -> None:
        """`member` holds our log in `conv` up to `seq` (the highest is kept)."""
        check_bytes("member", member, KEY_BYTES)
        self._db.write(
            "INSERT INTO group_receipts (conv, member, seq) VALUES (?, ?, ?)"
            " ON CONFLICT (conv, member) DO UPDATE SET seq = max(seq, excluded.seq)",
            (conv, member, seq))

    def receipts(self, conv: bytes) -> dict[bytes, int]:
        """How far each member holds our log in `conv` (members whose vector we saw)."""
        return dict(self._db.all("SELECT member, seq FROM group_receipts WHERE conv = ?",
                                 (conv,)))

    def add_change(self, conv: bytes, number: int, at: int, change: str, member: bytes,
                   name: str, by: bytes | None = None) -> None:
        """Op `number` as a line of the conversation (a fork's winner replaces the loser's);
        `by`: who made it, where the line names them (an add's inviter)."""
        check_bytes("member", member, KEY_BYTES)
        if by is not None:
            check_bytes("by", by, KEY_BYTES)
        self._db.write("INSERT OR REPLACE INTO group_changes (conv, number, at, change, member,"
                       " name, by_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (conv, number, at, change, member, check_text("name", name, MAX_NAME,
                                                                     newlines=False), by))

    def changes(self, conv: bytes) -> list[tuple[int, int, str, bytes, str, bytes | None]]:
        """(number, at, change, member, name, by) of every membership change we saw, in order."""
        rows = self._db.all("SELECT number, at, change, member, name, by_key FROM group_changes"
                            " WHERE conv = ? ORDER BY number", (conv,))
        return [(n, at, change, member, name, by) for n, at, change, member, name, by in rows]

    def add_join(self, conv: bytes, number: int, at: int) -> None:
        """The member added by op `number` accepted: seen holding the group at `at`."""
        self._db.write("INSERT OR IGNORE INTO group_joins (conv, number, at) VALUES (?, ?, ?)",
                       (conv, number, at))

    def joins(self, conv: bytes) -> dict[int, int]:
        """When each accepted invitation (by its add op's number) was seen accepted."""
        return dict(self._db.all("SELECT number, at FROM group_joins WHERE conv = ?", (conv,)))

    def set_base(self, conv: bytes, record: bytes) -> None:
        """The checkpoint the chain starts at now (protocol 8.14): its ops before go."""
        self._db.write("INSERT OR REPLACE INTO group_base (conv, sealed) VALUES (?, ?)",
                       (conv, self._db.seal(record)))

    def base(self, conv: bytes) -> bytes | None:
        """The checkpoint record the chain starts at, or None (it starts at op 1)."""
        rows = self._db.all("SELECT sealed FROM group_base WHERE conv = ?", (conv,))
        return self._db.open_sealed(rows[0][0], "a group checkpoint") if rows else None

    def drop_ops_to(self, conv: bytes, number: int) -> None:
        """Ops 1..number are behind the checkpoint: dropped (storage bounded, 8.14)."""
        self._db.write("DELETE FROM group_ops WHERE conv = ? AND number <= ?", (conv, number))

    def ops(self, conv: bytes) -> list[bytes]:
        """The chain's record bytes held (from op 1, or after the checkpoint), in order;
        StoreError if a row does not unseal or the numbers have a gap."""
        rows = self._db.all("SELECT number, sealed FROM group_ops WHERE conv = ? ORDER BY number",
                         (conv,))
        out: list[bytes] = []
        first = rows[0][0] if rows else 1
        for number, sealed in rows:
            if number != first + len(out):
                raise StoreError("a group's op chain has a gap: damaged database")
            out.append(self._db.open_sealed(sealed, "a group op"))
        return out

    def put_key(self, conv: bytes, epoch: int, key: bytes) -> None:
        """Store an epoch's key (sealed at rest)."""
        check_bytes("key", key, KEY_BYTES)
        self._db.write("INSERT OR IGNORE INTO group_keys (conv, epoch, sealed) VALUES (?, ?, ?)",
                    (conv, epoch, self._db.seal(key)))

    def epoch_keys(self, conv: bytes) -> dict[int, bytes]:
        """Every epoch key held for the group."""
        rows = self._db.all("SELECT epoch, sealed FROM group_keys WHERE conv = ?", (conv,))
        return {epoch: self._db.open_sealed(sealed, "a group key") for epoch, sealed in rows}

    def put_leave(self, conv: bytes, member: bytes, record: bytes) -> None:
        """Keep a member's signed leave until the owner enacts it."""
        self._db.write("INSERT OR REPLACE INTO group_leaves (conv, member, record)"
                       " VALUES (?, ?, ?)",
                    (conv, member, record))

    def drop_leave(self, conv: bytes, member: bytes) -> None:
        """Forget a leave once enacted."""
        self._db.write("DELETE FROM group_leaves WHERE conv = ? AND member = ?", (conv, member))

    def leaves(self, conv: bytes) -> list[bytes]:
        """The signed leaves kept for the group."""
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
        """The invitations we sent in this group, per member (opened)."""
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

    # -- groups against a hostile member (v4) --

    def set_floor(self, conv: bytes, member: bytes, own_seq: int, lamport: int) -> None:
        """A member's vector acknowledged `lamport` with its own log at `own_seq` (highest of
        each kept, as for a contact's peer_seqs)."""
        check_bytes("member", member, KEY_BYTES)
        self._db.write(
            "INSERT INTO group_floors (conv, member, own_seq, lamport) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (conv, member) DO UPDATE SET own_seq = max(own_seq, excluded.own_seq),"
            " lamport = max(lamport, excluded.lamport)", (conv, member, own_seq, lamport))

    def floors(self, conv: bytes) -> list[tuple[bytes, int, int]]:
        """(member, own seq, lamport) of every floor stored for `conv` (none for a dm)."""
        return [(m, s, lam) for m, s, lam in self._db.all(
            "SELECT member, own_seq, lamport FROM group_floors WHERE conv = ?", (conv,))]

    def author_bytes(self, conv: bytes) -> dict[bytes, int]:
        """Bytes stored per author in `conv` (sealed sizes); one pass, at a group's first use."""
        return {a: int(n) for a, n in self._db.all(
            "SELECT author, sum(length(sealed)) FROM messages WHERE conv = ? GROUP BY author",
            (conv,))}

    def put_equivocation(self, conv: bytes, author: bytes, seq: int, first: bytes,
                         second: bytes) -> bool:
        """Keep both signed versions (record bytes) of `author`'s seq; False if already kept."""
        check_bytes("author", author, KEY_BYTES)
        sealed = self._db.seal(len(first).to_bytes(4, "big") + first + second)
        return self._db.write(
            "INSERT OR IGNORE INTO equivocations (conv, author, seq, sealed, found_at)"
            " VALUES (?, ?, ?, ?, ?)", (conv, author, seq, sealed, self._db.clock())) > 0

    def equivocations(self, conv: bytes) -> list[tuple[bytes, int, bytes, bytes, int]]:
        """(author, seq, first record, second record, found at ms) for `conv`, oldest first."""
        out = []
        for author, seq, sealed, found in self._db.all(
                "SELECT author, seq, sealed, found_at FROM equivocations WHERE conv = ?"
                " ORDER BY found_at, author, seq", (conv,)):
            both = self._db.open_sealed(sealed, "equivocation evidence")
            cut = 4 + int.from_bytes(both[:4], "big")
            out.append((author, int(seq), both[4:cut], both[cut:], int(found)))
        return out

    def put_invitation(self, conv: bytes, inviter: bytes, record: bytes) -> None:
        """Keep an invitation to us until the user accepts or declines."""
        check_bytes("conv", conv, CONV_ID_BYTES)
        check_bytes("inviter", inviter, KEY_BYTES)
        self._db.write("INSERT OR REPLACE INTO group_invitations"
                       " (conv, inviter, sealed, received_at) VALUES (?, ?, ?, ?)",
                       (conv, inviter, self._db.seal(record), self._db.clock()))

    def drop_invitation(self, conv: bytes) -> None:
        """Forget an invitation to us."""
        self._db.write("DELETE FROM group_invitations WHERE conv = ?", (conv,))

    def invitations(self) -> list[tuple[bytes, bytes, bytes, int]]:
        """(group, inviter, invitation record, received at ms) of every pending invitation."""
        return [(conv, inviter, self._db.open_sealed(sealed, "an invitation"), int(at))
                for conv, inviter, sealed, at in self._db.all(
                    "SELECT conv, inviter, sealed, received_at FROM group_invitations"
                    " ORDER BY received_at, conv")]

    def forget(self, conv: bytes) -> None:
        """A group we left, and everything we held of it, gone for good."""
        for table in ("group_floors", "equivocations", "group_invites", "group_leaves",
                      "group_keys", "group_start", "group_ops", "group_receipts", "group_changes",
                      "group_base", "group_joins"):
            self._db.write(f"DELETE FROM {table} WHERE conv = ?", (conv,))
        for table in ("messages", "log_heads", "peer_seqs"):
            self._db.write(f"DELETE FROM {table} WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM groups WHERE conv = ?", (conv,))
        self._db.write("DELETE FROM conversations WHERE id = ?", (conv,))
