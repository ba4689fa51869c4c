"""Run a node and its control API in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from p2pchat import settings
from p2pchat.control import ControlServer
from p2pchat.core.identity import Identity
from p2pchat.node import Node, NodeConfig


async def serve(home: Path, identity: Identity, name: str, config: NodeConfig,
                ready: asyncio.Event | None = None) -> None:
    node = Node(home, identity, name, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    control = ControlServer(node)
    try:
        await node.start()
        await control.start()
        status = node.status()
        print(f"p2pchat node for {status['name']} ({status['fingerprint']})", flush=True)
        print(f"listening on {', '.join(status['listen'])}"
              f"{settings.said_from(status.get('listen_from'))}", flush=True)
        print(f"mDNS: {settings.mdns_words(status)}{settings.said_from(status.get('mdns_from'))}",
              flush=True)
        if status.get("port_changed_from"):  # said at start, not only logged (trial 4, 16)
            print(f"a new port: {status['port_changed_from']} (last time's) was taken; friends"
                  " who typed your address need the new one", flush=True)
        print("stop with Ctrl-C", flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await control.stop()
        await node.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
