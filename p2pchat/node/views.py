"""Views: the dicts the control API, the CLI and the UI read, built from the store and the links.

One place decides how a contact, a message and a link look from outside (docs/api.md), so
commands and events always agree. Names shown here are the user's own names for their contacts;
what peers call themselves is shown only as `their_name`, and every UI sanitises text before
drawing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import fingerprint, short_fingerprint
from p2pchat.core.messages import Envelope, decode_text, envelope_hash
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.event_types import MessageEvent, PeerRenamedEvent
from p2pchat.net.addresses import format_addr
from p2pchat.node.peer_state import PeerLink
from p2pchat.node.removed_contacts import after_removal, since
from p2pchat.storage.store import Contact, Store

UNREADABLE = "(unreadable message)"


def message_id(env: Envelope) -> str:
    return envelope_hash(env).hex()[:32]


class Views:
    def __init__(
        self,
        key: bytes,
        name: str,
        *,
        store: Callable[[], Store],
        is_linked: Callable[[bytes], bool],
        peer_of: Callable[[bytes], bytes | None],
        is_verified: Callable[[bytes], bool] = lambda key: False,
        their_name: Callable[[bytes], str | None] = lambda key: None,
        announced_as: Callable[[str, bytes], Contact | None] = lambda name, key: None,
        awaits: Callable[[bytes], bool] = lambda key: False,
    ) -> None:
        self._awaits = awaits  # their node has our request, and has not added us (yet)
        self._their_name = their_name
        self._announced_as = announced_as
        self._is_verified = is_verified
        self._key = key
        self._name = name
        self._store = store
        self._is_linked = is_linked
        self._peer_of = peer_of

    def rename_self(self, name: str) -> None:
        """Our own name changed."""
        self._name = name

    def who(self, key: bytes) -> str:
        """For logs: a contact's name with the short fingerprint, or the fingerprint alone."""
        contact = self._store().contacts.get(key)
        short = short_fingerprint(key)
        return f"{contact.name} ({short})" if contact is not None else short

    def display_name(self, key: bytes) -> str:
        """The name to show for `key`: the contact's, else their own, else a fingerprint."""
        contact = self._store().contacts.get(key)
        if contact is not None:
            return contact.name
        return short_fingerprint(key)

    def now_called(self, word: str) -> str | None:
        """Our name for the contact that calls itself `word`, when we call them otherwise."""
        contact = self._announced_as(word, b"")
        return None if contact is None or contact.name.casefold() == word.casefold() \
            else contact.name

    def renamed(self, key: bytes, word: str) -> PeerRenamedEvent:
        """`key` calls itself `word` now (a Hello again): with whose name that already is,
        ours (`yours`) or another contact's, ours for them or their own (`namesake`), so a
        screen warns rather than offer a /rename to it, and offers one only to a contact
        (trial 14b, B5)."""
        contact = self._store().contacts.get(key)
        event = PeerRenamedEvent(type="peer_renamed", fingerprint=fingerprint(key),
                                 name=self.display_name(key), their_name=word,
                                 state=contact.state if contact else "")
        if word.casefold() == self._name.casefold():
            event["yours"] = True
            return event
        other = self._store().contacts.by_name(word)
        if other is None or other.key == key or other.state != "contact":
            other = self._announced_as(word, key)
        if other is not None:
            event["namesake"] = other.name
            event["namesake_verified"] = self._is_verified(other.key)
        return event

    def contact(self, contact: Contact) -> dict[str, Any]:
        """A contact as docs/api.md shows it."""
        return {
            "fingerprint": fingerprint(contact.key),
            "name": contact.name,
            "state": contact.state,
            "note": contact.note,
            "addrs": list(contact.addrs),
            "online": self._is_linked(contact.key),
            "verified": self._is_verified(contact.key),
            # What they call themselves on the live link: `contacts` shows a /nick (trial 5, B8).
            "their_name": self._their_name(contact.key),
            # What they last called themselves, kept: /group create's hint (trial 9, B11).
            "announced_name": self._store().announced.get(contact.key),
            **self._namesake(contact),
            # We asked; their node never said it has us: "asked, waiting" (trial 12, B15)
            **({"asked": contact.asked} if contact.state == "contact" else {}),
            # In every view of a contact, a command's answer too: a screen's "online" is
            # `online` without it, whatever it read last (trial 14a, B6)
            **({"awaits_answer": True}
               if contact.state == "contact" and self._awaits(contact.key) else {}),
            # When the request first came (a knock again later keeps it): the screen's list
            # places it by this, not above every newer conversation (trial 13, B13)
            **({"requested_at": iso_from_ms(contact.created_at)}
               if contact.state == "request" else {}),
            # When it came to be (added, or its request came; a removed one's kept conversation
            # keeps it): the screens number their lists by it, alike in every screen and
            # across restarts (trial 14a B16, 14b B4)
            "since": iso_from_ms(since(self._store(), contact)),
        }

    def _namesake(self, contact: Contact) -> dict[str, Any]:
        """A request under a contact's name (the node named it "NAME (SHORT)"): whose, and
        whether that one is verified, kept across restarts as the request is. The name may be
        ours for that contact or the one it calls itself: renaming a verified contact must not
        lift the flag from a stranger under its old name (trial 6, B4)."""
        if contact.state != "request":
            return {}
        if after_removal(self._store(), contact):  # the key we knew, asking again (issue 23)
            return {"after_removal": True}
        now = self._namesake_now(contact)
        flagged = self._store().lookalikes.get(contact.key)
        if flagged is not None and flagged[1] == self._key and not now:  # our own name
            return {"same_name_yours": True, "claimed_name": flagged[0]}
        first = self._store().contacts.get(flagged[1]) if flagged is not None else None
        if flagged is None or first is None or first.state != "contact" or (
                now and (now["same_name_verified"] or not self._is_verified(first.key))):
            return now
        # It once asked under a contact's name: flagged whatever it calls itself now, the
        # verified one first (trial 14c, B1: one /nick lifted the NEW KEY warning for good).
        return {"same_name_as": fingerprint(first.key), "claimed_name": flagged[0],
                "same_name_verified": self._is_verified(first.key)}

    def _namesake_now(self, contact: Contact) -> dict[str, Any]:
        """Whose name a request's current name is, if a contact's."""
        suffix = f" ({short_fingerprint(contact.key)})"
        base = contact.name[:-len(suffix)] if contact.name.endswith(suffix) else contact.name
        namesake = self._store().contacts.by_name(base)
        if namesake is not None and namesake.key != contact.key and base != contact.name:
            return {"same_name_as": fingerprint(namesake.key),
                    "same_name_verified": self._is_verified(namesake.key)}
        namesake = self._announced_as(base, contact.key)
        if namesake is None:
            return {}
        return {"same_name_as": fingerprint(namesake.key), "same_name_announced": True,
                "same_name_verified": self._is_verified(namesake.key)}

    def message(self, env: Envelope, *, own: bool, status: str | None,
                stored_hash: bytes | None = None, readable: bool = True,
                body: bytes | None = None, group: str | None = None) -> dict[str, Any]:
        """A message as events and `log` show it. A stored row passes its own hash (the id) and
        whether it could be read: an unreadable row is shown as such, never left out. A group
        message passes its decrypted `body` and the group's title."""
        try:
            text = decode_text(env.body if body is None else body) if readable else UNREADABLE
        except ProtocolError:
            text = UNREADABLE
        peer = self._peer_of(env.conv)
        event: MessageEvent = {
            "type": "message",
            "id": stored_hash.hex()[:32] if stored_hash is not None else message_id(env),
            "conversation": fingerprint(peer) if peer else env.conv.hex(),
            "author": fingerprint(env.author),
            "author_name": self._name if env.author == self._key
            else self.display_name(env.author),
            "seq": env.seq,
            "text": text,
            "sent_at": iso_from_ms(env.sent_at),
            "own": own,
        }
        if own:
            event["status"] = status
        if group is not None:
            event["group"] = group
        # Built as the typed event; handed on as the plain dict that command replies, history
        # and the group part (node/group*.py) still take.
        return cast(dict[str, Any], event)

    def link(self, link: PeerLink) -> dict[str, Any] | None:
        """A live, accepted link as `peers` shows it; None for one still handshaking or gone."""
        key = link.remote_key
        if key is None or not link.peer.up or link.closed:
            return None
        contact = self._store().contacts.get(key)
        return {
            "fingerprint": fingerprint(key),
            "name": self.display_name(key),
            "their_name": link.peer.their_name,
            "state": "stranger" if link.peer.stranger
            else "group" if link.peer.group_only else "contact",
            "contact": contact.state if contact else None,
            "address": format_addr(link.address),
            "direction": "outbound" if link.outbound else "inbound",
            "path": "direct" if link.relay is None else "relay",
            "relay": link.relay,
            "handshake": link.session.pattern,
            "revision": link.session.peer_revision,
            "since": iso_from_ms(link.peer.since_ms),
        }
