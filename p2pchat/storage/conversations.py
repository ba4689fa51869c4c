"""Conversations and their messages: the dm and group conversations, every stored envelope
(sealed at rest), each author's head, and what each peer is known to hold (delivery).

Only the metadata that queries need (conversation, author, seq, lamport, times, hash, flags) is
plaintext; each envelope is stored as its full encoded record sealed with the home's key. No
statement run per message reads more rows as the history grows (tests/unit/test_store_growth.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import nacl.exceptions

from p2pchat.core.errors import ProtocolError
from p2pchat.core.messages import (
    MAX_SENT_AT,
    ZERO_HASH,
    Envelope,
    decode_record,
    encode_record,
    envelope_hash,
)
from p2pchat.storage.database import KEY_BYTES, Database, StoreError, check_bytes

__all__ = ["CONV_ID_BYTES", "Conversation", "ConversationKind", "ConversationTable",
           "DeliveryStatus", "StoredMessage"]

ConversationKind = Literal["dm", "group"]
DeliveryStatus = Literal["queued", "sent", "delivered"]
CONV_ID_BYTES: Final = 16

log = logging.getLogger("p2pchat.store")


@dataclass(frozen=True, slots=True)
class Conversation:
    id: bytes
    kind: ConversationKind
    peer: bytes | None  # the other party of a dm; None for a group
    title: str | None
    created_at: int  # unix ms


@dataclass(frozen=True, slots=True)
class StoredMessage:
    envelope: Envelope
    hash: bytes
    received_at: int  # unix ms, our clock
    own: bool
    sent: bool
    # For own messages: 'delivered' once the dm peer's vector covers the seq, else 'sent' once
    # written to a link, else 'queued'. None for messages written by someone else.
    status: DeliveryStatus | None
    # False when the row could not be unsealed or decoded (damaged, or stored by a version with
    # looser bounds): `envelope` is then a stand-in with the row's place (conv, author, seq), an
    # empty body, `received_at` as sent_at and a made-up lamport and prev, so a view can show
    # "unreadable" in its place. Never send it anywhere; `hash` is the row's real id.
    readable: bool = True


def _stand_in(conv: bytes, author: bytes, seq: int, received_at: int) -> Envelope:
    """What `history` returns in place of an unreadable row (see StoredMessage.readable)."""
    return Envelope(conv=conv, author=author, seq=seq, lamport=1,
                    sent_at=min(max(received_at, 0), MAX_SENT_AT), prev=ZERO_HASH, body=b"")


class ConversationTable:
    """The `conversations`, `messages`, `log_heads` and `peer_seqs` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    _CONV_COLS: Final = "id, kind, peer, title, created_at"

    def ensure_dm(self, conv: bytes, peer: bytes) -> Conversation:
        """Return the dm `conv` with `peer`, creating it if new. One dm per peer."""
        check_bytes("conv", conv, CONV_ID_BYTES)
        check_bytes("peer", peer, KEY_BYTES)
        existing = self.get(conv)
        if existing is None:
            other = self.for_peer(peer)
            if other is not None:
                raise StoreError("a different dm with this peer already exists")
            self._db.write(
                "INSERT INTO conversations (id, kind, peer, created_at) VALUES (?, 'dm', ?, ?)",
                (conv, peer, self._db.clock()),
            )
            existing = self.get(conv)
            assert existing is not None
        elif existing.kind != "dm" or existing.peer != peer:
            raise StoreError("conversation id already used by a different conversation")
        return existing

    def get(self, conv: bytes) -> Conversation | None:
        """The conversation `conv`, if stored."""
        row = self._db.one(f"SELECT {self._CONV_COLS} FROM conversations WHERE id = ?", (conv,))
        return None if row is None else Conversation(*row)

    def for_peer(self, peer: bytes) -> Conversation | None:
        """The 1:1 conversation with `peer`, if stored."""
        row = self._db.one(f"SELECT {self._CONV_COLS} FROM conversations WHERE peer = ?", (peer,))
        return None if row is None else Conversation(*row)

    def set_title(self, conv: bytes, title: str | None) -> None:
        """A dm's title: the name a removed contact had, so `log @NAME` still finds it."""
        self._db.write("UPDATE conversations SET title = ? WHERE id = ?", (title, conv))

    def came_by(self, conv: bytes, when: int) -> None:
        """`conv` came to be no later than `when` (unix ms): a removed contact's kept dm keeps
        when the contact came (its request before the accept), so a re-add keeps its place."""
        self._db.write("UPDATE conversations SET created_at = MIN(created_at, ?) WHERE id = ?",
                       (when, conv))

    def list_all(self) -> list[Conversation]:
        """Every stored conversation."""
        rows = self._db.all(f"SELECT {self._CONV_COLS} FROM conversations ORDER BY created_at, id")
        return [Conversation(*r) for r in rows]

    # -- messages --

    def _seal(self, env: Envelope) -> bytes:
        return self._db.seal(encode_record(env))

    def _unseal(
        self, sealed: bytes, conv: bytes, author: bytes, seq: int, hash_: bytes
    ) -> Envelope:
        try:
            record = decode_record(self._db.box.decrypt(sealed))
        except nacl.exceptions.CryptoError as exc:
            raise StoreError(
                "a stored message does not decrypt: wrong body key or damaged database"
            ) from exc
        except ProtocolError as exc:  # decrypted but not a valid record: damaged or foreign
            raise StoreError(f"a stored message does not decode: {exc}") from exc
        # SecretBox does not bind a ciphertext to its row, so check it: someone with write
        # access to the file could otherwise swap sealed blobs between rows or conversations.
        if (
            not isinstance(record, Envelope)
            or (record.conv, record.author, record.seq) != (conv, author, seq)
            or envelope_hash(record) != hash_
        ):
            raise StoreError("a stored message does not match its row: damaged database")
        return record

    def _try_unseal(
        self, sealed: bytes, conv: bytes, author: bytes, seq: int, hash_: bytes
    ) -> Envelope | None:
        """The row's envelope, or None when it cannot be read (one bad row breaks no view)."""
        try:
            return self._unseal(sealed, conv, author, seq, hash_)
        except StoreError as exc:
            log.warning("message %s seq %d in %s is unreadable: %s",
                        author.hex()[:8], seq, conv.hex()[:8], exc)
            return None

    def _readable_prefix(self, rows: Iterable[Sequence[Any]]) -> list[Envelope]:
        """Envelopes of rows in seq order, up to the first unreadable one.

        For sync: what follows a gap could not be accepted by the peer anyway (hash chain), and
        a stand-in must never leave the node as if it were the author's envelope.
        """
        out: list[Envelope] = []
        for sealed, conv, author, seq, hash_ in rows:
            env = self._try_unseal(sealed, conv, author, seq, hash_)
            if env is None:
                break
            out.append(env)
        return out

    def insert_envelope(self, env: Envelope, received_at: int, own: bool,
                        sent: bool = False) -> bool:
        """Store an envelope unless (conv, author, seq) is already there. True if it was new.
        `sent`: an own message already handed to a link (saves a `mark_sent` right after).

        The caller has verified the signature and inserts each author's seqs contiguously.
        A second, different envelope for a taken (conv, author, seq) is ignored too: the first
        one wins, so sync never shows a message twice or replaces one already shown.
        """
        # Envelope validated its own fields at construction.
        hash_ = envelope_hash(env)
        changed = self._db.write(
            "INSERT OR IGNORE INTO messages"
            " (conv, author, seq, lamport, sent_at, hash, received_at, own, sent, sealed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                env.conv,
                env.author,
                env.seq,
                env.lamport,
                env.sent_at,
                hash_,
                received_at,
                int(own),
                int(own and sent),
                self._seal(env),
            ),
        )
        if changed != 1:
            return False
        # Same transaction as the message, so the head never disagrees with the log.
        self._db.write(
            "INSERT INTO log_heads (conv, author, seq, hash) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (conv, author) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
            " WHERE excluded.seq > log_heads.seq",
            (env.conv, env.author, env.seq, hash_),
        )
        return True

    def heads(self, conv: bytes) -> dict[bytes, tuple[int, bytes]]:
        """author -> (highest seq, its hash); the version vector plus the prev for a new seq."""
        rows = self._db.all("SELECT author, seq, hash FROM log_heads WHERE conv = ?", (conv,))
        return {author: (seq, hash_) for author, seq, hash_ in rows}

    def max_lamport(self, conv: bytes) -> int:
        # The last entry of the display-order index: one step, not a pass over the history.
        """The highest Lamport time in `conv` (one index step)."""
        row = self._db.one(
            "SELECT lamport FROM messages WHERE conv = ? ORDER BY lamport DESC LIMIT 1", (conv,)
        )
        start = self._db.one("SELECT lamport FROM groups WHERE conv = ?", (conv,))
        return max(0 if row is None else int(row[0]), 0 if start is None else int(start[0]))

    def lamport_of(self, conv: bytes, author: bytes, seq: int) -> int | None:
        """The lamport of one stored envelope (a primary-key lookup; nothing is unsealed)."""
        row = self._db.one(
            "SELECT lamport FROM messages WHERE conv = ? AND author = ? AND seq = ?",
            (conv, author, seq),
        )
        return None if row is None else int(row[0])

    def envelopes(
        self, conv: bytes, author: bytes, first: int, last: int, limit: int | None = None,
        max_bytes: int | None = None,
    ) -> list[Envelope]:
        """The author's envelopes with first <= seq <= last, in seq order (at most `limit`),
        up to the first row that cannot be read (see `_readable_prefix`). With `max_bytes`,
        rows are read only until their sealed sizes add up to it (always at least one), so a
        large batch of large messages is never all in memory at once."""
        def rows() -> list[Any]:
            cursor = self._db.conn.execute(
                "SELECT sealed, conv, author, seq, hash FROM messages"
                " WHERE conv = ? AND author = ? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
                (conv, author, first, last, -1 if limit is None else limit),
            )
            if max_bytes is None:
                return cursor.fetchall()
            out, size = [], 0
            for row in cursor:  # bounded by LIMIT and by max_bytes
                out.append(row)
                size += len(row[0])
                if size >= max_bytes:
                    break
            cursor.close()
            return out

        return self._readable_prefix(self._db.run(rows))

    def hashes(self, conv: bytes, author: bytes, first: int, last: int) -> list[bytes]:
        """The hashes (message ids) of the author's messages first <= seq <= last, in seq
        order, read from the index columns: nothing is unsealed."""
        rows = self._db.all(
            "SELECT hash FROM messages WHERE conv = ? AND author = ? AND seq BETWEEN ? AND ?"
            " ORDER BY seq",
            (conv, author, first, last),
        )
        return [row[0] for row in rows]

    def history(self, conv: bytes, limit: int | None = None) -> list[StoredMessage]:
        """Messages in display order (lamport, author, seq); with `limit`, the newest ones."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        # Take the newest `limit` by walking the display order backwards, then flip them back.
        rows = self._db.all(
            "SELECT m.sealed, m.conv, m.author, m.seq, m.hash, m.received_at, m.own, m.sent,"
            "       coalesce(p.seq >= m.seq, 0)"
            " FROM messages AS m"
            " JOIN conversations AS c ON c.id = m.conv"
            " LEFT JOIN peer_seqs AS p"
            "   ON p.conv = m.conv AND p.peer = c.peer AND p.author = m.author"
            " WHERE m.conv = ?"
            " ORDER BY m.lamport DESC, m.author DESC, m.seq DESC LIMIT ?",
            (conv, -1 if limit is None else limit),
        )
        out: list[StoredMessage] = []
        for sealed, c, author, seq, hash_, received_at, own, sent, delivered in reversed(rows):
            status: DeliveryStatus | None = None
            if own:
                status = "delivered" if delivered else "sent" if sent else "queued"
            env = self._try_unseal(sealed, c, author, seq, hash_)
            readable = env is not None
            if env is None:
                env = _stand_in(c, author, seq, received_at)
            out.append(
                StoredMessage(env, hash_, received_at, bool(own), bool(sent), status, readable)
            )
        return out

    # -- delivery --

    def mark_sent(self, conv: bytes, author: bytes, upto_seq: int) -> None:
        """Own messages of `author` up to `upto_seq` have been written to a link."""
        # INDEXED BY: the statement fails to prepare rather than fall back to walking every
        # earlier message of the author (the primary key's seq <= ? range) if the partial index
        # ever stops matching this WHERE clause.
        self._db.write(
            "UPDATE messages INDEXED BY messages_unsent SET sent = 1"
            " WHERE conv = ? AND author = ? AND seq <= ? AND own = 1 AND sent = 0",
            (conv, author, upto_seq),
        )

    def set_peer_seq(self, conv: bytes, peer: bytes, author: bytes, seq: int) -> None:
        """`peer` holds `author`'s log in `conv` up to `seq`. Never lowers a stored value: an
        old vector arriving late must not make delivered messages look undelivered."""
        check_bytes("peer", peer, KEY_BYTES)
        check_bytes("author", author, KEY_BYTES)
        self._db.write(
            "INSERT INTO peer_seqs (conv, peer, author, seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (conv, peer, author) DO UPDATE SET seq = max(seq, excluded.seq)",
            (conv, peer, author, seq),
        )

    def peer_vector(self, conv: bytes, peer: bytes) -> dict[bytes, int]:
        """What `peer` last acknowledged of each author in `conv`."""
        rows = self._db.all(
            "SELECT author, seq FROM peer_seqs WHERE conv = ? AND peer = ?", (conv, peer)
        )
        return {author: seq for author, seq in rows}

    def undelivered(
        self, conv: bytes, author: bytes, peer: bytes, limit: int | None = None
    ) -> list[Envelope]:
        """The outbox towards `peer`: `author`'s envelopes beyond what `peer` acknowledged,
        up to the first row that cannot be read."""
        row = self._db.one(
            "SELECT seq FROM peer_seqs WHERE conv = ? AND peer = ? AND author = ?",
            (conv, peer, author),
        )
        acked = 0 if row is None else int(row[0])  # seqs start at 1, so 0 means none
        rows = self._db.all(
            "SELECT sealed, conv, author, seq, hash FROM messages"
            " WHERE conv = ? AND author = ? AND seq > ? ORDER BY seq LIMIT ?",
            (conv, author, acked, -1 if limit is None else limit),
        )
        return self._readable_prefix(rows)
