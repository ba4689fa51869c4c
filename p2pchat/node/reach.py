"""How the dialer is doing with each contact it cannot link to, added to `contacts.list`
(docs/api.md): a screen says why a contact seems offline where the user looks (notes/s33/
trial8.md B2, B5, B13) instead of "offline" for ever, and when it last saw them.

A contact who just closed their laptop is "offline", nothing more: their last known address is
called stale (`address_stale`: "if they moved, /addr ...") only when it is likely, when it has
not answered for a long time or their node was seen at another address (trial 9, B7: the
advice came 20 s after carol's node stopped)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from p2pchat.clock import wall_ns
from p2pchat.core.identity import parse_fingerprint
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.net.addresses import Address, format_addr, parse_addr
from p2pchat.net.dialer import Dialer
from p2pchat.node.peer_state import PeerLink
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger(__name__)

# Dials that failed in a row before a contact's last known address may be called stale: the
# dialer's back-off (net/dialer.py) makes these a few seconds, more than a blip.
STUCK_DIALS = 6
# How long a contact's address may stay silent (since we last had a link with them, or since
# the node started) before it is called stale without other signs: people close laptops.
STALE_AFTER = 600.0


def with_dial_state(views: list[dict[str, Any]], dialer: Dialer, *, now_ms: int,
                    since_ms: int, last_seen: Callable[[bytes], int | None],
                    elsewhere: Callable[[bytes], bool],
                    stale_after: float = STALE_AFTER) -> list[dict[str, Any]]:
    """Each contact not linked now gets `failed_dials` (dials since a link last carried a
    record), `last_seen` (when a link with it last ended, if one did) and `address_stale`;
    when its node has our request and has not added us, `awaits_answer: true`. `since_ms`:
    when the node started; `elsewhere(key)`: its node was seen at an address not stored."""
    for view in views:
        if view.get("state") != "contact":
            continue
        try:
            key = parse_fingerprint(str(view.get("fingerprint")))
        except ValueError:
            continue
        if dialer.waits_for_answer(key):  # linked now too: a knock their node closes at once
            view["awaits_answer"] = True
        if view.get("online"):
            continue
        failed = dialer.failures(key)
        view["failed_dials"] = failed
        seen = last_seen(key)
        if seen is not None:
            view["last_seen"] = iso_from_ms(seen)
        silent = (now_ms - max(seen or 0, since_ms)) / 1000
        view["address_stale"] = bool(view.get("addrs")) and failed >= STUCK_DIALS and (
            silent >= stale_after or elsewhere(key))
    return views


def last_seen_in(db: Store) -> Callable[[bytes], int | None]:
    """When a link with each contact last ended (unix ms), as the store keeps it."""
    def last_seen(key: bytes) -> int | None:
        contact = db.contacts.get(key)
        return contact.last_seen if contact is not None else None
    return last_seen


def seen_elsewhere(db: Store, addresses_for: Callable[[bytes], list[Address]]
                   ) -> Callable[[bytes], bool]:
    """Whether the node knows an address for a contact that the user did not store: one it
    linked from, or one it advertises (`addresses_for`, node/trust.py)."""
    def elsewhere(key: bytes) -> bool:
        contact = db.contacts.get(key)
        stored = set(contact.addrs) if contact is not None else set()
        for text in list(stored):  # as the dialer writes them
            with contextlib.suppress(ValueError):
                stored.add(format_addr(parse_addr(text)))
        return any(format_addr(a) not in stored for a in addresses_for(key))
    return elsewhere


def note_last_seen(db: Store | None, link: PeerLink, is_linked: Callable[[bytes], bool],
                   who: Callable[[bytes], str]) -> None:
    """A contact's link ended (and no other carries them): now is when we last saw them, the
    screens' "offline (last seen HH:MM)" (trial 9, B7)."""
    key = link.remote_key
    if key is None or not link.peer.up or is_linked(key) or db is None \
            or db.contacts.state_of(key) != "contact":
        return
    try:
        db.contacts.set_last_seen(key, wall_ns() // 1_000_000)
    except StoreError as exc:  # a hint for screens: not worth a failed node
        log.warning("could not note when %s was last seen: %s", who(key), exc)


class Reach:
    """The contact part of `contacts.list` and of a link's end, built with what it reads: the
    store, the dialer, the addresses the node knows, whether a key is linked, a name for logs."""

    def __init__(self, *, store: Callable[[], Store | None], dialer: Callable[[], Dialer],
                 addresses_for: Callable[[bytes], list[Address]],
                 is_linked: Callable[[bytes], bool], who: Callable[[bytes], str],
                 stale_after: float = STALE_AFTER) -> None:
        self._store, self._dialer, self._addresses_for = store, dialer, addresses_for
        self._is_linked, self._who, self._stale_after = is_linked, who, stale_after
        self._started_ms = 0  # how long a contact has been silent counts from here at most

    def started(self) -> None:
        """The node started now: a contact never seen since is silent from here."""
        self._started_ms = wall_ns() // 1_000_000

    def contacts(self, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`views` (Trust's list) with each unlinked contact's dial state (`with_dial_state`)."""
        db = self._store()
        if db is None:
            return views
        return with_dial_state(views, self._dialer(), now_ms=wall_ns() // 1_000_000,
                               since_ms=self._started_ms, last_seen=last_seen_in(db),
                               elsewhere=seen_elsewhere(db, self._addresses_for),
                               stale_after=self._stale_after)

    def link_gone(self, link: PeerLink) -> None:
        """A link ended: a contact's is when we last saw them (`note_last_seen`); not a knock
        on a node that has our request and has not added us: we never had a link with them
        (trial 11: "offline (last seen 16:40)" for a contact who had not yet accepted)."""
        key = link.remote_key
        if key is not None and self._dialer().waits_for_answer(key):
            return
        note_last_seen(self._store(), link, self._is_linked, self._who)
