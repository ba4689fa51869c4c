"""mDNS / DNS-SD discovery on zeroconf's asyncio API: advertise our listening port, browse for
other nodes, keep a bounded, validated view of what they claim.

What an advert means (and does not) is in :mod:`p2pchat.core.presence`: it suggests where to
dial; the node's Noise handshake decides who a peer is.

Everything here runs on the event loop that called :meth:`Discovery.async_start`; zeroconf's
browser callbacks arrive on that loop too, and so does ``on_change``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ifaddr
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from p2pchat.core.presence import (
    RELAY_SERVICE_TYPE,
    SERVICE_TYPE,
    Advert,
    parse_advert,
)

__all__ = ["RELAY_SERVICE_TYPE", "SERVICE_TYPE", "Discovery", "DiscoveryError"]

log = logging.getLogger(__name__)

MAX_ADVERTS = 256  # adverts tracked (plus resolves in flight); the rest are ignored
RESOLVE_TIMEOUT = 3.0  # seconds to resolve one service's SRV/TXT/A/AAAA
# TTLs of our records. Hosts: zeroconf's default (120 s). Service records: much shorter than
# the 75-minute DNS-SD default so a node that vanished without a goodbye (crash, Wi-Fi gone)
# drops out of others' views within a few minutes rather than an hour.
HOST_TTL = 120
OTHER_TTL = 300
CACHE_FLUSH_GRACE = 1.5  # seconds; zeroconf expires flushed records 1 s after the new ones
REFRESH_INTERVAL = 5.0  # seconds between re-reads of known adverts from zeroconf's cache


class DiscoveryError(RuntimeError):
    """Discovery could not start (bad interface list, no socket, called twice...)."""


InterfaceList = list[str | int]


def _non_loopback_interfaces() -> tuple[InterfaceList, list[str]]:
    """(zeroconf interface list, addresses to advertise) for every non-loopback interface.

    IPv4 interfaces are given to zeroconf by address, IPv6 ones by interface index (what
    IPV6_JOIN_GROUP wants). Link-local IPv6 addresses are advertised without scope: a receiver
    qualifies them with the interface it heard them on.
    """
    interfaces: InterfaceList = []
    advertised: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):  # IPv4
                try:
                    address4 = ipaddress.IPv4Address(ip.ip)
                except ValueError:
                    continue
                if address4.is_loopback or address4.is_unspecified:
                    continue
                if ip.ip not in interfaces:
                    interfaces.append(ip.ip)
                if ip.ip not in advertised:
                    advertised.append(ip.ip)
            else:  # IPv6: (address, flowinfo, scope_id)
                try:
                    address6 = ipaddress.IPv6Address(ip.ip[0].split("%", 1)[0])
                except ValueError:
                    continue
                if address6.is_loopback or address6.is_unspecified or adapter.index is None:
                    continue
                if adapter.index not in interfaces:
                    interfaces.append(adapter.index)
                if str(address6) not in advertised:
                    advertised.append(str(address6))
    return interfaces, advertised


def local_addresses() -> list[str]:
    """This host's non-loopback addresses now: a node compares them to notice renumbering."""
    return _non_loopback_interfaces()[1]


def _explicit_interfaces(addresses: Sequence[str]) -> tuple[InterfaceList, list[str]]:
    interfaces: InterfaceList = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError as exc:
            raise DiscoveryError(f"not an IP address to bind discovery to: {text!r}") from exc
        if address.is_unspecified or address.is_multicast:
            raise DiscoveryError(f"cannot bind discovery to {text!r}; give an interface address")
        if str(address) not in interfaces:
            interfaces.append(str(address))
    if not interfaces:
        raise DiscoveryError("no interface addresses given to bind discovery to")
    return interfaces, [str(i) for i in interfaces]


def _ip_version(interfaces: InterfaceList) -> IPVersion:
    has_v6 = any(isinstance(i, int) or ":" in i for i in interfaces)
    has_v4 = any(isinstance(i, str) and ":" not in i for i in interfaces)
    if has_v4 and has_v6:
        return IPVersion.All
    return IPVersion.V6Only if has_v6 else IPVersion.V4Only


def _dialable(addresses: Sequence[str], interfaces: InterfaceList) -> list[str]:
    """The advert's addresses a socket can connect to. An IPv6 link-local address means nothing
    without the interface it is on (connect() fails with EINVAL): zeroconf names the interface
    when it heard the record on one; when it did not (an AAAA record heard over IPv4), the
    address is qualified with our IPv6 interface if we listen on exactly one, else dropped."""
    v6 = [i for i in interfaces if isinstance(i, int)]
    out: list[str] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            out.append(text)  # parse_advert judges it
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.is_link_local \
                and not address.scope_id:
            if len(v6) != 1:
                continue
            text = f"{text}%{v6[0]}"
        out.append(text)
    return out


def _consume_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("zeroconf announcement failed: %r", future.exception())


class Discovery:
    """Advertise this node and keep a view of the others (see module docstring).

    ``interfaces``: IP addresses to bind; None = every non-loopback interface (IPv4 and IPv6),
    rescanned on :meth:`async_update`. ``service_type``: what to advertise and browse
    (``_p2pchat._tcp.local.`` for nodes, :data:`RELAY_SERVICE_TYPE` for relays).
    ``on_change`` is called (on the event loop, without arguments) whenever :meth:`adverts`
    changes: an advert added, updated or removed.
    """

    def __init__(
        self,
        *,
        interfaces: Sequence[str] | None = None,
        on_change: Callable[[], None] | None = None,
        resolve_timeout: float = RESOLVE_TIMEOUT,
        max_adverts: int = MAX_ADVERTS,
        service_type: str = SERVICE_TYPE,
    ) -> None:
        self._service_type = service_type
        self._requested_interfaces = list(interfaces) if interfaces is not None else None
        self._on_change = on_change
        self._resolve_timeout_ms = max(1, int(resolve_timeout * 1000))
        self._max_adverts = max_adverts
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._requested_instance: str | None = None
        self._interfaces: InterfaceList = []
        self._advertised: list[str] = []
        self._adverts: dict[str, Advert] = {}
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._announcements: set[asyncio.Future[Any]] = set()
        self._full_logged = False
        self._refresher: asyncio.Task[None] | None = None

    # -- public API -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._aiozc is not None

    @property
    def registered_name(self) -> str | None:
        """Our full service name as registered (zeroconf may rename it on a conflict)."""
        return self._info.name if self._info is not None else None

    @property
    def advertised_addresses(self) -> list[str]:
        """The addresses our advert currently carries."""
        return list(self._advertised)

    def adverts(self) -> list[Advert]:
        """The current view of other nodes' adverts (ourselves excluded), by instance name."""
        return [self._adverts[key] for key in sorted(self._adverts)]

    async def async_start(
        self, port: int, properties: Mapping[str, str], instance_name: str
    ) -> None:
        """Bind, start browsing our service type and register our service for `port`.

        `instance_name` is the DNS-SD instance label (no dots, at most 63 UTF-8 bytes),
        e.g. from presence.public_instance_name / private_instance_name.
        """
        await self._open()
        try:
            await self._register(port, properties, instance_name)
        except BaseException:
            await self.async_stop()
            raise

    async def async_browse(self) -> None:
        """Only browse: keep a view of the adverts of our service type, advertise nothing
        (a node looking for relays)."""
        await self._open()

    async def _open(self) -> None:
        """Bind and start browsing."""
        if self._aiozc is not None:
            raise DiscoveryError("discovery is already running")
        self._interfaces, self._advertised = self._choose_interfaces()
        try:
            self._aiozc = AsyncZeroconf(
                interfaces=list(self._interfaces), ip_version=_ip_version(self._interfaces)
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise DiscoveryError(f"cannot open mDNS sockets: {exc}") from exc
        try:
            self._browser = AsyncServiceBrowser(
                self._aiozc.zeroconf, self._service_type,
                handlers=[self._on_service_state_change],
            )
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())
        except BaseException:
            await self.async_stop()
            raise

    async def async_update(
        self, port: int, properties: Mapping[str, str], instance_name: str
    ) -> None:
        """Re-advertise: new port, TXT (e.g. a name change), instance name, or addresses.

        With ``interfaces=None`` the interfaces are rescanned first, so calling this after the
        host's address changed re-binds and announces the new addresses (cache-flush records
        replace the old ones in peers' caches).
        """
        if self._aiozc is None or self._info is None:
            raise DiscoveryError("discovery is not running")
        aiozc = self._aiozc
        rebind_to: InterfaceList | None = None
        if self._requested_interfaces is None:
            interfaces, advertised = self._choose_interfaces()
            if set(interfaces) != set(self._interfaces):
                rebind_to = interfaces
            self._interfaces, self._advertised = interfaces, advertised
        # Order matters when the addresses changed: the registry must hold the new addresses
        # before the rebind re-announces it, or peers would see the old address refreshed and
        # would not let the new one's cache-flush bit evict it.
        if instance_name != self._requested_instance:
            old = self._info
            self._info = None
            with contextlib.suppress(Exception):
                self._track(await aiozc.async_unregister_service(old))
            if rebind_to is not None:
                await self._rebind(aiozc, rebind_to)
            await self._register(port, properties, instance_name)
            return
        info = self._build_info(self._info.name, port, properties, server=self._info.server)
        self._info = info
        self._track(await aiozc.async_update_service(info))
        if rebind_to is not None:
            await self._rebind(aiozc, rebind_to)
            # Peers that refreshed our old address less than a second before the new one
            # arrived keep it (RFC 6762 10.2); announcing again after that window evicts it.
            self._track(asyncio.ensure_future(self._reannounce_later(info)))

    async def async_stop(self) -> None:
        """Say goodbye (peers drop us at once), stop browsing and close the sockets."""
        aiozc, self._aiozc = self._aiozc, None
        browser, self._browser = self._browser, None
        refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.cancel()
        self._info = None
        for task in self._resolving.values():
            task.cancel()
        pending = list(self._resolving.values())
        self._resolving.clear()
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.async_cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if aiozc is not None:
            try:
                # Unregisters (goodbye packets) and closes the sockets.
                await aiozc.async_close()
            except Exception as exc:  # closing must not fail the caller's shutdown
                log.debug("error closing zeroconf: %r", exc)
        for future in list(self._announcements):
            future.cancel()
        self._announcements.clear()
        if self._adverts:
            self._adverts.clear()
            self._notify()

    # -- registration -----------------------------------------------------------------------

    def _choose_interfaces(self) -> tuple[InterfaceList, list[str]]:
        if self._requested_interfaces is not None:
            return _explicit_interfaces(self._requested_interfaces)
        interfaces, advertised = _non_loopback_interfaces()
        if not interfaces:
            log.warning("no non-loopback network interface; discovery falls back to 127.0.0.1")
            return ["127.0.0.1"], ["127.0.0.1"]
        return interfaces, advertised

    async def _rebind(self, aiozc: AsyncZeroconf, interfaces: InterfaceList) -> None:
        update = getattr(aiozc, "async_update_interfaces", None)
        if update is None:  # zeroconf without runtime rescans: keep the old sockets
            log.warning("this zeroconf cannot rebind; restart discovery to use new interfaces")
            return
        await update(interfaces=list(interfaces), ip_version=_ip_version(interfaces))

    def _build_info(
        self, full_name: str, port: int, properties: Mapping[str, str], server: str | None = None
    ) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            self._service_type,
            full_name,
            server=server,
            port=port,
            properties=dict(properties),
            parsed_addresses=list(self._advertised),
            host_ttl=HOST_TTL,
            other_ttl=OTHER_TTL,
        )

    async def _register(self, port: int, properties: Mapping[str, str], instance_name: str) -> None:
        assert self._aiozc is not None
        if not instance_name or "." in instance_name or len(instance_name.encode()) > 63:
            raise DiscoveryError("an instance name is 1-63 UTF-8 bytes without dots")
        if not 0 < port <= 0xFFFF:
            raise DiscoveryError(f"not a port: {port}")
        info = self._build_info(f"{instance_name}.{self._service_type}", port, properties)
        self._info = info
        self._requested_instance = instance_name
        # A name already taken (same identity running twice) gets renamed, not refused.
        self._track(await self._aiozc.async_register_service(info, allow_name_change=True))
        self._forget(info.key)

    async def _reannounce_later(self, info: AsyncServiceInfo) -> None:
        await asyncio.sleep(CACHE_FLUSH_GRACE)
        if self._aiozc is not None and self._info is info:
            self._track(await self._aiozc.async_update_service(info))

    def _track(self, awaitable: object) -> None:
        if isinstance(awaitable, asyncio.Future):
            self._announcements.add(awaitable)
            awaitable.add_done_callback(self._announcements.discard)
            awaitable.add_done_callback(_consume_result)

    # -- browsing ---------------------------------------------------------------------------

    def _on_service_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        # Called by zeroconf for every change it sees; nothing may escape from here.
        try:
            if self._aiozc is None or not isinstance(name, str):
                return
            key = name.lower()
            if self._info is not None and key == self._info.key:
                return
            if state_change is ServiceStateChange.Removed:
                self._cancel_resolve(key)
                self._forget(key)
                return
            tracked = self._adverts.keys() | self._resolving.keys()
            if key not in tracked and len(tracked) >= self._max_adverts:
                if not self._full_logged:
                    log.debug("ignoring adverts beyond %d", self._max_adverts)
                    self._full_logged = True
                return
            self._cancel_resolve(key)
            task = asyncio.get_running_loop().create_task(self._resolve(key, name))
            self._resolving[key] = task
        except Exception as exc:
            log.debug("ignoring a service change we could not handle: %r", exc)

    def _cancel_resolve(self, key: str) -> None:
        task = self._resolving.pop(key, None)
        if task is not None:
            task.cancel()

    async def _resolve(self, key: str, name: str) -> None:
        try:
            aiozc = self._aiozc
            if aiozc is None:
                return
            info = AsyncServiceInfo(self._service_type, name)
            if not await info.async_request(aiozc.zeroconf, self._resolve_timeout_ms):
                log.debug("no answer resolving %r", name)
                return
            self._apply(key, name, info)
            # A peer that moved re-announces its addresses with the cache-flush bit; zeroconf
            # reports the new address at once but drops the old one from its cache a second
            # later (RFC 6762 10.2) without telling the browser. Read the cache again after
            # that grace period so the stale address leaves our view too.
            await asyncio.sleep(CACHE_FLUSH_GRACE)
            info = AsyncServiceInfo(self._service_type, name)
            if info.load_from_cache(aiozc.zeroconf):
                self._apply(key, name, info)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("ignoring an advert we could not resolve (%r): %r", name, exc)
        finally:
            if self._resolving.get(key) is asyncio.current_task():
                del self._resolving[key]

    def _apply(self, key: str, name: str, info: AsyncServiceInfo) -> None:
        if self._resolving.get(key) is not asyncio.current_task():
            return  # superseded or removed meanwhile
        self._store(key, name, info)

    def _store(self, key: str, name: str, info: AsyncServiceInfo) -> None:
        advert = parse_advert(
            info.name, info.properties,
            _dialable(info.parsed_scoped_addresses(), self._interfaces), info.port or 0
        )
        if advert is None:
            log.debug("ignoring an unusable advert from %r", name)
            self._forget(key)
        elif self._adverts.get(key) != advert:
            self._adverts[key] = advert
            self._notify()

    async def _refresh_loop(self) -> None:
        """Re-read known adverts from the cache now and then: zeroconf tells the browser about
        new records but not about flushed or expired address records."""
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            aiozc = self._aiozc
            if aiozc is None:
                return
            for key, advert in list(self._adverts.items()):
                if key in self._resolving or key not in self._adverts:
                    continue  # a resolve in flight will store the fresh state
                try:
                    info = AsyncServiceInfo(self._service_type, advert.instance)
                    if info.load_from_cache(aiozc.zeroconf):
                        self._store(key, advert.instance, info)
                except Exception as exc:
                    log.debug("could not refresh %r from the cache: %r", advert.instance, exc)

    def _forget(self, key: str) -> None:
        if self._adverts.pop(key, None) is not None:
            self._notify()

    def _notify(self) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change()
        except Exception:
            log.exception("discovery on_change callback failed")
