"""The one SQLite connection of a home's store, shared by the parts that own its tables.

Every statement of every part goes through `Database`: parameterised, inside the one pending
transaction (begun on the first write), with sqlite3's errors turned into `StoreError`. The
at-rest seal (SecretBox under a key the node derives from the identity) lives here too, so each
part seals and opens its own columns the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final

import nacl.exceptions
import nacl.secret

from p2pchat.core.text import text_problem

__all__ = ["KEY_BYTES", "Database", "StoreError", "check_bytes", "check_text"]

KEY_BYTES: Final = 32  # Ed25519 public key / message hash


class StoreError(Exception):
    """The store cannot do what was asked: bad or foreign file, unknown row, undecryptable data."""


def check_bytes(what: str, value: bytes, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return value


def check_text(what: str, value: str, max_chars: int, *, newlines: bool) -> str:
    # The wire codec's rule, so any name a peer may send can be stored (see core/text.py).
    problem = text_problem(value, max_chars, newlines=newlines)
    if problem is not None:
        raise ValueError(f"{what}: {problem}")
    return value


class Database:
    """A connection, the seal, and the clock that stamps created_at (injectable for tests)."""

    def __init__(self, conn: sqlite3.Connection, box: nacl.secret.SecretBox,
                 clock: Callable[[], int]) -> None:
        self.conn = conn
        self.box = box
        self.clock = clock

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run `fn`, turning sqlite3's errors into StoreError."""
        try:
            return fn()
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"constraint violated: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a write inside the pending transaction (begun here if none); rows changed."""

        def go() -> int:
            if not self.conn.in_transaction:
                # IMMEDIATE: take the write lock now rather than fail to upgrade a read lock
                # later with SQLITE_BUSY that busy_timeout cannot resolve.
                self.conn.execute("BEGIN IMMEDIATE")
            return self.conn.execute(sql, params).rowcount

        result: int = self.run(go)
        return result

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a query."""
        rows: list[Any] = self.run(lambda: self.conn.execute(sql, params).fetchall())
        return rows

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a query, or None."""
        return self.run(lambda: self.conn.execute(sql, params).fetchone())

    def seal(self, data: bytes) -> bytes:
        """`data` sealed for storage at rest."""
        return bytes(self.box.encrypt(data))

    def open_sealed(self, sealed: bytes, what: str) -> bytes:
        """What `seal` sealed; StoreError naming `what` if it does not open."""
        try:
            return bytes(self.box.decrypt(sealed))
        except nacl.exceptions.CryptoError as exc:
            raise StoreError(f"{what} does not decrypt: damaged database") from exc
