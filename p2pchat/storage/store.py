"""The node's SQLite store, one file per home: it opens the database, migrates it, runs its
transactions and hands out one part per kind of data, each owning its tables' statements:

- `contacts` (storage/contacts.py): the address book;
- `conversations` (storage/conversations.py): conversations, their messages, heads, delivery;
- `groups` (storage/groups.py): each group's op chain, keys, leaves and invitations;
- `ik_stamps` (storage/ik_stamps.py): IK replay protection;
- `announced` (storage/announced.py): the name each contact calls itself.
- `lookalikes` (storage/lookalikes.py): requests that came under a contact's name.

Durability model: every write joins one open transaction (begun on the first write) and becomes
durable only at `commit()`. The node batches the writes of one event-loop turn and commits once;
it reports a message "queued" to the user only after that commit. `close()` without `commit()`
discards the pending writes, exactly as a crash would.

Confidentiality: each message is stored as its full encoded record sealed with SecretBox under a
key the node derives from the identity (storage/database.py). Only the metadata that queries need
is plaintext; contact names, notes and addresses are plaintext too, as they are local
address-book data rather than message content.

The schema (storage/schema.py) is versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes a
database from version i to i+1 inside one transaction. A file that is not ours, or is newer than
this code, is refused with `StoreError` before anything writes to it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import nacl.secret

from p2pchat.clock import wall_ns
from p2pchat.storage.announced import AnnouncedTable
from p2pchat.storage.contacts import (
    MAX_ADDRS,
    MAX_NAME,
    MAX_NOTE,
    Contact,
    ContactState,
    ContactTable,
    NameTaken,
)
from p2pchat.storage.conversations import (
    Conversation,
    ConversationTable,
    DeliveryStatus,
    StoredMessage,
)
from p2pchat.storage.database import Database, StoreError, check_bytes
from p2pchat.storage.files import FileTable
from p2pchat.storage.groups import GroupTable
from p2pchat.storage.ik_stamps import IkStampTable
from p2pchat.storage.lookalikes import LookalikesTable
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

# "P2CH" in the header's application_id field: marks the file as ours so that some other
# program's SQLite database handed to --home is refused instead of having tables added to it.
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS: Final = 5000

# The schema and its migrations are in storage/schema.py; tests may swap these two names here.
_MIGRATIONS: Final = MIGRATIONS
SCHEMA_VERSION: Final = len(_MIGRATIONS)


def _now_ms() -> int:
    return wall_ns() // 1_000_000


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


class Store:
    """One home's database. Not thread-safe: the node uses it from its event-loop thread."""

    # The parts, one per kind of data, each owning its tables' statements.
    contacts: ContactTable
    conversations: ConversationTable
    groups: GroupTable
    ik_stamps: IkStampTable
    announced: AnnouncedTable
    lookalikes: LookalikesTable

    def __init__(
        self,
        path: str | Path,
        body_key: bytes,
        *,
        clock: Callable[[], int] | None = None,
    ) -> None:
        check_bytes("body_key", body_key, nacl.secret.SecretBox.KEY_SIZE)
        self.path = Path(path)
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
        # created_at for contacts and conversations; injectable so tests are deterministic
        self._parts(body_key, clock if clock is not None else _now_ms)
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
        check_bytes("body_key", body_key, nacl.secret.SecretBox.KEY_SIZE)
        store = cls.__new__(cls)
        store.path = Path(path)
        if not store.path.exists():
            raise StoreError(f"no message store at {store.path} yet")
        _check_header(store.path)
        try:
            store._conn = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True,
                                          timeout=_BUSY_TIMEOUT_MS / 1000,
                                          isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {store.path}: {exc}") from exc
        store._parts(body_key, _now_ms)
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

    def _parts(self, body_key: bytes, clock: Callable[[], int]) -> None:
        self._db = Database(self._conn, nacl.secret.SecretBox(body_key), clock)
        self.contacts = ContactTable(self._db)
        self.conversations = ConversationTable(self._db)
        self.groups = GroupTable(self._db)
        self.ik_stamps = IkStampTable(self._db)
        self.announced = AnnouncedTable(self._db)
        self.lookalikes = LookalikesTable(self._db)
        self.files = FileTable(self._db)

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
        self._db.run(lambda: self._conn.execute("COMMIT"))
        return True

    def set_busy_timeout(self, ms: int | None) -> None:
        """How long a write waits for another program's lock (None: the default, 5 s)."""
        self._busy_ms = _BUSY_TIMEOUT_MS if ms is None else max(0, int(ms))
        self._db.run(lambda: self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}"))

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

        self._db.run(go)

    def rollback(self) -> None:
        """Discard every write since the last commit."""
        self.contacts.forget_cached()  # it may hold what is being undone
        if self._conn.in_transaction:
            self._db.run(lambda: self._conn.execute("ROLLBACK"))

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
