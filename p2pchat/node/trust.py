"""Trust: who is a contact, what a stranger may do, and whose key is pinned.

A contact is a key the user added or accepted; a stranger is anyone else who completes a
handshake. Strangers get a short-lived link on which they may say hello and ask to become a
contact, nothing more, and a handful of them at a time. Blocked keys are cut at once. A contact
who answers with another key is refused loudly (the key is pinned). The contact commands the user
gives (add, accept, block, remove) live here too, with the addresses we keep for dialling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from p2pchat.core.identity import (
    FingerprintError,
    fingerprint,
    parse_fingerprint,
    short_fingerprint,
)
from p2pchat.core.messages import ContactAccept, ContactRequest, Hello
from p2pchat.core.session import ReplayGuard
from p2pchat.core.text import MAX_NAME_CHARS, BadName, valid_name
from p2pchat.event_types import (
    ContactRequestEvent,
    RequestsDroppedEvent,
)
from p2pchat.events import EventBus
from p2pchat.net.addresses import Address, format_addr, parse_addr
from p2pchat.node.config import MAX_ADDRS, CommandError, NodeConfig
from p2pchat.node.key_mismatches import KeyMismatches
from p2pchat.node.links import LinkTable
from p2pchat.node.outbox import Outbox
from p2pchat.node.peer_state import PeerLink
from p2pchat.node.removed_contacts import kept_conversation, kept_name, remove_keeping_name
from p2pchat.node.views import Views
from p2pchat.storage.store import Contact, Store, StoreError

log = logging.getLogger("p2pchat.node")

MAX_LEARNED = 1024  # peers whose dial-back addresses we remember
MAX_REQUESTS_PER_ADDRESS = 4  # waiting requests from one source address


class Trust:
    def __init__(
        self,
        key: bytes,
        name: str,
        config: NodeConfig,
        *,
        store: Callable[[], Store],
        outbox: Outbox,
        events: EventBus,
        views: Views,
        links: LinkTable,
        replay_guard: ReplayGuard,
        ensure_dm: Callable[[bytes], bytes],
        on_promoted: Callable[[PeerLink, bytes], None],
        advertised: Callable[[bytes], list[Address]],
        is_group_peer: Callable[[bytes], bool] = lambda key: False,
    ) -> None:
        self._key = key
        self._name = name
        self._config = config
        self._store = store
        self._outbox = outbox
        self._events = events
        self._views = views
        self._links = links
        self._replay_guard = replay_guard
        self._ensure_dm = ensure_dm
        self._on_promoted = on_promoted
        self._advertised = advertised
        self._is_group_peer = is_group_peer
        self._learned_addrs: dict[bytes, list[Address]] = {}
        self._request_sources: dict[bytes, str] = {}  # waiting request -> address it came from
        # Requests the user renamed (bounded by the inbox): a sender's new name leaves them be.
        self._named_by_user: set[bytes] = set()
        self.requests_dropped = 0
        # A contact answering with another key is refused by the session; told of once here.
        self.key_mismatches = KeyMismatches(store=store, events=events)

    def rename_self(self, name: str) -> None:
        """Our own name, as later requests and accepts carry it."""
        self._name = name

    def is_contact(self, key: bytes) -> bool:
        """Whether `key` is a contact (not a request, not blocked)."""
        return self._store().contacts.state_of(key) == "contact"

    # ------------------------------------------------------------ links

    def admit(self, link: PeerLink, key: bytes) -> bool | None:
        """A handshake with `key` completed on `link`: True for a contact, False for a stranger
        it may talk to for a while or a fellow group member (`link.peer.group_only`), None if
        refused (the link is closed)."""
        if key == self._key:
            link.close("connected to ourselves")
            return None
        contact = self._store().contacts.get(key)
        if contact is not None and contact.state == "blocked":
            link.close("blocked")
            return None
        if contact is not None and contact.state == "contact":
            self._persist_replay_guard(key)
            return True
        if self._is_group_peer(key):
            # Pinned by the owner's signed member list: a link for group records only.
            link.peer.group_only = True
            return False
        if self._links.count_strangers() >= self._config.max_strangers:
            link.close("too many strangers connected")
            return None
        link.peer.stranger_until = asyncio.get_running_loop().time() \
            + self._config.stranger_lifetime
        return False

    def restore_replay_guard(self) -> None:
        """At start: contacts' IK timestamps from the store, pinned; nobody else's is kept."""
        db = self._store()
        db.ik_stamps.prune(self._key)
        for contact in db.contacts.list_all(states=("contact",)):
            self._replay_guard.pin(contact.key)
        for key, ts in db.ik_stamps.latest().items():
            if key != self._key:  # our own row is the floor of what we send (node/ik_stamps.py)
                self._replay_guard.check_and_update(key, ts)

    def _persist_replay_guard(self, key: bytes) -> None:
        """Only a contact's timestamp is written down (docs/privacy.md says what it records)."""
        self._replay_guard.pin(key)
        latest = self._replay_guard.latest.get(key)
        if latest is not None:
            self._store().ik_stamps.record(key, latest)

    def on_hello(self, link: PeerLink, key: bytes, hello: Hello) -> None:
        """A peer's Hello: its name, ports and whether it knows us."""
        before = link.peer.their_name
        link.peer.their_name = hello.name
        if before is not None and before != hello.name and not link.peer.stranger:
            # A Hello again on a live link: they renamed themselves (docs/protocol.md 7.1).
            self._events.emit(self._views.renamed(key, hello.name))
        if not link.outbound and link.relay is None:  # a relay's address is not the peer's
            _learn(self._learned_addrs, key, link.address[0], hello.ports)
        if self.is_contact(key):
            # What a contact calls itself, kept in the store: a new key asking under that name
            # is as suspect as one under our name for them, after a restart too (issue 23).
            self._store().announced.keep(key, _fold(hello.name))
            self._outbox.schedule_flush()
            # We added them; if they don't know us yet, ask (once per link) and then wait for
            # them to accept and dial us rather than knocking again and again.
            waited = self._links.dialer.waits_for_answer(key)
            self._links.dialer.set_patient(key, not hello.knows_you)
            if waited != (not hello.knows_you):  # `awaits_answer` changed: screens re-read,
                self._contacts_changed(key)  # not "online" beside "not linked" (14a, B6)
                self._store().contacts.hold_request(key, not hello.knows_you)  # kept (14c B6)
            if hello.knows_you:  # they accepted: no longer "asked, waiting" (trial 12, B15)
                self._store().contacts.answered(key)
            else:
                self._outbox.queue(link, ContactRequest(name=self._name, note=""))

    def on_contact_request(self, link: PeerLink, key: bytes, request: ContactRequest) -> None:
        """A stranger asks to become a contact: kept as a request (bounded)."""
        if self.is_contact(key):
            return
        # A stranger's link has done all it may do once its request is in: free the slot.
        # If we accept, we dial them back at the address their Hello gave. A fellow group
        # member's link stays: it carries the group.
        if not link.peer.group_only:
            asyncio.get_running_loop().call_soon(link.close, "contact request received")
        db = self._store()
        listed = db.contacts.get(key)
        if listed is not None:  # one request per stranger: it is already listed
            if listed.state == "request" and key not in self._named_by_user \
                    and kept_conversation(db, key) is None:  # ours for one removed stays
                self._rename_request(listed, request.name)  # they renamed themselves (B14)
            return
        source = link.source
        waiting = db.contacts.list_all(states=("request",))
        if sum(1 for c in waiting if self._source_of(c) == source) >= MAX_REQUESTS_PER_ADDRESS:
            self._dropped(f"{MAX_REQUESTS_PER_ADDRESS} are already waiting from {source}")
            return
        if len(waiting) >= self._config.max_requests:
            # Throwaway keys must not lock genuine requests out: the oldest unanswered goes.
            oldest = min(waiting, key=lambda c: c.created_at)
            db.contacts.remove(oldest.key)
            self._request_sources.pop(oldest.key, None)
            self._dropped(f"the inbox holds {self._config.max_requests}; the oldest went")
        addrs = [format_addr(a) for a in self._learned_addrs.get(key, [])]
        # A contact we removed whose node still has us asks at once (protocol.md 7.1): the
        # key we knew, under the name we gave it (node/removed_contacts.py; issue 23, B4).
        removed = kept_conversation(db, key) is not None
        name = kept_name(db, key) or request.name
        namesake = db.contacts.by_name(name)
        if namesake is not None:  # a stranger can't take a known name
            suffix = f" ({short_fingerprint(key)})"
            name = name[: MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
        announced = None if namesake is not None or removed \
            else self.announced_as(request.name, key)
        try:
            db.contacts.add(key, name, "request", addrs=addrs, note=request.note)
        except (StoreError, ValueError) as exc:
            log.warning("ignored a contact request: %s", exc)
            return
        self._request_sources[key] = source
        log.info("contact request from %s at %s", self._views.who(key), source)
        self._outbox.schedule_flush()
        event: ContactRequestEvent = {"type": "contact_request", "fingerprint": fingerprint(key),
                                 "name": name, "note": request.note}
        if removed:  # not a new key under a known name: the one we had
            event["after_removal"] = True
            namesake = None
        if namesake is None and announced is not None:  # the name a contact calls itself
            namesake = announced
            event["same_name_announced"] = True
        if not removed:
            _flag_lookalike(db, key, request.name, namesake, (self._key, self._name))
        if namesake is not None:  # a new key under a contact's name: maybe them, maybe not
            event["same_name_as"] = fingerprint(namesake.key)
            event["same_name_verified"] = self._views.contact(namesake).get("verified") is True
        self._events.emit(event)

    def _rename_request(self, listed: Contact, announced: str) -> None:
        """A waiting request follows the name its sender now gives itself (a known name
        taken gets the fingerprint suffix, as a new request would), unless the user named it."""
        db = self._store()
        namesake = db.contacts.by_name(announced)
        taken = namesake is not None and namesake.key != listed.key
        claimed = namesake if taken and namesake is not None and namesake.state == "contact" \
            else self.announced_as(announced, listed.key)
        _flag_lookalike(db, listed.key, announced, claimed, (self._key, self._name))  # or ours
        name = _request_name(listed, announced, taken or claimed is not None)
        if name == listed.name:
            return
        try:
            db.contacts.set_name(listed.key, name)
        except (StoreError, ValueError) as exc:
            log.warning("kept a request's old name: %s", exc)
            return
        self._outbox.schedule_flush()
        self._contacts_changed(listed.key)

    def announced_as(self, name: str, key: bytes) -> Contact | None:
        """The contact (not `key`) that announced `name` for itself, if any."""
        fold = _fold(name)
        for other, theirs in self._store().announced.all().items():
            if theirs == fold and other != key:
                contact = self._store().contacts.get(other)
                if contact is not None and contact.state == "contact":
                    return contact
        return None

    def _source_of(self, request: Contact) -> str | None:
        """The address a waiting request came from (after a restart: its dial-back host)."""
        source = self._request_sources.get(request.key)
        if source is None and request.addrs:
            with contextlib.suppress(ValueError):
                source = parse_addr(request.addrs[0])[0]
        return source

    def _dropped(self, why: str) -> None:
        self.requests_dropped += 1
        log.warning("dropped a contact request: %s", why)
        self._events.emit(RequestsDroppedEvent(type="requests_dropped",
                                               count=self.requests_dropped, reason=why))

    def on_contact_accept(self, link: PeerLink, key: bytes) -> None:
        """A peer accepted our request: it is a contact now."""
        if self.is_contact(key) and link.peer.stranger:
            self._promote(link, key)

    def _promote(self, link: PeerLink, key: bytes) -> None:
        """A stranger's link becomes a contact's link (we accepted them, or they us)."""
        link.peer.stranger_until = None
        self._on_promoted(link, key)

    def addresses_for(self, key: bytes) -> list[Address]:
        """Where to dial `key`: addresses the user gave, then learned, then advertised."""
        candidates: list[Address] = []
        contact = self._store().contacts.get(key)
        if contact is not None:
            for text in contact.addrs:
                with contextlib.suppress(ValueError):
                    candidates.append(parse_addr(text))
        candidates += self._learned_addrs.get(key, [])
        candidates += self._advertised(key)
        return list(dict.fromkeys(candidates))[: 2 * MAX_ADDRS]

    # ------------------------------------------------------------ commands

    def contact_for(self, who: str, states: Iterable[str] = ("contact",)) -> Contact:
        """A contact by name (case-insensitive) or fingerprint."""
        db = self._store()
        contact = db.contacts.by_name(who)
        if contact is None:
            try:
                contact = db.contacts.get(parse_fingerprint(who))
            except FingerprintError:
                contact = None
        if contact is None:
            raise CommandError("unknown_contact",
                               f"no contact named {who!r}: see 'p2pchat contacts list'")
        if contact.state not in states:
            raise CommandError("unknown_contact", f"{contact.name!r} {_IS[contact.state]}")
        return contact

    async def add_contact(self, fingerprint_text: str, name: str,
                          addrs: list[str] | None = None) -> dict[str, Any]:
        """Add a contact by fingerprint (and send a request on any live link)."""
        try:
            key = parse_fingerprint(fingerprint_text)
        except FingerprintError as exc:
            raise CommandError("bad_fingerprint", f"that fingerprint is not valid: {exc}") from None
        if key == self._key:
            raise CommandError("bad_fingerprint", "that is your own fingerprint")
        name = _valid_name(name)
        parsed = _parsed_addrs(addrs or [])
        db = self._store()
        blocked = db.contacts.get(key)
        if blocked is not None and blocked.state == "blocked":  # adding never unblocks
            raise CommandError("blocked", f"you blocked this key (as {blocked.name}): unblock"
                                          " it first")
        same_name = db.contacts.by_name(name)
        if same_name is not None and same_name.key != key:
            raise CommandError("name_taken", f"you already have a contact named {name!r}")
        existing = db.contacts.get(key)
        if existing is not None and existing.state == "contact":
            hint = " (to change where they are: contacts addr NAME HOST:PORT)" if parsed else ""
            raise CommandError("exists", f"already a contact, named {existing.name!r}{hint}")
        if existing is None:
            db.contacts.add(key, name, "contact", addrs=parsed, asked=True)
        else:
            db.contacts.set_name(key, name)
            db.contacts.set_state(key, "contact")
            if parsed:
                db.contacts.set_addrs(key, parsed)
        self._ensure_dm(key)
        await self._outbox.durable()
        self._became_contact(key)
        self._contacts_changed(key)
        added = self._views.contact(self.contact_for(fingerprint(key)))
        # Their request was waiting: the add is mutual, and says so (trial 7, 18).
        added["they_asked"] = existing is not None and existing.state == "request"
        return added

    async def set_contact_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]:
        """Where to reach a contact, typed (replacing what was typed before; none: discovery
        alone finds them). The node dials the new addresses at once."""
        contact = self.contact_for(who)
        self._store().contacts.set_addrs(contact.key, _parsed_addrs(addrs))
        await self._outbox.durable()
        self._links.dialer.want(contact.key)
        self._links.dialer.wake(contact.key)
        return self._views.contact(self.contact_for(fingerprint(contact.key)))

    async def accept_contact(self, who: str, name: str | None = None,
                             anyway: bool = False) -> dict[str, Any]:
        """Accept a pending request (a new key under a verified name only `anyway`)."""
        contact = self.contact_for(who, states=("request",))
        _refuse_new_key(self._views.contact(contact), anyway)
        db = self._store()
        if name:
            db.contacts.set_name(contact.key, _valid_name(name))
        db.contacts.set_state(contact.key, "contact")
        self._ensure_dm(contact.key)
        await self._outbox.durable()
        self._became_contact(contact.key)
        self._contacts_changed(contact.key)  # an open chat follows a CLI accept (trial 4, B5)
        return self._views.contact(self.contact_for(fingerprint(contact.key)))

    def _contacts_changed(self, key: bytes) -> None:
        """Added, removed, (un)blocked, renamed or verified (CLI too): open screens re-read."""
        self._events.emit({"type": "contacts_changed", "fingerprint": fingerprint(key)})

    def _became_contact(self, key: bytes) -> None:
        self._persist_replay_guard(key)
        link = self._links.live(key)
        if link is not None and link.peer.stranger:
            self._outbox.queue(link, ContactAccept(name=self._name))
            self._promote(link, key)
        self._links.dialer.want(key)
        if link is not None and link.peer.group_only:
            # A fellow member's link carries group records only: greeted again as a contact's,
            # it asks them (or links as contacts) at once, not when it ends (trial 5, B4).
            link.close("a contact now: linking again as one")
            self._links.dialer.wake(key)

    async def block_contact(self, who: str) -> dict[str, Any]:
        """Block `who`: its links close and nothing of theirs is taken."""
        try:
            contact = self.contact_for(who, states=("contact", "request", "blocked"))
        except CommandError:
            contact = self._block_unknown(who)  # a removed contact, by fingerprint
        self._store().contacts.set_state(contact.key, "blocked")
        await self._outbox.durable()
        self._replay_guard.unpin(contact.key)
        self._links.dialer.forget(contact.key)
        self._links.close_peer(contact.key, "blocked")
        self._contacts_changed(contact.key)
        return self._views.contact(self.contact_for(fingerprint(contact.key), ("blocked",)))

    def _block_unknown(self, who: str) -> Contact:
        """A key we hold nothing of (a removed contact's), kept as blocked under its short
        fingerprint: it is refused from now on. Anything but a fingerprint: unknown."""
        try:
            key = parse_fingerprint(who)
        except FingerprintError:
            raise CommandError("unknown_contact", f"no contact named {who!r}: see 'p2pchat"
                                                  " contacts list'") from None
        if key == self._key:
            raise CommandError("bad_fingerprint", "that is your own fingerprint")
        db = self._store()
        name = short_fingerprint(key)
        if db.contacts.by_name(name) is not None:
            name = fingerprint(key)
        db.contacts.add(key, kept_name(db, key) or name, "blocked")
        return self.contact_for(fingerprint(key), states=("blocked",))

    async def remove_contact(self, who: str) -> dict[str, Any]:
        """Remove a contact; its history stays, under its fingerprint. `they_have_you`: it
        was linked as a contact (its Hello knew us), so its node will ask again at once."""
        contact = self.contact_for(who, states=("contact", "request", "blocked"))
        link = self._links.live(contact.key)
        they_have_you = contact.state == "contact" and link is not None and link.peer.up \
            and not link.peer.stranger and not self._links.dialer.waits_for_answer(contact.key)
        remove_keeping_name(self._store(), contact)
        await self._outbox.durable()
        self._replay_guard.unpin(contact.key)
        self._links.dialer.forget(contact.key)
        self._links.close_peer(contact.key, "contact removed")
        self._contacts_changed(contact.key)
        removed: dict[str, Any] = {"removed": fingerprint(contact.key), "name": contact.name}
        if they_have_you:
            removed["they_have_you"] = True
        return removed

    async def unblock_contact(self, who: str) -> dict[str, Any]:
        """A blocked key goes back to what it was: a contact's links and messages resume; a
        request is a request again, still waiting for an accept (trial 4, B1: an impostor's
        request, blocked then unblocked, had become a contact)."""
        contact = self.contact_for(who, states=("blocked", "contact", "request"))
        if contact.state != "blocked":  # what they are instead (trial 14c, B9)
            raise CommandError("not_blocked",
                               _not_blocked(contact, self._links.is_linked(contact.key)))
        db = self._store()
        state = db.contacts.unblocked_state(contact.key)
        db.contacts.set_state(contact.key, state)
        if state == "contact":
            self._ensure_dm(contact.key)
        await self._outbox.durable()
        if state == "contact":
            self._became_contact(contact.key)
        self._contacts_changed(contact.key)
        return self._views.contact(self.contact_for(fingerprint(contact.key), (state,)))

    async def rename_contact(self, who: str, name: str) -> dict[str, Any]:
        """What we call a contact (or a request, or a blocked one); names stay unique."""
        states = ("contact", "request", "blocked")
        contact = self.contact_for(who, states=states)
        name = _valid_name(name)
        db = self._store()
        same_name = db.contacts.by_name(name)
        if same_name is not None and same_name.key != contact.key:
            raise CommandError("name_taken", f"you already have a contact named {name!r}")
        db.contacts.set_name(contact.key, name)
        if contact.state == "request":  # the user's name for it: their renames don't override
            self._named_by_user.add(contact.key)
        await self._outbox.durable()
        self._contacts_changed(contact.key)  # an open chat shows the new name (trial 2, B1)
        return self._views.contact(self.contact_for(fingerprint(contact.key), states))

    def list_contacts(self) -> list[dict[str, Any]]:
        """Every contact, request and blocked key, as views, with how we reach them now."""
        return [self._reached(self._views.contact(c), c.key)
                for c in self._store().contacts.list_all()]

    def _reached(self, view: dict[str, Any], key: bytes) -> dict[str, Any]:
        """`path` of a live link ("direct" or "relay"), and for a request `asked_via`: how its
        knocks come (a requester's link is closed once its request is in, so it is seldom
        online; issue 23: "offline [request]" for one knocking through a relay)."""
        link = self._links.live(key)
        if link is not None and link.peer.up:
            view["path"] = "relay" if link.relay is not None else "direct"
        elif key in self._links.unanswered:  # closed unanswered: a closed network? (trial 4 B4)
            view["unanswered"] = True
        source = self._request_sources.get(key)
        if view["state"] == "request" and source is not None:
            view["asked_via"] = "relay" if source.startswith("relay:") else "direct"
        return view

    def requests(self) -> list[dict[str, Any]]:
        """The pending contact requests, as views."""
        requests = self._store().contacts.list_all(states=("request",))
        return [self._views.contact(c) for c in requests]


# Why a known contact does not fit a command, for its error message.
_IS = {
    "contact": "is already a contact",
    "request": "asked to connect and is not a contact yet: accept them first",
    "blocked": "is blocked: unblock them first",
}


def _not_blocked(contact: Contact, linked: bool) -> str:
    if contact.state == "request":
        suffix = f"({short_fingerprint(contact.key)})"
        shown = contact.name if contact.name.endswith(suffix) else f"{contact.name} {suffix}"
        return f"{shown} is not blocked: a request; accept them to add them"
    return f"{contact.name} is not blocked: a contact, {'linked' if linked else 'not linked'}"


def _parsed_addrs(addrs: list[str]) -> list[str]:
    """Typed HOST:PORT addresses, checked and written one way; at most MAX_ADDRS."""
    if len(addrs) > MAX_ADDRS:
        raise CommandError("bad_address", f"at most {MAX_ADDRS} addresses per contact")
    parsed: list[str] = []
    for text in addrs:
        try:
            parsed.append(format_addr(parse_addr(text)))
        except ValueError as exc:
            raise CommandError("bad_address", str(exc)) from None
    return list(dict.fromkeys(parsed))


def _valid_name(name: str) -> str:
    try:
        return valid_name(name)
    except BadName as exc:
        raise CommandError("bad_name", str(exc)) from None


def _request_name(listed: Contact, announced: str, taken: bool) -> str:
    """The name a waiting request gets: the fingerprint suffix if a contact has the name
    (ours for it or its own), and kept while the name is unchanged: the contact it was taken
    from may since be renamed by the user, or be offline after a restart (trial 6, B4)."""
    suffix = f" ({short_fingerprint(listed.key)})"
    suffixed = announced[: MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
    kept = listed.name.endswith(suffix) and _fold(listed.name) == _fold(suffixed)
    return suffixed if taken or kept else announced


def _refuse_new_key(request: dict[str, Any], anyway: bool) -> None:
    """The impostor rule, here so every UI and script obeys it (the CLI alone checked): a
    request under the name of a contact you verified is accepted only `anyway`."""
    if request.get("same_name_verified") is True and not anyway:
        raise CommandError("new_key", f"{request['name']!r} is a NEW KEY under the name of a"
                           " contact you verified: it may not be them. Compare safety numbers"
                           " in person before you accept (anyway: true accepts it).")


def _flag_lookalike(db: Store, key: bytes, claimed: str, namesake: Contact | None,
                    own: tuple[bytes, str]) -> None:
    """A request that asks under a contact's name (`namesake`), or our own, is flagged for
    good: whatever it calls itself later (trial 14c, B1: one /nick lifted the warning)."""
    if namesake is not None:
        db.lookalikes.keep(key, claimed, namesake.key)
    elif _fold(claimed) == _fold(own[1]):
        db.lookalikes.keep(key, claimed, own[0])


def _fold(name: str) -> str:
    """A name as names are compared (the address book's rule: NFKC, then casefolded)."""
    return unicodedata.normalize("NFKC", name).casefold()


def _learn(learned_addrs: dict[bytes, list[Address]], key: bytes, host: str,
           ports: Sequence[int]) -> None:
    """Where a peer that dialled us listens: its host, with the ports its Hello gives."""
    learned = [(host, port) for port in ports if 0 < port < 65536]
    if key not in learned_addrs and len(learned_addrs) >= MAX_LEARNED:
        # Strangers come and go: forget the oldest rather than grow without end.
        del learned_addrs[next(iter(learned_addrs))]
    learned_addrs[key] = learned[:MAX_ADDRS]
