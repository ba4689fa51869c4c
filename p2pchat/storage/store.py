"""The node's SQLite store: contacts, conversations, messages and sync state, one file per home.

Durability model: every write joins one open transaction (begun on the first write) and becomes
durable only at `commit()`. The node batches the writes of one event-loop turn and commits once;
it reports a message "queued" to the user only after that commit. `close()` without `commit()`
discards the pending writes, exactly as a crash would.

Confidentiality: each message is stored as its full encoded record sealed with SecretBox under a
key the node derives from the identity secret. Only the metadata that queries need (conversation,
author, seq, lamport, times, hash, flags) is plaintext; contact names, notes and addresses are
plaintext too, as they are local address-book data rather than message content.

The schema (storage/schema.py) is versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes a
database from version i to i+1 inside one transaction. A file that is not ours, or is newer than
this code, is refused with `StoreError` before anything writes to it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

import nacl.exceptions
import nacl.secret

from p2pchat.clock import wall_ns
from p2pchat.core.errors import ProtocolError
from p2pchat.core.messages import (
    MAX_NAME_CHARS,
    MAX_SENT_AT,
    ZERO_HASH,
    Envelope,
    decode_record,
    encode_record,
    envelope_hash,
)
from p2pchat.core.text import text_problem, valid_name
from p2pchat.storage.schema import APPLICATION_ID as _APPLICATION_ID
from p2pchat.storage.schema import MIGRATIONS

__all__ = [
    "MAX_ADDRS",
    "MAX_NAME",
    "MAX_NOTE",
    "SCHEMA_VERSION",
    "Contact",
    "ContactState",
    "Conversation",
    "DeliveryStatus",
    "NameTaken",
    "Store",
    "StoreError",
    "StoredMessage",
]

ContactState = Literal["contact", "request", "blocked"]
ConversationKind = Literal["dm", "group"]
DeliveryStatus = Literal["queued", "sent", "delivered"]

_CONTACT_STATES: Final = frozenset(get_args(ContactState))

log = logging.getLogger("p2pchat.store")

MAX_NAME: Final = MAX_NAME_CHARS  # what a peer may announce must fit
MAX_NOTE: Final = 1000  # characters; a local note may outgrow a request's 280
MAX_ADDRS: Final = 16  # per contact; discovery refreshes them, so a few recent ones suffice
MAX_ADDR: Final = 262  # "[" + 253-char host + "]:" + 5-digit port, rounded up
_KEY: Final = 32  # Ed25519 public key / message hash
_CONV_ID: Final = 16

# "P2CH" in the header's application_id field: marks the file as ours so that some other
# program's SQLite database handed to --home is refused instead of having tables added to it.
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS: Final = 5000


class StoreError(Exception):
    """The store cannot do what was asked: bad or foreign file, unknown row, undecryptable data."""


class NameTaken(StoreError):
    """Another contact already has this name (names are unique, compared case-insensitively)."""


@dataclass(frozen=True, slots=True)
class Contact:
    key: bytes
    name: str
    state: ContactState
    note: str
    addrs: tuple[str, ...]
    created_at: int  # unix ms
    last_seen: int | None  # unix ms; None until we have had a link with them


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


# The schema and its migrations are in storage/schema.py; tests may swap these two names here.
_MIGRATIONS: Final = MIGRATIONS
SCHEMA_VERSION: Final = len(_MIGRATIONS)


def _now_ms() -> int:
    return wall_ns() // 1_000_000


# --- input bounds ------------------------------------------------------------------------------


def _check_bytes(what: str, value: bytes, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return value


def _check_text(what: str, value: str, max_chars: int, *, newlines: bool) -> str:
    # The wire codec's rule, so any name a peer may send can be stored (see core/text.py).
    problem = text_problem(value, max_chars, newlines=newlines)
    if problem is not None:
        raise ValueError(f"{what}: {problem}")
    return value


def _clean_name(name: str) -> tuple[str, str]:
    """Return (display name, fold used for uniqueness and lookup); BadName if the rule refuses."""
    name = valid_name(name)  # the one name rule, shared with the wire and the identity file
    # NFKC before casefolding so that, e.g., fullwidth "ａｌｉｃｅ" and "Alice" are one name
    return name, unicodedata.normalize("NFKC", name).casefold()


def _clean_note(note: str) -> str:
    return _check_text("note", note, MAX_NOTE, newlines=True)


def _clean_addrs(addrs: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for addr in addrs:
        if not isinstance(addr, str) or not addr or len(addr) > MAX_ADDR:
            raise ValueError(f"bad address {addr!r}: expected host:port")
        host, sep, port = addr.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad address {addr!r}: expected host:port")
        if addr not in out:
            out.append(addr)
    if len(out) > MAX_ADDRS:
        raise ValueError(f"at most {MAX_ADDRS} addresses per contact")
    return tuple(out)


def _check_state(state: str) -> ContactState:
    if state not in _CONTACT_STATES:
        raise ValueError(f"contact state must be one of {sorted(_CONTACT_STATES)}, not {state!r}")
    return state  # type: ignore[return-value]


# --- opening -----------------------------------------------------------------------------------


def _create_private(path: Path) -> None:
    """Create an empty DB file with mode 0600 unless one exists.

    SQLite gives the -wal and -shm files the same mode as the database file (and fchmods them
    to it regardless of umask), so a 0600 main file keeps all three private without touching the
    process-wide umask, which other threads (zeroconf) may be relying on.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from exc
    os.close(fd)


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before the SQLite library gets to touch it."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read database {path}: {exc.strerror}") from exc
    # An empty file is what _create_private leaves behind; SQLite treats it as a new database.
    if head and head != _SQLITE_MAGIC:
        raise StoreError(f"{path} is not a p2pchat database (not an SQLite file); left untouched")


def _tighten_modes(path: Path) -> None:
    # A file created by an older build or copied in may be group/world readable.
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(os.stat(p).st_mode)
            if mode & 0o077:
                os.chmod(p, mode & 0o700)
        except FileNotFoundError:
            pass


def _stand_in(conv: bytes, author: bytes, seq: int, received_at: int) -> Envelope:
    """What `history` returns in place of an unreadable row (see StoredMessage.readable)."""
    return Envelope(conv=conv, author=author, seq=seq, lamport=1,
                    sent_at=min(max(received_at, 0), MAX_SENT_AT), prev=ZERO_HASH, body=b"")


class Store:
    """One home's database. Not thread-safe: the node uses it from its event-loop thread."""

    # Every contact, read once and kept until one changes (see _contact_index).
    _contacts: dict[bytes, Contact] | None
    _contact_keys_by_fold: dict[str, bytes]
    _contact_keys_by_name: dict[str, bytes]

    def __init__(
        self,
        path: str | Path,
        body_key: bytes,
        *,
        clock: Callable[[], int] | None = None,
    ) -> None:
        _check_bytes("body_key", body_key, nacl.secret.SecretBox.KEY_SIZE)
        self.path = Path(path)
        self._box = nacl.secret.SecretBox(body_key)
        # created_at for contacts and conversations; injectable so tests are deterministic
        self._clock = clock if clock is not None else _now_ms
        self._forget_contacts()
        _create_private(self.path)
        _check_header(self.path)
        try:
            # isolation_level=None: the sqlite3 module issues no implicit BEGIN/COMMIT; this
            # class decides where transactions begin and end.
            self._conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        try:
            self._check_ours()
            self._configure()
            self._migrate()
        except BaseException:
            self._conn.close()
            raise
        _tighten_modes(self.path)

    @classmethod
    def open_readonly(cls, path: str | Path, body_key: bytes) -> Store:
        """The store opened for reading only, beside a running node or none: SQLite's WAL lets
        a reader in while the node writes. Nothing is created, migrated or changed. Contacts
        are read once (see _contact_index) and a node's later changes are not seen: open one
        for each command."""
        _check_bytes("body_key", body_key, nacl.secret.SecretBox.KEY_SIZE)
        store = cls.__new__(cls)
        store.path = Path(path)
        store._box = nacl.secret.SecretBox(body_key)
        store._clock = _now_ms
        store._forget_contacts()
        if not store.path.exists():
            raise StoreError(f"no message store at {store.path} yet")
        _check_header(store.path)
        try:
            store._conn = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True,
                                          timeout=_BUSY_TIMEOUT_MS / 1000,
                                          isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {store.path}: {exc}") from exc
        try:
            store._check_ours()
            version = store._conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise StoreError(f"{store.path} needs an upgrade that only a running node"
                                 " makes: start the node once")
            store._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        except BaseException:
            store._conn.close()
            raise
        return store

    # -- opening steps --

    def _check_ours(self) -> None:
        # Read-only queries: a refused file must not be modified (no WAL switch, no migration).
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            n_objects = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a usable database ({exc}); left untouched"
            ) from exc
        if app_id != _APPLICATION_ID and (app_id != 0 or version != 0 or n_objects != 0):
            raise StoreError(
                f"{self.path} is an SQLite database of some other program; left untouched"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, but this p2pchat knows only up to "
                f"{SCHEMA_VERSION}; upgrade p2pchat to use this home. The file was left untouched."
            )

    def _configure(self) -> None:
        try:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
            # FULL: in WAL mode the WAL is fsynced at every commit, so a commit survives power
            # loss, not only a process crash (NORMAL may lose the last commits on power loss).
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._busy_ms = _BUSY_TIMEOUT_MS
            # Overwrite deleted content (a removed contact's name and note) instead of leaving
            # it in free pages.
            self._conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot configure database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        try:
            # IMMEDIATE takes the write lock first, so two processes opening the same new home
            # cannot both run the migrations; the version is re-read under the lock.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:  # another process upgraded it meanwhile
                    raise StoreError(
                        f"{self.path} has schema version {version}, newer than this p2pchat "
                        f"({SCHEMA_VERSION})"
                    )
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    _MIGRATIONS[target - 1](self._conn)
                    # user_version lives in the header page and is part of the transaction
                    self._conn.execute(f"PRAGMA user_version = {target}")
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot migrate database {self.path}: {exc}") from exc

    # -- transactions --

    def commit(self) -> bool:
        """Make every write since the last commit durable; True if there was any to commit."""
        if not self._conn.in_transaction:
            return False
        self._run(lambda: self._conn.execute("COMMIT"))
        return True

    def set_busy_timeout(self, ms: int | None) -> None:
        """How long a write waits for another program's lock (None: the default, 5 s)."""
        self._busy_ms = _BUSY_TIMEOUT_MS if ms is None else max(0, int(ms))
        self._run(lambda: self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}"))

    def probe(self) -> None:
        """Commit one tiny real write (the header's own schema version, unchanged), or raise
        StoreError: after a failed commit, this says when the disk takes writes again."""
        if self._conn.in_transaction:
            raise StoreError("probe with writes pending")

        def go() -> None:
            # Never wait for a lock here: the node asks again soon, and must not stall meanwhile.
            self._conn.execute("PRAGMA busy_timeout = 0")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                self._conn.execute(f"PRAGMA user_version = {int(version)}")
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

        self._run(go)

    def rollback(self) -> None:
        """Discard every write since the last commit."""
        self._forget_contacts()  # they may hold what is being undone
        if self._conn.in_transaction:
            self._run(lambda: self._conn.execute("ROLLBACK"))

    def close(self) -> None:
        """Close the database. Uncommitted writes are discarded, as after a crash."""
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Commit on success, roll back on an exception. Includes writes already pending."""
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQL helpers: every statement goes through these, parameterised, with errors wrapped --

    def _run(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"constraint violated: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a write inside the pending transaction (begun here if none); rows changed."""

        def go() -> int:
            if not self._conn.in_transaction:
                # IMMEDIATE: take the write lock now rather than fail to upgrade a read lock
                # later with SQLITE_BUSY that busy_timeout cannot resolve.
                self._conn.execute("BEGIN IMMEDIATE")
            return self._conn.execute(sql, params).rowcount

        result: int = self._run(go)
        return result

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = self._run(lambda: self._conn.execute(sql, params).fetchall())
        return rows

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._run(lambda: self._conn.execute(sql, params).fetchone())

    # -- contacts --

    _CONTACT_COLS: Final = "key, name, state, note, addrs, created_at, last_seen"

    @staticmethod
    def _contact(row: Any) -> Contact:
        key, name, state, note, addrs, created_at, last_seen = row
        return Contact(key, name, state, note, tuple(json.loads(addrs)), created_at, last_seen)

    def _contact_index(self) -> dict[bytes, Contact]:
        """Every contact by key, read in one query and kept until a contact is written or a
        transaction rolled back: every received record is checked against its sender's state
        and every message shows its author's name, so a query each would be most of their cost.
        Only this class writes the table, and only through `_contact_written`."""
        if self._contacts is None:
            rows = self._all(f"SELECT {self._CONTACT_COLS}, name_fold FROM contacts")
            self._contacts = {row[0]: self._contact(row[:-1]) for row in rows}
            self._contact_keys_by_fold = {row[-1]: row[0] for row in rows}
            self._contact_keys_by_name = {row[1]: row[0] for row in rows}
        return self._contacts

    def _forget_contacts(self) -> None:
        self._contacts = None
        self._contact_keys_by_fold = {}
        self._contact_keys_by_name = {}

    def _contact_written(self, sql: str, params: Sequence[Any]) -> int:
        self._forget_contacts()
        return self._write(sql, params)

    def add_contact(
        self,
        key: bytes,
        name: str,
        state: ContactState,
        addrs: Iterable[str] = (),
        note: str = "",
    ) -> Contact:
        _check_bytes("key", key, _KEY)
        name, fold = _clean_name(name)
        state = _check_state(state)
        clean_addrs = _clean_addrs(addrs)
        note = _clean_note(note)
        if self.get_contact(key) is not None:
            raise StoreError("this key is already in contacts")
        self._check_name_free(fold, key)
        self._contact_written(
            "INSERT INTO contacts (key, name, name_fold, state, note, addrs, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, name, fold, state, note, json.dumps(list(clean_addrs)), self._clock()),
        )
        contact = self.get_contact(key)
        assert contact is not None
        return contact

    def _check_name_free(self, fold: str, key: bytes) -> None:
        self._contact_index()
        holder = self._contact_keys_by_fold.get(fold)
        if holder is not None and holder != key:
            raise NameTaken(f"another contact is already called {fold!r}")

    def get_contact(self, key: bytes) -> Contact | None:
        return self._contact_index().get(key)

    def contact_state(self, key: bytes) -> ContactState | None:
        """A contact's state alone (what every incoming record is checked against)."""
        contact = self._contact_index().get(key)
        return None if contact is None else _check_state(contact.state)

    def contact_by_name(self, name: str) -> Contact | None:
        contacts = self._contact_index()
        key = self._contact_keys_by_name.get(name)  # typed as stored: nothing to clean
        if key is None:
            try:
                _, fold = _clean_name(name)
            except ValueError:
                return None  # no stored name can match an invalid one
            key = self._contact_keys_by_fold.get(fold)
        return None if key is None else contacts[key]

    def list_contacts(self, states: Iterable[ContactState] | None = None) -> list[Contact]:
        rows = self._all(f"SELECT {self._CONTACT_COLS} FROM contacts ORDER BY name_fold")
        contacts = [self._contact(r) for r in rows]
        if states is None:
            return contacts
        wanted = {_check_state(s) for s in states}
        return [c for c in contacts if c.state in wanted]

    def count_contacts(self, state: ContactState) -> int:
        row = self._one("SELECT count(*) FROM contacts WHERE state = ?", (_check_state(state),))
        return int(row[0])

    def _update_contact(self, key: bytes, sql_set: str, params: Sequence[Any]) -> None:
        if self._contact_written(f"UPDATE contacts SET {sql_set} WHERE key = ?",
                                 (*params, key)) == 0:
            raise StoreError("no such contact")

    def set_contact_state(self, key: bytes, state: ContactState) -> None:
        self._update_contact(key, "state = ?", (_check_state(state),))

    def set_contact_name(self, key: bytes, name: str) -> None:
        name, fold = _clean_name(name)
        self._check_name_free(fold, key)
        self._update_contact(key, "name = ?, name_fold = ?", (name, fold))

    def set_contact_note(self, key: bytes, note: str) -> None:
        self._update_contact(key, "note = ?", (_clean_note(note),))

    def set_contact_addrs(self, key: bytes, addrs: Iterable[str]) -> None:
        self._update_contact(key, "addrs = ?", (json.dumps(list(_clean_addrs(addrs))),))

    def set_contact_last_seen(self, key: bytes, when: int) -> None:
        self._update_contact(key, "last_seen = ?", (when,))

    def remove_contact(self, key: bytes) -> bool:
        """Forget a contact. Its conversation and messages stay; returns False if unknown."""
        return self._contact_written("DELETE FROM contacts WHERE key = ?", (key,)) > 0

    # -- IK replay protection --

    def get_ik_timestamps(self) -> dict[bytes, int]:
        return {k: ts for k, ts in self._all("SELECT key, ts FROM ik_timestamps")}

    def prune_ik_timestamps(self, own_key: bytes) -> int:
        """Forget the IK timestamps of keys that are not contacts (`own_key`'s row, the floor
        of those we send, stays); returns how many."""
        return self._write(
            "DELETE FROM ik_timestamps WHERE key != ? AND key NOT IN"
            " (SELECT key FROM contacts WHERE state = 'contact')", (own_key,))

    def set_ik_timestamp(self, key: bytes, ts: int) -> None:
        """Record the last accepted IK timestamp of a peer; never moves backwards."""
        _check_bytes("key", key, _KEY)
        self._write(
            "INSERT INTO ik_timestamps (key, ts) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET ts = max(ts, excluded.ts)",
            (key, ts),
        )

    # -- conversations --

    _CONV_COLS: Final = "id, kind, peer, title, created_at"

    def ensure_dm(self, conv: bytes, peer: bytes) -> Conversation:
        """Return the dm `conv` with `peer`, creating it if new. One dm per peer."""
        _check_bytes("conv", conv, _CONV_ID)
        _check_bytes("peer", peer, _KEY)
        existing = self.get_conversation(conv)
        if existing is None:
            other = self.conversation_for_peer(peer)
            if other is not None:
                raise StoreError("a different dm with this peer already exists")
            self._write(
                "INSERT INTO conversations (id, kind, peer, created_at) VALUES (?, 'dm', ?, ?)",
                (conv, peer, self._clock()),
            )
            existing = self.get_conversation(conv)
            assert existing is not None
        elif existing.kind != "dm" or existing.peer != peer:
            raise StoreError("conversation id already used by a different conversation")
        return existing

    def get_conversation(self, conv: bytes) -> Conversation | None:
        row = self._one(f"SELECT {self._CONV_COLS} FROM conversations WHERE id = ?", (conv,))
        return None if row is None else Conversation(*row)

    def conversation_for_peer(self, peer: bytes) -> Conversation | None:
        row = self._one(f"SELECT {self._CONV_COLS} FROM conversations WHERE peer = ?", (peer,))
        return None if row is None else Conversation(*row)

    def list_conversations(self) -> list[Conversation]:
        rows = self._all(f"SELECT {self._CONV_COLS} FROM conversations ORDER BY created_at, id")
        return [Conversation(*r) for r in rows]

    # -- messages --

    def _seal(self, env: Envelope) -> bytes:
        return bytes(self._box.encrypt(encode_record(env)))

    def _unseal(
        self, sealed: bytes, conv: bytes, author: bytes, seq: int, hash_: bytes
    ) -> Envelope:
        try:
            record = decode_record(self._box.decrypt(sealed))
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
        changed = self._write(
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
        self._write(
            "INSERT INTO log_heads (conv, author, seq, hash) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (conv, author) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
            " WHERE excluded.seq > log_heads.seq",
            (env.conv, env.author, env.seq, hash_),
        )
        return True

    def heads(self, conv: bytes) -> dict[bytes, tuple[int, bytes]]:
        """author -> (highest seq, its hash); the version vector plus the prev for a new seq."""
        rows = self._all("SELECT author, seq, hash FROM log_heads WHERE conv = ?", (conv,))
        return {author: (seq, hash_) for author, seq, hash_ in rows}

    def max_lamport(self, conv: bytes) -> int:
        # The last entry of the display-order index: one step, not a pass over the history.
        row = self._one(
            "SELECT lamport FROM messages WHERE conv = ? ORDER BY lamport DESC LIMIT 1", (conv,)
        )
        start = self._one("SELECT lamport FROM groups WHERE conv = ?", (conv,))
        return max(0 if row is None else int(row[0]), 0 if start is None else int(start[0]))

    def lamport_of(self, conv: bytes, author: bytes, seq: int) -> int | None:
        """The lamport of one stored envelope (a primary-key lookup; nothing is unsealed)."""
        row = self._one(
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
            cursor = self._conn.execute(
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

        return self._readable_prefix(self._run(rows))

    def hashes(self, conv: bytes, author: bytes, first: int, last: int) -> list[bytes]:
        """The hashes (message ids) of the author's messages first <= seq <= last, in seq
        order, read from the index columns: nothing is unsealed."""
        rows = self._all(
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
        rows = self._all(
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
        self._write(
            "UPDATE messages INDEXED BY messages_unsent SET sent = 1"
            " WHERE conv = ? AND author = ? AND seq <= ? AND own = 1 AND sent = 0",
            (conv, author, upto_seq),
        )

    def set_peer_seq(self, conv: bytes, peer: bytes, author: bytes, seq: int) -> None:
        """`peer` holds `author`'s log in `conv` up to `seq`. Never lowers a stored value: an
        old vector arriving late must not make delivered messages look undelivered."""
        _check_bytes("peer", peer, _KEY)
        _check_bytes("author", author, _KEY)
        self._write(
            "INSERT INTO peer_seqs (conv, peer, author, seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (conv, peer, author) DO UPDATE SET seq = max(seq, excluded.seq)",
            (conv, peer, author, seq),
        )

    def peer_vector(self, conv: bytes, peer: bytes) -> dict[bytes, int]:
        rows = self._all(
            "SELECT author, seq FROM peer_seqs WHERE conv = ? AND peer = ?", (conv, peer)
        )
        return {author: seq for author, seq in rows}

    def undelivered(
        self, conv: bytes, author: bytes, peer: bytes, limit: int | None = None
    ) -> list[Envelope]:
        """The outbox towards `peer`: `author`'s envelopes beyond what `peer` acknowledged,
        up to the first row that cannot be read."""
        row = self._one(
            "SELECT seq FROM peer_seqs WHERE conv = ? AND peer = ? AND author = ?",
            (conv, peer, author),
        )
        acked = 0 if row is None else int(row[0])  # seqs start at 1, so 0 means none
        rows = self._all(
            "SELECT sealed, conv, author, seq, hash FROM messages"
            " WHERE conv = ? AND author = ? AND seq > ? ORDER BY seq LIMIT ?",
            (conv, author, acked, -1 if limit is None else limit),
        )
        return self._readable_prefix(rows)

    # -- groups --

    def create_group(self, conv: bytes, title: str, lamport: int,
                     start: dict[bytes, tuple[int, bytes]]) -> None:
        """A group we created or joined; its logs start at `start` (an invitation's heads)."""
        _check_bytes("conv", conv, _CONV_ID)
        title = _check_text("title", title, MAX_NAME, newlines=False)
        self._write(
            "INSERT INTO conversations (id, kind, title, created_at) VALUES (?, 'group', ?, ?)",
            (conv, title, self._clock()),
        )
        self._write("INSERT INTO groups (conv, lamport) VALUES (?, ?)", (conv, lamport))
        for author, (seq, hash_) in start.items():
            _check_bytes("author", author, _KEY)
            _check_bytes("hash", hash_, _KEY)
            self._write("INSERT INTO group_start (conv, author, seq, hash) VALUES (?, ?, ?, ?)",
                        (conv, author, seq, hash_))
            self._write("INSERT INTO log_heads (conv, author, seq, hash) VALUES (?, ?, ?, ?)",
                        (conv, author, seq, hash_))

    def list_groups(self) -> list[tuple[bytes, bool]]:
        """(group id, left) of every group, oldest first."""
        rows = self._all(
            "SELECT g.conv, g.left FROM groups AS g JOIN conversations AS c ON c.id = g.conv"
            " ORDER BY c.created_at, g.conv")
        return [(conv, bool(left)) for conv, left in rows]

    def set_group_left(self, conv: bytes) -> None:
        """We left: the group's keys go, its history stays."""
        self._write("UPDATE groups SET left = 1 WHERE conv = ?", (conv,))
        self._write("DELETE FROM group_keys WHERE conv = ?", (conv,))
        self._write("DELETE FROM group_leaves WHERE conv = ?", (conv,))
        self._write("DELETE FROM group_invites WHERE conv = ?", (conv,))

    def rejoin_group(self, conv: bytes) -> None:
        """Invited again after we left: the group is ours to read and write again."""
        self._write("UPDATE groups SET left = 0 WHERE conv = ?", (conv,))
        self._write("DELETE FROM group_leaves WHERE conv = ?", (conv,))

    def add_group_op(self, conv: bytes, number: int, record: bytes) -> None:
        self._write("INSERT INTO group_ops (conv, number, sealed) VALUES (?, ?, ?)",
                    (conv, number, bytes(self._box.encrypt(record))))

    def group_ops(self, conv: bytes) -> list[bytes]:
        """The chain's record bytes, op 1 first; StoreError if a row does not unseal."""
        rows = self._all("SELECT number, sealed FROM group_ops WHERE conv = ? ORDER BY number",
                         (conv,))
        out: list[bytes] = []
        for number, sealed in rows:
            if number != len(out) + 1:
                raise StoreError("a group's op chain has a gap: damaged database")
            out.append(self._open(sealed, "a group op"))
        return out

    def _open(self, sealed: bytes, what: str) -> bytes:
        try:
            return bytes(self._box.decrypt(sealed))
        except nacl.exceptions.CryptoError as exc:
            raise StoreError(f"{what} does not decrypt: damaged database") from exc

    def put_group_key(self, conv: bytes, epoch: int, key: bytes) -> None:
        _check_bytes("key", key, _KEY)
        self._write("INSERT OR IGNORE INTO group_keys (conv, epoch, sealed) VALUES (?, ?, ?)",
                    (conv, epoch, bytes(self._box.encrypt(key))))

    def group_keys(self, conv: bytes) -> dict[int, bytes]:
        rows = self._all("SELECT epoch, sealed FROM group_keys WHERE conv = ?", (conv,))
        return {epoch: self._open(sealed, "a group key") for epoch, sealed in rows}

    def put_group_leave(self, conv: bytes, member: bytes, record: bytes) -> None:
        self._write("INSERT OR REPLACE INTO group_leaves (conv, member, record) VALUES (?, ?, ?)",
                    (conv, member, record))

    def drop_group_leave(self, conv: bytes, member: bytes) -> None:
        self._write("DELETE FROM group_leaves WHERE conv = ? AND member = ?", (conv, member))

    def group_leaves(self, conv: bytes) -> list[bytes]:
        return [r[0] for r in self._all("SELECT record FROM group_leaves WHERE conv = ?", (conv,))]

    def set_group_invite(self, conv: bytes, member: bytes, record: bytes | None) -> None:
        """Keep the invitation for `member` until it is handed over (None: it was)."""
        if record is not None:
            self._write("INSERT OR REPLACE INTO group_invites (conv, member, sealed)"
                        " VALUES (?, ?, ?)", (conv, member, bytes(self._box.encrypt(record))))
        else:
            self._write("DELETE FROM group_invites WHERE conv = ? AND member = ?", (conv, member))

    def group_invites(self, conv: bytes) -> dict[bytes, bytes]:
        rows = self._all("SELECT member, sealed FROM group_invites WHERE conv = ?", (conv,))
        return {member: self._open(sealed, "an invitation") for member, sealed in rows}

    def truncate_log(self, conv: bytes, author: bytes, cut: int) -> None:
        """Drop `author`'s messages above seq `cut` and move its head back to `cut` (a group op
        ended that member's log there)."""
        self._write("DELETE FROM messages WHERE conv = ? AND author = ? AND seq > ?",
                    (conv, author, cut))
        row = self._one("SELECT hash FROM messages WHERE conv = ? AND author = ? AND seq = ?",
                        (conv, author, cut))
        if row is None:
            row = self._one("SELECT hash FROM group_start WHERE conv = ? AND author = ?"
                            " AND seq = ?", (conv, author, cut))
        if row is None or cut == 0:
            self._write("DELETE FROM log_heads WHERE conv = ? AND author = ?", (conv, author))
        else:
            self._write("UPDATE log_heads SET seq = ?, hash = ? WHERE conv = ? AND author = ?",
                        (cut, row[0], conv, author))

    # -- groups against a hostile member (v4) --

    def set_group_floor(self, conv: bytes, member: bytes, own_seq: int, lamport: int) -> None:
        """A member's vector acknowledged `lamport` with its own log at `own_seq` (highest of
        each kept, as for a contact's peer_seqs)."""
        _check_bytes("member", member, _KEY)
        self._write(
            "INSERT INTO group_floors (conv, member, own_seq, lamport) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (conv, member) DO UPDATE SET own_seq = max(own_seq, excluded.own_seq),"
            " lamport = max(lamport, excluded.lamport)", (conv, member, own_seq, lamport))

    def group_floors(self, conv: bytes) -> list[tuple[bytes, int, int]]:
        """(member, own seq, lamport) of every floor stored for `conv` (none for a dm)."""
        return [(m, s, lam) for m, s, lam in self._all(
            "SELECT member, own_seq, lamport FROM group_floors WHERE conv = ?", (conv,))]

    def author_bytes(self, conv: bytes) -> dict[bytes, int]:
        """Bytes stored per author in `conv` (sealed sizes); one pass, at a group's first use."""
        return {a: int(n) for a, n in self._all(
            "SELECT author, sum(length(sealed)) FROM messages WHERE conv = ? GROUP BY author",
            (conv,))}

    def put_equivocation(self, conv: bytes, author: bytes, seq: int, first: bytes,
                         second: bytes) -> bool:
        """Keep both signed versions (record bytes) of `author`'s seq; False if already kept."""
        _check_bytes("author", author, _KEY)
        sealed = bytes(self._box.encrypt(len(first).to_bytes(4, "big") + first + second))
        return self._write(
            "INSERT OR IGNORE INTO equivocations (conv, author, seq, sealed, found_at)"
            " VALUES (?, ?, ?, ?, ?)", (conv, author, seq, sealed, self._clock())) > 0

    def equivocations(self, conv: bytes) -> list[tuple[bytes, int, bytes, bytes, int]]:
        """(author, seq, first record, second record, found at ms) for `conv`, oldest first."""
        out = []
        for author, seq, sealed, found in self._all(
                "SELECT author, seq, sealed, found_at FROM equivocations WHERE conv = ?"
                " ORDER BY found_at, author, seq", (conv,)):
            both = self._open(sealed, "equivocation evidence")
            cut = 4 + int.from_bytes(both[:4], "big")
            out.append((author, int(seq), both[4:cut], both[cut:], int(found)))
        return out

    def put_group_invitation(self, conv: bytes, inviter: bytes, record: bytes) -> None:
        _check_bytes("conv", conv, _CONV_ID)
        _check_bytes("inviter", inviter, _KEY)
        self._write("INSERT OR REPLACE INTO group_invitations (conv, inviter, sealed, received_at)"
                    " VALUES (?, ?, ?, ?)",
                    (conv, inviter, bytes(self._box.encrypt(record)), self._clock()))

    def drop_group_invitation(self, conv: bytes) -> None:
        self._write("DELETE FROM group_invitations WHERE conv = ?", (conv,))

    def group_invitations(self) -> list[tuple[bytes, bytes, bytes, int]]:
        """(group, inviter, invitation record, received at ms) of every pending invitation."""
        return [(conv, inviter, self._open(sealed, "an invitation"), int(at))
                for conv, inviter, sealed, at in self._all(
                    "SELECT conv, inviter, sealed, received_at FROM group_invitations"
                    " ORDER BY received_at, conv")]

    def forget_group(self, conv: bytes) -> None:
        """A group we left, and everything we held of it, gone for good."""
        for table in ("group_floors", "equivocations", "group_invites", "group_leaves",
                      "group_keys", "group_start", "group_ops"):
            self._write(f"DELETE FROM {table} WHERE conv = ?", (conv,))
        for table in ("messages", "log_heads", "peer_seqs"):
            self._write(f"DELETE FROM {table} WHERE conv = ?", (conv,))
        self._write("DELETE FROM groups WHERE conv = ?", (conv,))
        self._write("DELETE FROM conversations WHERE id = ?", (conv,))
