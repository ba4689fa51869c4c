"""Discovery glue: our mDNS advert, the adverts we hear, and the host's own addresses.

An advert only ever suggests where to dial; the handshake decides who answers. This part turns
what mDNS says into the three things the rest of the node asks: where might a key be
(`addresses_of`), has a link's path gone stale (`is_stale`), and who is nearby (`view`). It also
follows the host being renumbered and the daily rotation of the private tag, and re-advertises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from p2pchat.clock import wall_time
from p2pchat.core.identity import fingerprint
from p2pchat.core.presence import Advert as HeardAdvert
from p2pchat.core.presence import (
    day_number,
    private_instance_name,
    private_properties,
    public_instance_name,
    public_properties,
)
from p2pchat.net.addresses import Address, format_addr, is_loopback
from p2pchat.node.config import NodeConfig
from p2pchat.node.links import Spawn
from p2pchat.node.networks import Networks, member_view
from p2pchat.node.peer_state import PeerLink
from p2pchat.storage.store import Contact

log = logging.getLogger("p2pchat.node")

Advert = tuple[int, dict[str, str], str, int]  # port, TXT, instance name, day


class Nearby:
    def __init__(
        self,
        key: bytes,
        name: str,
        config: NodeConfig,
        *,
        spawn: Spawn,
        contacts: Callable[[], list[Contact]],
        on_moved: Callable[[], None],
        on_change: Callable[[], None],
        wake_dialer: Callable[[], None],
        new_port: Callable[[], Awaitable[int | None]],
        networks: Networks | None = None,
    ) -> None:
        self._key = key
        self._name = name
        self._config = config
        self._spawn = spawn
        self._contacts = contacts
        self._on_moved = on_moved
        self._on_change = on_change  # what is advertised nearby changed
        self._wake_dialer = wake_dialer
        self._new_port = new_port
        self._networks = networks
        self.discovery: Any = None
        self._advert: Advert | None = None
        self._local_addrs: set[str] = set()
        self._stopping = False

    @property
    def on(self) -> bool:
        """Whether mDNS discovery is running."""
        return self.discovery is not None

    def visible_to(self) -> str:
        """Who our advert shows us to, as `_make_advert` builds it: "everyone" (our name and
        key), "contacts" (a private tag), "networks" (sealed entries of the networks we are
        in), "nobody" (only waiting for, or refused by, a network: no entries at all), "off"
        (no mDNS). `status` says this, not the presence asked for (trial 2, 4)."""
        if not self.on:
            return "off"
        if self._networks is not None and self._networks.joined:
            return "networks" if self._networks.names() else "nobody"
        return "contacts" if self._config.presence == "private" else "everyone"

    async def start(self, port: int) -> None:
        """Advertise `port` and start listening to adverts; chat works without, so errors only
        turn discovery off."""
        from p2pchat.net.discovery import Discovery  # zeroconf only when mDNS is on

        try:
            self.discovery = Discovery(interfaces=self._config.mdns_interfaces,
                                       on_change=self._on_change)
            self._advert = self._make_advert(port)
            _, properties, instance, _ = self._advert
            await self.discovery.async_start(port, properties, instance)
        except Exception as exc:
            log.warning("mDNS discovery is off: %s", exc)
            self.discovery = None
            return
        if self._config.mdns_interfaces is None:
            from p2pchat.net.discovery import local_addresses

            self._local_addrs = set(local_addresses())
        self._spawn(self._watch_network(), "watch-network")

    async def stop(self) -> None:
        """Withdraw our advert and stop listening to others."""
        self._stopping = True
        if self.discovery is not None:
            with contextlib.suppress(Exception):
                await self.discovery.async_stop()

    def rename_self(self, name: str) -> None:
        """Our own name; a public advert is updated to carry it."""
        self._name = name
        if self.discovery is not None and self._advert is not None:
            self._advert = self._make_advert(self._advert[0])
            self._spawn(self._readvertise(), "mdns-rename")

    async def _readvertise(self) -> None:
        assert self.discovery is not None and self._advert is not None
        port, properties, instance, _ = self._advert
        try:
            await self.discovery.async_update(port, properties, instance)
        except Exception as exc:
            log.warning("could not update the mDNS advert: %s", exc)

    @property
    def _rotating(self) -> bool:
        """Private presence and networks: adverts must not be linkable across days."""
        return self._config.presence == "private" or bool(self._networks and self._networks.joined)

    @property
    def _port_rotates(self) -> bool:
        """Private presence only: the user asked not to be linkable, so the port changes with the
        tag. In a network the port stays (our IP address links adverts on a LAN anyway, and an
        address a friend typed or `/id` printed must keep working: trial1 B7)."""
        return self._config.presence == "private"

    async def readvertise(self) -> None:
        """Networks joined or left: a new advert under a new instance name (a new port only
        with private presence)."""
        if self.discovery is None or self._advert is None:
            return
        port = self._advert[0]
        if self._port_rotates:
            with contextlib.suppress(OSError):
                port = await self._new_port() or port
        self._advert = self._make_advert(port)
        await self._readvertise()
        self._wake_dialer()

    def _make_advert(self, port: int) -> Advert:
        day = day_number(wall_time())
        if self._networks is not None and self._networks.joined:
            # Only sealed entries: outsiders see random bytes under a random instance name.
            return port, self._networks.properties(day), private_instance_name(), day
        if self._config.presence == "private":
            # A fresh random instance name with each tag, so old and new can't be linked.
            return port, private_properties(self._key, day), private_instance_name(), day
        return (port, public_properties(self._key, self._name),
                public_instance_name(self._key), day)

    async def _watch_network(self) -> None:
        """Follow renumbering (a new DHCP lease, another hotspot) and the daily private tag."""
        from p2pchat.net.discovery import local_addresses

        while not self._stopping:
            await asyncio.sleep(1.0)
            assert self._advert is not None
            moved = False
            if self._config.mdns_interfaces is None:
                current = set(local_addresses())
                moved = current != self._local_addrs
                self._local_addrs = current
            new_day = day_number(wall_time()) != self._advert[3]
            if not (moved or (new_day and self._rotating)):
                continue
            if moved:
                log.info("local addresses changed to %s", ", ".join(sorted(current)) or "none")
                self._on_moved()
            port = self._advert[0]
            if new_day and self._port_rotates:
                # A port kept across days would link adverts the private tag keeps apart.
                try:
                    port = await self._new_port() or port
                except OSError as exc:
                    log.warning("could not listen on a fresh port: %s", exc)
            rotate = new_day or port != self._advert[0]
            self._advert = self._make_advert(port) if rotate else self._advert
            _, properties, instance, _ = self._advert
            try:
                await self.discovery.async_update(port, properties, instance)
            except Exception as exc:
                log.warning("could not update the mDNS advert: %s", exc)
            self._wake_dialer()

    # ------------------------------------------------------------ what the node asks

    def addresses_of(self, key: bytes) -> list[Address]:
        """Where adverts say `key` may be (public adverts name it; private ones match its tag)."""
        if self.discovery is None:
            return []
        day = day_number(wall_time())
        nets = self._networks
        return [address for advert in self.discovery.adverts()
                if advert.may_be(key, day) or (nets is not None and nets.claims(advert, key, day))
                for address in advert.addresses]

    def is_stale(self, link: PeerLink) -> bool:
        """A link whose peer now advertises only other addresses, or whose local address went.

        Such a TCP connection usually dies silently; waiting for the idle timeout would leave a
        moved peer unreachable for half a minute. Adverts only make us dial: the handshake on
        the new path must succeed before the old link is dropped.
        """
        if link.remote_key is None:
            return False
        local_ip = link.local_ip
        if self._local_addrs and local_ip and local_ip not in self._local_addrs \
                and not is_loopback(local_ip):
            return True
        advertised = self.addresses_of(link.remote_key)
        return bool(advertised) and all(host != link.address[0] for host, _ in advertised)

    def adverts(self) -> list[HeardAdvert]:
        """Every advert heard (ourselves excluded); [] with discovery off."""
        return self.discovery.adverts() if self.discovery is not None else []

    def hidden(self) -> int:
        """Adverts of networks we can't open: how many, and nothing else about them."""
        if self.discovery is None:
            return 0
        day = day_number(wall_time())
        nets = self._networks
        return sum(1 for advert in self.discovery.adverts()
                   if advert.sealed and (nets is None or nets.member(advert, day) is None))

    def view(self, contact_of: Callable[[bytes], Contact | None],
             linked_at: Collection[str] = ()) -> list[dict[str, Any]]:
        """Who is advertising nearby, named where we know them. `linked_at`: where the peers
        we have links to listen ("HOST:PORT"); an advert we cannot name sitting there is one of
        theirs (made inside a network since left, still cached), not another node."""
        if self.discovery is None:
            return []
        day = day_number(wall_time())
        contacts = [c for c in self._contacts() if c.state == "contact"]
        nearby = []
        for advert in self.discovery.adverts():
            if self._is_ours(advert):
                continue  # an advert of ours under an older instance name (trial 2, B4)
            if advert.sealed and self._networks is not None:
                member = self._networks.member(advert, day)
                if member is not None:
                    contact = contact_of(member[1])
                    nearby.append(member_view(
                        member, [format_addr(a) for a in advert.addresses],
                        contact.name if contact else None,
                        contact is not None and contact.state == "contact"))
                continue  # another network's member, or ours in another: nothing to show
            key = advert.public_key
            if key is None:  # a private advert: recognisable only by those who know the key
                key = next((c.key for c in contacts if advert.may_be(c.key, day)), None)
            where = [format_addr(a) for a in advert.addresses]
            if key is None and any(a in linked_at for a in where):
                continue  # a linked peer's old advert: it is listed under its link (issue 23)
            contact = contact_of(key) if key is not None else None
            nearby.append({
                "fingerprint": fingerprint(key) if key is not None else None,
                "name": contact.name if contact else (advert.name if key is not None else None),
                "addresses": [format_addr(a) for a in advert.addresses],
                "contact": contact is not None and contact.state == "contact",
                "private": advert.public_key is None,
            })
        return one_per_node(nearby)

    def _is_ours(self, advert: HeardAdvert) -> bool:
        """An advert at our own port on one of our addresses is ours: one a run of ours that
        was killed left in the caches (a private advert's instance name is random), or our
        previous instance name, still cached. Only one socket listens on an address and port."""
        if self._advert is None or self.discovery is None:
            return False
        port = self._advert[0]
        ours = self._local_addrs | set(self.discovery.advertised_addresses)
        return any(p == port and (host in ours or is_loopback(host))
                   for host, p in advert.addresses)


def one_per_node(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries at exactly the same addresses and ports are one node (a stale advert of an
    earlier run beside its current one): keep one, the one we recognise if any."""
    kept: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in entries:
        where = tuple(sorted(entry["addresses"]))
        if not where:
            continue
        before = kept.get(where)
        if before is None or (before.get("fingerprint") is None
                              and entry.get("fingerprint") is not None):
            kept[where] = entry
    return [e for e in entries
            if not e["addresses"] or kept.get(tuple(sorted(e["addresses"]))) is e]
