"""Contacts: the address book (names, states, notes, addresses), one row per peer key.

Names are unique, compared after NFKC and casefolding. Every contact is read once and kept until
one is written or a transaction is rolled back (`forget_cached`): every received record is
checked against its sender's state and every message shows its author's name.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from p2pchat.core.messages import MAX_NAME_CHARS
from p2pchat.core.text import valid_name
from p2pchat.storage.database import KEY_BYTES, Database, StoreError, check_bytes, check_text

__all__ = ["MAX_ADDRS", "MAX_NAME", "MAX_NOTE", "Contact", "ContactState", "ContactTable",
           "NameTaken"]

ContactState = Literal["contact", "request", "blocked"]
_CONTACT_STATES: Final = frozenset(get_args(ContactState))

MAX_NAME: Final = MAX_NAME_CHARS  # what a peer may announce must fit
MAX_NOTE: Final = 1000  # characters; a local note may outgrow a request's 280
MAX_ADDRS: Final = 16  # per contact; discovery refreshes them, so a few recent ones suffice
MAX_ADDR: Final = 262  # "[" + 253-char host + "]:" + 5-digit port, rounded up


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
    # We asked them (contacts add) and their node has not yet said it has us (schema v10)
    asked: bool = False


def _clean_name(name: str) -> tuple[str, str]:
    """Return (display name, fold used for uniqueness and lookup); BadName if the rule refuses."""
    name = valid_name(name)  # the one name rule, shared with the wire and the identity file
    # NFKC before casefolding so that, e.g., fullwidth "ａｌｉｃｅ" and "Alice" are one name
    return name, unicodedata.normalize("NFKC", name).casefold()


def _clean_note(note: str) -> str:
    return check_text("note", note, MAX_NOTE, newlines=True)


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


class ContactTable:
    """The `contacts` table: its statements and the cached index of every contact."""

    _contacts: dict[bytes, Contact] | None
    _contact_keys_by_fold: dict[str, bytes]
    _contact_keys_by_name: dict[str, bytes]

    def __init__(self, db: Database) -> None:
        self._db = db
        self.forget_cached()

    def forget_cached(self) -> None:
        """Drop the cached index (a rollback may undo what it holds)."""
        self._forget_contacts()

    _CONTACT_COLS: Final = "key, name, state, note, addrs, created_at, last_seen, asked"

    @staticmethod
    def _contact(row: Any) -> Contact:
        key, name, state, note, addrs, created_at, last_seen, asked = row
        return Contact(key, name, state, note, tuple(json.loads(addrs)), created_at, last_seen,
                       bool(asked))

    def _contact_index(self) -> dict[bytes, Contact]:
        """Every contact by key, read in one query and kept until a contact is written or a
        transaction rolled back: every received record is checked against its sender's state
        and every message shows its author's name, so a query each would be most of their cost.
        Only this class writes the table, and only through `_contact_written`."""
        if self._contacts is None:
            rows = self._db.all(f"SELECT {self._CONTACT_COLS}, name_fold FROM contacts")
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
        return self._db.write(sql, params)

    def add(
        self,
        key: bytes,
        name: str,
        state: ContactState,
        addrs: Iterable[str] = (),
        note: str = "",
        asked: bool = False,
    ) -> Contact:
        """Add a contact row; `asked`: we ask them (their node has not said it has us)."""
        check_bytes("key", key, KEY_BYTES)
        name, fold = _clean_name(name)
        state = _check_state(state)
        clean_addrs = _clean_addrs(addrs)
        note = _clean_note(note)
        if self.get(key) is not None:
            raise StoreError("this key is already in contacts")
        self._check_name_free(fold, key)
        self._contact_written(
            "INSERT INTO contacts (key, name, name_fold, state, note, addrs, created_at, asked)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, name, fold, state, note, json.dumps(list(clean_addrs)), self._db.clock(),
             int(asked)),
        )
        contact = self.get(key)
        assert contact is not None
        return contact

    def _check_name_free(self, fold: str, key: bytes) -> None:
        self._contact_index()
        holder = self._contact_keys_by_fold.get(fold)
        if holder is not None and holder != key:
            raise NameTaken(f"another contact is already called {fold!r}")

    def get(self, key: bytes) -> Contact | None:
        """The contact with `key`, if any (from memory once loaded)."""
        return self._contact_index().get(key)

    def state_of(self, key: bytes) -> ContactState | None:
        """A contact's state alone (what every incoming record is checked against)."""
        contact = self._contact_index().get(key)
        return None if contact is None else _check_state(contact.state)

    def by_name(self, name: str) -> Contact | None:
        """The contact called `name`, if any."""
        contacts = self._contact_index()
        key = self._contact_keys_by_name.get(name)  # typed as stored: nothing to clean
        if key is None:
            try:
                _, fold = _clean_name(name)
            except ValueError:
                return None  # no stored name can match an invalid one
            key = self._contact_keys_by_fold.get(fold)
        return None if key is None else contacts[key]

    def list_all(self, states: Iterable[ContactState] | None = None) -> list[Contact]:
        """Every contact in one of `states`, by name."""
        rows = self._db.all(f"SELECT {self._CONTACT_COLS} FROM contacts ORDER BY name_fold")
        contacts = [self._contact(r) for r in rows]
        if states is None:
            return contacts
        wanted = {_check_state(s) for s in states}
        return [c for c in contacts if c.state in wanted]

    def count(self, state: ContactState) -> int:
        """How many contacts are in `state`."""
        row = self._db.one("SELECT count(*) FROM contacts WHERE state = ?", (_check_state(state),))
        return int(row[0])

    def _update_contact(self, key: bytes, sql_set: str, params: Sequence[Any]) -> None:
        if self._contact_written(f"UPDATE contacts SET {sql_set} WHERE key = ?",
                                 (*params, key)) == 0:
            raise StoreError("no such contact")

    def set_state(self, key: bytes, state: ContactState) -> None:
        """Change a contact's state (contact, request, blocked). Blocking keeps the state it
        had, which `unblocked_state` gives back (trial 4, B1)."""
        before = self.get(key)
        self._update_contact(key, "state = ?", (_check_state(state),))
        self._db.write("DELETE FROM requests_held WHERE key = ?", (key,))  # as the dialer's
        if state != "blocked":
            self._db.write("DELETE FROM blocked_from WHERE key = ?", (key,))
        elif before is not None and before.state != "blocked":
            self._db.write("INSERT OR REPLACE INTO blocked_from (key, state) VALUES (?, ?)",
                           (key, before.state))

    def unblocked_state(self, key: bytes) -> ContactState:
        """What a blocked key becomes when unblocked: a contact only if it was one when it was
        blocked; anything else (a request, a key blocked before this was kept) a request, so
        nothing becomes a contact without the user's accept."""
        row = self._db.one("SELECT state FROM blocked_from WHERE key = ?", (key,))
        return "contact" if row is not None and row[0] == "contact" else "request"

    def set_name(self, key: bytes, name: str) -> None:
        """Change a contact's name."""
        name, fold = _clean_name(name)
        self._check_name_free(fold, key)
        self._update_contact(key, "name = ?, name_fold = ?", (name, fold))

    def set_note(self, key: bytes, note: str) -> None:
        """Change the note a contact's request carried."""
        self._update_contact(key, "note = ?", (_clean_note(note),))

    def set_addrs(self, key: bytes, addrs: Iterable[str]) -> None:
        """Replace the addresses a contact is dialled at."""
        self._update_contact(key, "addrs = ?", (json.dumps(list(_clean_addrs(addrs))),))

    def set_last_seen(self, key: bytes, when: int) -> None:
        """Note when the contact was last linked."""
        self._update_contact(key, "last_seen = ?", (when,))

    def answered(self, key: bytes) -> None:
        """Their node said it has us: no longer asked (written once, not at every Hello)."""
        contact = self.get(key)
        if contact is not None and contact.asked:
            self._update_contact(key, "asked = 0", ())

    def hold_request(self, key: bytes, held: bool) -> None:
        """Whether their node said (at its last Hello) it has our request and has not added
        us: kept, so `awaits_answer` outlives our restart (schema v11, trial 14c, B6)."""
        if held:
            self._db.write("INSERT OR IGNORE INTO requests_held (key) VALUES (?)", (key,))
        else:
            self._db.write("DELETE FROM requests_held WHERE key = ?", (key,))

    def request_held(self, key: bytes) -> bool:
        """What `hold_request` kept for `key`."""
        return self._db.one("SELECT 1 FROM requests_held WHERE key = ?", (key,)) is not None

    def remove(self, key: bytes) -> bool:
        """Forget a contact. Its conversation and messages stay; returns False if unknown."""
        self._db.write("DELETE FROM blocked_from WHERE key = ?", (key,))
        self._db.write("DELETE FROM requests_held WHERE key = ?", (key,))
        return self._contact_written("DELETE FROM contacts WHERE key = ?", (key,)) > 0
