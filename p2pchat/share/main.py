"""`p2pchat share-app`: re-pack what is installed, serve it until Ctrl-C (or SIGTERM), show
where, and say it on mDNS; and `--prepare`, which fetches other platforms' wheels first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from p2pchat.net.addresses import Address, format_addr, is_loopback
from p2pchat.share.catalog import Catalog, build_catalog, share_home
from p2pchat.share.page import WHEELS_PATH, render_page
from p2pchat.share.server import ShareServer

log = logging.getLogger("p2pchat.share")

# Not p2pchat's node or relay type: a browser of those must never mistake this for either.
SHARE_SERVICE_TYPE = "_p2pchat-app._tcp.local."
DEFAULT_LISTEN = "[::]:7745"


class ShareError(Exception):
    """Said in one line; exit status 1."""


def load_catalog(home: Path, say: Any = print) -> Catalog:
    say("Packing p2pchat and its dependencies from this installation...")
    catalog = build_catalog(home)
    for problem in catalog.problems:
        say(f"warning: {problem}")
    if not any(w.filename.startswith("p2pchat-") for w in catalog.wheels):
        raise ShareError("p2pchat itself could not be packed: nothing to share")
    say(f"{len(catalog.wheels)} wheels, for: " + ("; ".join(catalog.ready_for) or "nothing"))
    return catalog


async def serve_share(catalog: Catalog, listen: Address, *, mdns: bool,
                      say: Any = print) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    files = {WHEELS_PATH + w.filename: w.path for w in catalog.wheels}
    urls: list[str] = []
    server = ShareServer(files, lambda host: render_page(catalog, host or _host_of(urls)))
    discovery: Any = None
    try:
        from p2pchat.relay.main import reachable_addresses

        bound = await server.start(*listen)
        urls += [f"http://{format_addr(a)}/" for a in reachable_addresses(bound)]
        say(f"Sharing p2pchat {catalog.version} on {', '.join(format_addr(a) for a in bound)}")
        say(f"On the other machine, open {urls[0]} in a browser: it says what to type.")
        for other in urls[1:]:
            say(f"                        or {other}")
        _print_qr(urls[0], say)
        if mdns:
            discovery = await advertise(bound[0][1], catalog.version)
        say(f"mDNS: {'advertising ' + SHARE_SERVICE_TYPE if discovery else 'off'}")
        say("stop with Ctrl-C")
        sys.stdout.flush()  # a pipe or the journal gets the address now, not at exit
        await stop.wait()
    finally:
        if discovery is not None:
            with contextlib.suppress(Exception):
                await discovery.async_stop()
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    say(f"stopped; {server.served} files sent")


def _host_of(urls: list[str]) -> str:
    """The host[:port] of our first address, for a client that sent no Host header."""
    return urls[0].removeprefix("http://").rstrip("/") if urls else "localhost"


def _print_qr(url: str, say: Any) -> None:
    if is_loopback(url.removeprefix("http://").rsplit(":", 1)[0].strip("[]")):
        say(f"warning: {url} opens only on this machine (a loopback address), so there is no QR"
            " code: to share with others, serve on this machine's network address"
            f" (--listen HOST:PORT, or the default {DEFAULT_LISTEN})")
        return
    try:
        import segno
    except ImportError:
        return
    segno.make(url, error="m").terminal(compact=True)


async def advertise(port: int, version: str, interfaces: list[str] | None = None) -> Any:
    """The share on mDNS (None if that cannot start: serving goes on without it)."""
    from p2pchat.net.discovery import Discovery, DiscoveryError

    discovery = Discovery(service_type=SHARE_SERVICE_TYPE, interfaces=interfaces)
    try:
        await discovery.async_start(port, {"path": "/", "v": version[:32]},
                                    "p2pchat-app-" + os.urandom(4).hex())
    except (DiscoveryError, OSError) as exc:
        log.warning("mDNS advert is off: %s", exc)
        return None
    return discovery


def run_prepare(home: Path, say: Any = print) -> int:
    """Fetch every other target's wheels (online); returns the number of targets that failed."""
    from importlib import metadata

    from p2pchat.share.closure import requirements_of
    from p2pchat.share.prepare import all_targets, prepare

    try:
        dist = metadata.distribution("p2pchat")
    except metadata.PackageNotFoundError:
        raise ShareError("p2pchat is not installed: nothing to prepare") from None
    # Every requirement: prepare() evaluates the markers for each target, not for this machine.
    requirements = requirements_of(dist, frozenset(), every=True)
    return prepare(share_home(home) / "prepared", requirements, all_targets(), say)
