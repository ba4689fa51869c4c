"""Relays: staying attached to the relays the user named (--relay) or mDNS found.

Each relay has one task that connects, attaches and, when the relay restarts or vanishes,
reconnects with jittered exponential backoff. The link table asks `attached()` for the relays
that can carry a link right now (net/relay_connection.py does the carrying); a relay that attaches
wakes the dialer so that peers waiting for a path get one at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Callable
from typing import Any

from p2pchat.core.error_words import in_words
from p2pchat.core.identity import Identity
from p2pchat.core.session import Session
from p2pchat.net.addresses import Address, format_addr
from p2pchat.net.relay_connection import RELAY_SESSION, OnInbound, RelayAddress, RelayConnection
from p2pchat.node.config import NodeConfig
from p2pchat.node.links import Spawn
from p2pchat.waits import woken

log = logging.getLogger("p2pchat.node")

MAX_MDNS_RELAYS = 4  # relays found by mDNS that we attach to (adverts are anyone's)
BACKOFF_BASE = 0.5
# A relay that comes back is found within a few seconds (a redial is a TCP connect and one
# handshake, cheap for both sides): at 30 s a node reattached up to 23 s after its relay's
# restart (issue 23, 18: dave's link waited 25 s); at 5 s, 2.5 s at most in the same run.
BACKOFF_CAP = 5.0
# A relay connection lost after this long attached (or after carrying anything) was a working
# one: reconnect at once. One lost sooner grows the backoff, so a relay that attaches and then
# drops us every time is not hammered.
PROVEN_AFTER = 10.0
# A relay found by mDNS that never attached after this many tries in a row is dropped from the
# list (an advert another run left in the caches: trial 2, B17) until its advert changes or
# GIVE_UP_FOR seconds pass. One that attached once is tried on: it may be restarting.
MDNS_TRIES = 3
GIVE_UP_FOR = 300.0
MAX_GIVEN_UP = 64


class _Relay:
    """One relay we keep attached to, and where it may be."""

    def __init__(self, addresses: list[Address], key: bytes | None, found_by: str) -> None:
        self.addresses = addresses
        self.key = key
        self.found_by = found_by  # "config" or "mdns"
        self.conn: RelayConnection | None = None
        self.gone = False  # its advert went away: stop once it is not attached
        self.last_error: str | None = None
        self.ever_attached = False
        self.wake = asyncio.Event()


def _attached(relay: _Relay) -> bool:
    return relay.conn is not None and relay.conn.attached


class Relays:
    def __init__(
        self,
        identity: Identity,
        config: NodeConfig,
        *,
        spawn: Spawn,
        ik_timestamp: Callable[[bytes], int],
        accept: OnInbound,
        on_attached: Callable[[], None],
        on_change: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
        psk_for: Callable[[bytes | None, bool], tuple[bytes, ...]] = lambda key, configured: (),
    ) -> None:
        self._identity = identity
        self._config = config
        self._spawn = spawn
        self._ik_timestamp = ik_timestamp
        self._accept = accept
        self._on_attached = on_attached
        self._on_change = on_change  # a relay attached or was lost: the node says so
        self._rng = rng or random.Random()
        self._psk_for = psk_for  # a network's PSK for the relay, if any (node/networks.py)
        self._relays: list[_Relay] = []
        # mDNS relays that never answered, by key: (their advert's addresses, when we gave up)
        self._given_up: dict[bytes, tuple[tuple[Address, ...], float]] = {}
        self._discovery: Any = None
        self._stopping = False

    async def start(self) -> None:
        """Attach to the relays given by `--relay` (and those mDNS finds, as they come)."""
        for relay in self._config.relays:
            same = next((r for r in self._relays if relay.key is not None and r.key == relay.key),
                        None)
            if same is not None:  # another address of a relay already listed
                same.addresses.append(relay.address)
            else:
                self._add(_Relay([relay.address], relay.key, "config"))
        if self._config.relays or self._config.mdns:
            self._spawn(self._ticker(), "relay-ticker")
        if self._config.mdns and self._config.found_relays and \
                self._config.presence != "private":
            # Attaching proves our key to the relay: a private node uses only relays it was
            # given (docs/privacy.md); found-relays off asks for that alone (trial 11, B1).
            await self._browse()

    async def stop(self) -> None:
        """Detach from every relay."""
        self._stopping = True
        if self._discovery is not None:
            with contextlib.suppress(Exception):
                await self._discovery.async_stop()
        for relay in self._relays:
            relay.wake.set()
            if relay.conn is not None:
                relay.conn.close("node shutting down")

    def attached(self) -> list[RelayConnection]:
        """The relays that can carry a link now, in the order they were added."""
        return [r.conn for r in self._relays if r.conn is not None and r.conn.attached]

    def view(self) -> list[dict[str, Any]]:
        """The relays as `status` shows them (docs/api.md)."""
        out = []
        for relay in self._relays:
            conn = relay.conn
            state = "attached" if conn is not None and conn.attached else (
                "connecting" if conn is not None and conn.link is not None
                and not conn.link.closed else "waiting")
            out.append({
                "relay": conn.label if conn is not None else
                str(RelayAddress(relay.addresses[0], relay.key)),
                "found_by": relay.found_by,
                "state": state,
                "links": len(conn.streams) if conn is not None and conn.attached else 0,
                "last_error": relay.last_error,
            })
        return out

    # ------------------------------------------------------------ keeping attached

    def _add(self, relay: _Relay) -> None:
        self._relays.append(relay)
        self._spawn(self._keep(relay), "relay")

    def _session(self, key: bytes | None, configured: bool = True) -> Session:
        # IK when we know the relay's key (pinned, or its advert's claim: the handshake checks
        # it), else XX.
        return Session(identity=self._identity, initiator=True,
                       now=asyncio.get_running_loop().time(), remote_key=key,
                       ik_timestamp=self._ik_timestamp(key) if key is not None else 0,
                       config=RELAY_SESSION, psks=self._psk_for(key, configured))

    async def _keep(self, relay: _Relay) -> None:
        failures = 0
        while not self._stopping and not relay.gone:
            address = relay.addresses[failures % len(relay.addresses)]
            conn = RelayConnection(RelayAddress(address, relay.key),
                                   session=functools.partial(
                                       self._session, configured=relay.found_by == "config"),
                                   on_inbound=self._accept, on_change=self._changed,
                                   rng=self._rng)
            relay.conn = conn
            try:
                reason = await conn.run(self._config.connect_timeout)
            except (OSError, TimeoutError) as exc:
                reason = f"cannot connect: {in_words(exc)}"
            relay.last_error = reason
            relay.ever_attached = relay.ever_attached or conn.attached_at is not None
            if conn.proven(PROVEN_AFTER):  # it worked: a restart is worth trying again soon
                log.info("relay %s lost: %s", conn.label, reason)
                failures = 0
            elif conn.max_data:  # attached, then lost before it did anything: back off
                log.info("relay %s lost: %s", conn.label, reason)
                failures += 1
            else:
                log.debug("relay %s: %s", format_addr(address), reason)
                failures += 1
            if relay.found_by == "mdns" and not relay.ever_attached and failures >= MDNS_TRIES:
                self._give_up(relay)
                break
            if relay.gone:  # a duplicate dropped while this connection ended
                break
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(failures, 16))
            relay.wake.clear()
            await woken(relay.wake, delay * (0.5 + self._rng.random() / 2))
        if relay in self._relays:  # an mDNS relay whose advert went: a new advert adds it again
            self._relays.remove(relay)

    def _give_up(self, relay: _Relay) -> None:
        """An mDNS relay that never answered: off the list until its advert changes."""
        log.info("the relay advertised at %s does not answer (%s): not listed until its"
                 " advert changes", format_addr(relay.addresses[0]), relay.last_error)
        if relay.key is not None:
            if len(self._given_up) >= MAX_GIVEN_UP:
                del self._given_up[next(iter(self._given_up))]
            self._given_up[relay.key] = (tuple(relay.addresses),
                                         asyncio.get_running_loop().time())

    def _changed(self) -> None:
        self._drop_duplicates()
        if self.attached():
            self._on_attached()
        self._on_change()

    def _drop_duplicates(self) -> None:
        """One relay per key: the relay replaces a key's older connection with its newer one,
        so two of ours (two addresses of one relay, or --relay and its advert) would push each
        other out for ever. Looking only while both were attached lost a race: the relay closes
        the older before it answers the newer, and when the older's end came first neither saw
        the other, again at each backoff (a node took over 15 s to settle). So a duplicate goes
        as soon as its key is known (pinned, or proven by a handshake), attached or not: the
        later one goes (a --relay stays over an advert) and hands the earlier its addresses,
        tried in turn when one fails (the other address may be the one that answers)."""
        kept: dict[bytes, _Relay] = {}
        for relay in list(self._relays):
            key = relay.conn.key if relay.conn is not None else relay.key
            if key is None or relay.gone:
                continue
            keep = kept.setdefault(key, relay)
            if keep is relay:
                continue
            keep.addresses.extend(a for a in relay.addresses if a not in keep.addresses)
            relay.gone = True
            relay.wake.set()
            if relay.conn is not None:
                relay.conn.close("already attached to this relay at another address")
            if not _attached(keep):
                keep.wake.set()  # it was pushed out by the one going: back at once

    async def _ticker(self) -> None:
        while not self._stopping:
            await asyncio.sleep(1.0)
            now = asyncio.get_running_loop().time()
            for relay in self._relays:
                if relay.conn is not None:
                    relay.conn.tick(now)

    # ------------------------------------------------------------ relays found by mDNS

    async def _browse(self) -> None:
        from p2pchat.core.presence import RELAY_SERVICE_TYPE
        from p2pchat.net.discovery import Discovery  # zeroconf only when mDNS is on

        try:
            self._discovery = Discovery(interfaces=self._config.mdns_interfaces,
                                        on_change=self._on_adverts,
                                        service_type=RELAY_SERVICE_TYPE)
            await self._discovery.async_browse()
        except Exception as exc:
            log.warning("looking for relays by mDNS is off: %s", exc)
            self._discovery = None

    def _on_adverts(self) -> None:
        """Attach to relays that advertise a key (IK then proves it), a few at most."""
        if self._discovery is None:
            return
        seen: set[bytes] = set()
        for advert in self._discovery.adverts():
            key = advert.public_key
            if key is None or not advert.addresses or key == self._identity.public_key:
                continue
            seen.add(key)
            known = next((r for r in self._relays if r.key == key
                          or (r.conn is not None and r.conn.key == key)), None)
            if known is not None:
                if known.found_by == "mdns":
                    known.addresses = list(advert.addresses)
                    known.gone = False
                continue
            if sum(1 for r in self._relays if r.found_by == "mdns") >= MAX_MDNS_RELAYS:
                continue
            given_up = self._given_up.get(key)
            if given_up is not None and given_up[0] == tuple(advert.addresses) and \
                    asyncio.get_running_loop().time() - given_up[1] < GIVE_UP_FOR:
                continue  # the same advert of a relay that did not answer
            log.info("found a relay by mDNS at %s", format_addr(advert.addresses[0]))
            self._add(_Relay(list(advert.addresses), key, "mdns"))
        for relay in self._relays:
            if relay.found_by == "mdns" and relay.key not in seen:
                relay.gone = True
                if relay.conn is None or not relay.conn.attached:
                    relay.wake.set()
