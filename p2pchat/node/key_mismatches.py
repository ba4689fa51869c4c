"""Key mismatches: we dialled a contact and another key answered. The link is refused (the
session never completes); here the user is told, loudly once per address and pair of keys, and
quietly after that, since the dialer keeps meeting the same impostor (or the same new key)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from p2pchat.core.identity import fingerprint, short_fingerprint
from p2pchat.core.session import KeyMismatch
from p2pchat.event_types import KeyMismatchEvent
from p2pchat.events import EventBus
from p2pchat.net.addresses import format_addr
from p2pchat.node.peer_state import PeerLink
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")

MAX_MISMATCH_WARNINGS = 1024  # (address, expected, presented) triples remembered as warned


class KeyMismatches:
    def __init__(self, *, store: Callable[[], Store], events: EventBus) -> None:
        self._store = store
        self._events = events
        self._warned: set[tuple[str, bytes, bytes]] = set()

    def on_key_mismatch(self, link: PeerLink, event: KeyMismatch) -> None:
        """We dialled a contact and another key answered: warn, never link."""
        contact = self._store().contacts.get(event.expected)
        who = contact.name if contact else short_fingerprint(event.expected)
        address = format_addr(link.dialed or link.address)
        seen = (address, event.expected, event.presented)
        if seen in self._warned:  # loud once; the dialer will keep meeting it
            log.debug("the peer at %s still presents a different key", address)
            return
        if len(self._warned) < MAX_MISMATCH_WARNINGS:
            self._warned.add(seen)
        log.warning(
            "WARNING: the peer at %s presented key %s, not the key pinned for %s (%s). Refused."
            " Someone may be impersonating them. If %s really has a new key, verify the safety"
            " number in person, then remove and re-add the contact.",
            address, fingerprint(event.presented), who, fingerprint(event.expected), who,
            extra={"shown_as_event": True})  # UIs show the event; they skip this log line
        self._events.emit(KeyMismatchEvent(
            type="key_mismatch", address=address, name=who,
            expected=fingerprint(event.expected), presented=fingerprint(event.presented),
        ))
