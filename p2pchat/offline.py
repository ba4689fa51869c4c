"""Reading a home without its node: contacts and history from the store, opened read-only.

`p2pchat log` (of a contact or a group), `p2pchat contacts list` and `p2pchat file list` work
whether or not a node runs: with none, the store is opened for reading only (SQLite's WAL lets
a reader in beside a writer), and the answers have the same shape as the control API's
(docs/api.md), built by the node's own Views and group code (a group's state rebuilt from its
stored op chain). Whether anyone is online is not known when no node runs: a contact's
`online` is null (None), never false.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.core.addressing import Ambiguous, resolve
from p2pchat.core.identity import FingerprintError, fingerprint, parse_fingerprint
from p2pchat.core.messages import dm_conversation_id
from p2pchat.events import EventBus
from p2pchat.node.config import CommandError
from p2pchat.node.conversations import dm_history
from p2pchat.node.files import transfer_view
from p2pchat.node.group_invitations import Invitations
from p2pchat.node.group_state import find_group, group_view, member_name, stored_groups
from p2pchat.node.groups import group_history
from p2pchat.node.node import DB_FILE
from p2pchat.node.verified import VerifiedKeys
from p2pchat.node.views import Views
from p2pchat.storage.store import Contact, Store, StoreError

READABLE_STATES = ("contact", "request", "blocked")


class OfflineReader:
    def __init__(self, home: Path, public_key: bytes, name: str,
                 body_key: bytes | None = None) -> None:
        """`body_key` (the identity's "store" key) is needed only to read message texts; the
        contact list is not sealed, so `contacts.list` works without the passphrase."""
        self._key = public_key
        self._can_read_bodies = body_key is not None
        self._store: Store | None = None  # no store yet: a node never ran, nothing to read
        if (home / DB_FILE).exists():
            try:
                self._store = Store.open_readonly(home / DB_FILE, body_key or bytes(32))
            except StoreError as exc:
                raise CommandError("storage", str(exc)) from None
        self._name = name
        # The verified marks live beside the store (verified.json), as the node reads them.
        self._views = Views(self._key, name, store=self._opened,
                            is_linked=lambda key: False, peer_of=self._peer_of,
                            is_verified=VerifiedKeys(home).is_verified)

    def _opened(self) -> Store:
        assert self._store is not None
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> OfflineReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _peer_of(self, conv: bytes) -> bytes | None:
        stored = self._opened().conversations.get(conv)
        return stored.peer if stored else None

    def call(self, method: str, **params: Any) -> Any:
        """The read-only control methods, answered from the store."""
        if method == "contacts.list":
            if self._store is None:
                return []
            # Not known, so not false (trial 14b, B2: `--json` said "online": false)
            return [{**self._views.contact(c), "online": None}
                    for c in self._store.contacts.list_all()]
        if method == "groups.list":
            return [] if self._store is None else self._groups(self._store)
        if method == "file.list":
            if self._store is None:
                return []
            return [transfer_view(t, self._views.display_name)
                    for t in self._store.files.load_all()]
        if method == "log":
            if not self._can_read_bodies:
                raise CommandError("locked", "reading messages needs the identity unlocked")
            store = self._store
            who = str(params.get("with", ""))
            if store is None:
                raise CommandError("unknown_contact", f"no contact or group named {who!r}")
            limit = params.get("limit")
            former = None
            groups = stored_groups(store)

            def is_group(name: str) -> bool:
                try:
                    find_group(groups, name)
                except CommandError:
                    return False
                return True

            if self._contact(store, who) is None:
                former = removed_contact_conv(store, self._key, who, is_group)
            if former is not None:  # a removed contact's kept history, by fingerprint
                return dm_history(self._views, store, former, limit)

            try:  # as the node takes it: '#NAME' a group, '@NAME' a contact (core.addressing)
                kind, who = resolve(who, lambda n: self._contact(store, n) is not None,
                                    is_group)
            except Ambiguous as exc:
                raise CommandError("ambiguous", str(exc)) from None
            contact = self._contact(store, who) if kind == "contact" else None
            if contact is None:
                try:
                    group = find_group(groups, who)
                except CommandError as exc:
                    if exc.code != "unknown_group":
                        raise
                    raise CommandError("unknown_contact",
                                       f"no contact or group named {who!r}") from None
                return group_history(self._views, store, group, limit,
                                     lambda g, key: member_name(store, g, key, self._key,
                                                                self._name),
                                     me=self._key, changes=params.get("changes") is True)
            return dm_history(self._views, store, dm_conversation_id(self._key, contact.key),
                              limit)
        raise CommandError("no_node", f"'{method}' needs the running node")

    def _groups(self, store: Store) -> list[dict[str, Any]]:
        """`groups.list` as the node answers it (nobody online), then pending invitations."""
        listed = [group_view(g, self._key,
                             member_name(store, g, g.state.owner, self._key, self._name), 0,
                             getattr(store.conversations.get(g.conv), "created_at", None))
                  for g in stored_groups(store).values()]
        invitations = Invitations(self._key, store=self._opened, events=EventBus(),
                                  name_of=self._views.display_name)
        invitations.load(repair=False)
        return listed + [invitations.view(p) for p in invitations.pending()]

    def _contact(self, store: Store, who: str) -> Contact | None:
        contact = store.contacts.by_name(who)
        if contact is None:
            try:
                contact = store.contacts.get(parse_fingerprint(who))
            except FingerprintError:
                contact = None
        return contact if contact is not None and contact.state in READABLE_STATES else None


def removed_contact_conv(store: Store, own_key: bytes, who: str,
                         is_group: Callable[[str], bool] = lambda name: False) -> bytes | None:
    """The conversation kept with a removed contact: by their fingerprint, by `@NAME` (the
    name they had), or by that bare name when no contact or group has it (a group of that
    name: refused as ambiguous, as `send` would be; trial 6, B8)."""
    try:
        key = parse_fingerprint(who)
    except FingerprintError:
        return _former_by_name(store, who.strip(), is_group)
    if store.contacts.get(key) is not None:
        return None
    conv = dm_conversation_id(own_key, key)
    return conv if store.conversations.get(conv) is not None else None


def _former_by_name(store: Store, text: str, is_group: Callable[[str], bool]) -> bytes | None:
    name = text[1:] if text.startswith("@") else text
    if not name or text.startswith("#") or store.contacts.by_name(name) is not None:
        return None
    fold = name.casefold()
    # A removed contact's node may ask again at once, so its key may be a request now (one
    # stored before issue 23's B4 under the name it gave itself): the history is still kept.
    former = [c for c in store.conversations.list_all() if c.kind == "dm" and c.title
              and c.title.casefold() == fold and c.peer is not None
              and _no_contact(store.contacts.get(c.peer))]
    if not former:
        return None
    if not text.startswith("@") and is_group(name):
        fp = fingerprint(former[-1].peer or b"")
        raise CommandError("ambiguous", f"{name!r} is ambiguous: it is a group and a removed"
                           f" contact's kept history. Write '#{name}' for the group, or"
                           f" '@{name}' (or {fp}) for the history")
    return former[-1].id


def _no_contact(row: Contact | None) -> bool:
    return row is None or row.state == "request"
