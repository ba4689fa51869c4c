"""Run a relay in the foreground until SIGINT or SIGTERM: server, mDNS advert, status file."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from p2pchat.core.identity import Identity
from p2pchat.core.presence import RELAY_SERVICE_TYPE, public_instance_name, public_properties
from p2pchat.core.relay import RelayLimits
from p2pchat.net.addresses import Address, format_addr, is_loopback
from p2pchat.relay.server import RelayServer
from p2pchat.relay.status import write_status

log = logging.getLogger("p2pchat.relay")

STATUS_REFRESH = 30.0  # seconds: rewrite an unchanged status this often, to show it is alive


def reachable_addresses(bound: list[Address]) -> list[Address]:
    """Where clients can reach us: a wildcard bind stands for every non-loopback address."""
    out: list[Address] = []
    for host, port in bound:
        if host in ("0.0.0.0", "::"):
            from p2pchat.net.discovery import local_addresses

            # Link-local IPv6 needs a scope that differs on every client: no use in a pasted line.
            candidates = [a for a in local_addresses() if (":" in a) == (host == "::")
                          and not ipaddress.ip_address(a).is_link_local]
            hosts = candidates or (["127.0.0.1"] if host == "0.0.0.0" else [])
        else:
            hosts = [host]
        out.extend((h, port) for h in hosts if (h, port) not in out)
    # Loopback last: it only helps a client on this same machine.
    return sorted(out, key=lambda a: is_loopback(a[0]))


class _StatusWriter:
    """Rewrites the status file when a count changed (at most once per tick) or now and then."""

    def __init__(self, home: Path, server: RelayServer, base: dict[str, Any]) -> None:
        self.home, self.server, self.base = home, server, base
        self._last: dict[str, object] | None = None
        self._written_at = 0.0

    def __call__(self, running: bool = True) -> None:
        snapshot = self.server.state.snapshot()
        now = time.time()
        if running and snapshot == self._last and now - self._written_at < STATUS_REFRESH:
            return
        write_status(self.home, {**self.base, **snapshot, "running": running,
                                 "updated_at": now})
        self._last, self._written_at = snapshot, now


async def serve_relay(home: Path, identity: Identity, limits: RelayLimits, *,
                      listen: tuple[Address, ...], allow: frozenset[bytes] | None,
                      mdns: bool, network_psks: tuple[bytes, ...] = (),
                      mdns_interfaces: list[str] | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = RelayServer(identity, limits, listen=listen, allow=allow, network_psks=network_psks)
    discovery: Any = None
    status: _StatusWriter | None = None
    try:
        await server.start()
        fingerprint = identity.fingerprint
        reachable = reachable_addresses(server.listen_addresses)
        paste = [f"{format_addr(a)}#{fingerprint}" for a in reachable]
        status = _StatusWriter(home, server, {
            "pid": os.getpid(), "fingerprint": fingerprint, "started_at": time.time(),
            "listen": [format_addr(a) for a in server.listen_addresses], "relay": paste,
            "private": allow is not None, "mdns": mdns, "networks": len(network_psks),
        })
        server.on_tick = status
        status()
        print(f"p2pchat relay {fingerprint}", flush=True)
        print(f"listening on {', '.join(format_addr(a) for a in server.listen_addresses)}")
        if allow is not None:
            print(f"private: only {len(allow)} allowed key(s) may attach")
        if network_psks:
            print(f"network: only members of {len(network_psks)} network(s) may attach")
        if paste:
            print(f"paste into a node: --relay {paste[0]}")
            for other in paste[1:]:
                print(f"               or: --relay {other}")
        if mdns:
            discovery = await _advertise(identity, server.listen_addresses, mdns_interfaces)
        print(f"mDNS: {'advertising ' + RELAY_SERVICE_TYPE if discovery else 'off'}")
        print("stop with Ctrl-C", flush=True)
        await stop.wait()
    finally:
        if discovery is not None:
            with contextlib.suppress(Exception):
                await discovery.async_stop()
        await server.stop()
        if status is not None:
            with contextlib.suppress(OSError):
                status(running=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _advertise(identity: Identity, bound: list[Address],
                     interfaces: list[str] | None) -> Any:
    from p2pchat.net.discovery import Discovery, DiscoveryError

    discovery = Discovery(service_type=RELAY_SERVICE_TYPE, interfaces=interfaces)
    port = bound[0][1]
    try:
        await discovery.async_start(port, public_properties(identity.public_key, "relay"),
                                    public_instance_name(identity.public_key))
    except (DiscoveryError, OSError) as exc:
        log.warning("mDNS advert is off: %s", exc)
        return None
    return discovery
