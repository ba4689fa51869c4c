"""The commands a node takes (from control.py, the CLI and the UI), each handed to its part.

`Node` (node/node.py) inherits these; this file only routes a command to the part that owns its
rules and turns a failed write into a clean "storage" error. docs/api.md lists them.
"""

from __future__ import annotations

import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from p2pchat import __version__
from p2pchat.core.addressing import Ambiguous, resolve
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import dm_conversation_id
from p2pchat.net.addresses import Address, format_addr
from p2pchat.node.config import CommandError, NodeConfig
from p2pchat.node.conversations import Conversations, dm_history, now_ms
from p2pchat.node.groups import Groups
from p2pchat.node.health import StorageHealth
from p2pchat.node.links import LinkTable
from p2pchat.node.nearby import Nearby
from p2pchat.node.networks import Networks
from p2pchat.node.outbox import Outbox
from p2pchat.node.reading import ReadPositions
from p2pchat.node.relay_client import Relays
from p2pchat.node.trust import Trust
from p2pchat.node.verified import VerifiedKeys
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

T = TypeVar("T")

MAX_TEXTS_PER_SEND = 100  # one control call, one commit; each text is still its own message


class NodeCommands:
    # The parts and state Node sets up (node/node.py).
    home: Path
    key: bytes
    name: str
    config: NodeConfig
    outbox: Outbox
    trust: Trust
    conversations: Conversations
    groups: Groups
    links: LinkTable
    nearby: Nearby
    networks: Networks
    relays: Relays
    health: StorageHealth
    reading: ReadPositions
    views: Views
    verified: VerifiedKeys

    @property
    def db(self) -> Store:
        raise NotImplementedError

    @property
    def listen_addresses(self) -> list[Address]:
        raise NotImplementedError

    async def _storing(self, command: Coroutine[Any, Any, T]) -> T:
        """Run a command that writes; a write that fails undoes the turn as a failed commit
        does (memory is rebuilt from the store), and the user gets a clean "storage" error."""
        try:
            return await command
        except StoreError as exc:
            self.outbox.fail(exc)
            raise CommandError("storage", f"could not save: {exc}") from None

    async def add_contact(self, fingerprint_text: str, name: str,
                          addrs: list[str] | None = None) -> dict[str, Any]:
        return await self._storing(self.trust.add_contact(fingerprint_text, name, addrs))

    async def set_contact_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]:
        return await self._storing(self.trust.set_contact_addrs(who, addrs))

    async def accept_contact(self, who: str, name: str | None = None) -> dict[str, Any]:
        return await self._storing(self.trust.accept_contact(who, name))

    async def block_contact(self, who: str) -> dict[str, Any]:
        return await self._storing(self.trust.block_contact(who))

    async def remove_contact(self, who: str) -> dict[str, Any]:
        return await self._storing(self.trust.remove_contact(who))

    async def unblock_contact(self, who: str) -> dict[str, Any]:
        return await self.trust.unblock_contact(who)

    async def rename_contact(self, who: str, name: str) -> dict[str, Any]:
        return await self.trust.rename_contact(who, name)

    def verify_contact(self, who: str, verified: bool) -> dict[str, Any]:
        """Mark a contact verified (the safety numbers matched in person), or not any more."""
        contact = self.trust.contact_for(who, states=("contact", "request", "blocked"))
        try:
            self.verified.set(contact.key, verified, now_ms())
        except OSError as exc:
            raise CommandError("storage", f"could not save: {exc}") from None
        return self.views.contact(contact)

    def rekey(self) -> dict[str, Any]:
        """New session keys now: every contact link is closed and dialled again at once (a new
        Noise handshake), so nothing of the old keys protects later messages."""
        return {"links": self.links.restart_contact_links()}

    def list_contacts(self) -> list[dict[str, Any]]:
        return self.trust.list_contacts()

    def _announce_name(self) -> int:
        raise NotImplementedError

    def rename_self(self, name: str) -> dict[str, Any]:
        """A new name for us: kept with the identity, sent at once in a fresh Hello on every
        live link, and carried by every later hello, request and public advert."""
        from p2pchat.storage import keystore

        try:
            name = keystore.rename(self.home, name)
        except keystore.KeystoreError as exc:
            raise CommandError("bad_name", str(exc)) from None
        self.name = name
        for part in (self.views, self.trust, self.nearby):
            part.rename_self(name)
        told = self._announce_name()
        return self.status() | {"told": told}

    def mark_read(self, who: str, message_id: str) -> dict[str, Any]:
        """`who`: a contact, or a group (by title or id) when no contact has that name."""
        states = ("contact", "request", "blocked")
        kind, which = self._which(who, states)
        if kind == "group":
            name = self.groups.find(which).conv.hex()
        else:
            name = fingerprint(self.trust.contact_for(which, states=states).key)
        try:
            self.reading.mark_read(name, message_id)
        except ValueError as exc:
            raise CommandError("bad_request", str(exc)) from None
        return {}

    def unread(self) -> dict[str, int]:
        """Unread messages per contact (fingerprint -> count, at most 99) and per group (its id
        -> count), for every screen."""
        convs = {fingerprint(c.key): dm_conversation_id(self.key, c.key)
                 for c in self.db.contacts.list_all(states=("contact",))}
        convs.update((conv.hex(), conv) for conv in self.groups.ids())
        return {name: n for name, conv in convs.items() if (n := self.reading.unread(name, conv))}

    async def send(self, who: str, text: str) -> dict[str, Any]:
        """To a contact, or to a group (by title or id) when no contact has that name."""
        [event] = await self.send_many(who, [text])
        return event

    async def send_many(self, who: str, texts: list[str]) -> list[dict[str, Any]]:
        """Several messages to one contact or group, in order, in one commit: all or none."""
        if not 1 <= len(texts) <= MAX_TEXTS_PER_SEND:
            raise CommandError("bad_request",
                               f"send 1 to {MAX_TEXTS_PER_SEND} texts at a time, not {len(texts)}")
        kind, name = self._which(who, ("contact",))
        if kind == "group":
            return await self._storing(self.groups.send(name, texts))
        contact = self.trust.contact_for(name)
        return await self._storing(self.conversations.send(contact.key, texts))

    def history(self, who: str, limit: int | None = None, *,
                changes: bool = False) -> list[dict[str, Any]]:
        """A conversation's messages; `changes`: a group's membership changes as lines too."""
        states = ("contact", "request", "blocked")
        from p2pchat.offline import removed_contact_conv

        former = removed_contact_conv(self.db, self.key, who)
        if former is not None:  # a removed contact: the history is kept, by fingerprint
            return dm_history(self.views, self.db, former, limit)
        kind, name = self._which(who, states)
        if kind == "group":
            return self.groups.history(name, limit, changes=changes)
        contact = self.trust.contact_for(name, states=states)
        return self.conversations.history(contact.key, limit)

    def _which(self, who: str, states: tuple[str, ...]) -> tuple[str, str]:
        """A contact or a group: `#NAME` the group, `@NAME` the contact, a bare name that
        fits both refused (core.addressing)."""
        def is_contact(name: str) -> bool:
            try:
                self.trust.contact_for(name, states=states)
            except CommandError:
                return False
            return True

        try:
            return resolve(who, is_contact, self.groups.names)
        except Ambiguous as exc:
            raise CommandError("ambiguous", str(exc)) from None

    async def create_group(self, title: str) -> dict[str, Any]:
        return await self._storing(self.groups.create(title))

    async def invite_to_group(self, group: str, who: str) -> dict[str, Any]:
        return await self._storing(self.groups.invite(group, who))

    async def remove_from_group(self, group: str, member: str) -> dict[str, Any]:
        return await self._storing(self.groups.remove(group, member))

    async def admin_group(self, group: str, member: str) -> dict[str, Any]:
        return await self._storing(self.groups.admin(group, member))

    async def unadmin_group(self, group: str, member: str) -> dict[str, Any]:
        return await self._storing(self.groups.unadmin(group, member))

    async def transfer_group(self, group: str, member: str) -> dict[str, Any]:
        return await self._storing(self.groups.transfer(group, member))

    async def leave_group(self, group: str) -> dict[str, Any]:
        return await self._storing(self.groups.leave(group))

    async def accept_group(self, group: str) -> dict[str, Any]:
        return await self._storing(self.groups.accept(group))

    async def decline_group(self, group: str) -> dict[str, Any]:
        return await self._storing(self.groups.decline(group))

    async def forget_group(self, group: str) -> dict[str, Any]:
        return await self._storing(self.groups.forget_group(group))

    def list_groups(self) -> list[dict[str, Any]]:
        return self.groups.listing()

    def group_members(self, group: str) -> list[dict[str, Any]]:
        return self.groups.members(group)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": fingerprint(self.key),
            "public_key": self.key.hex(),
            "home": str(self.home),
            "listen": [format_addr(a) for a in self.listen_addresses],
            "links": sum(1 for link in self.links.by_peer.values() if not link.closed),
            "mdns": self.nearby.on,
            "relays": self.relays.view(),
            "presence": self.config.presence,
            "networks": self.networks.names(),
            "requests_dropped": self.trust.requests_dropped,
            "version": __version__,
            "pid": os.getpid(),  # what to stop: a background node has no terminal
            **self.health.view(),
        }

    def peers(self) -> dict[str, Any]:
        links = [{**view, **self.networks.peer_view(link.remote_key or b"")}
                 for link in list(self.links.connections)
                 if (view := self.views.link(link)) is not None]
        return {"links": links, "nearby": self.nearby.view(self.db.contacts.get),
                "requests": self.trust.requests(), "nearby_hidden": self.nearby.hidden()}
