"""Test agent run inside a namespace: runs a Discovery, prints what it sees as JSON lines.

    python discovery_agent.py --key HEX --port N [--name NAME] [--bind ADDR ...] [--lifetime S]
                              [--relays]

Output lines: {"event": "started"|"updated", "addresses": [...], "instance": ...},
{"event": "adverts", "adverts": [{"fp", "name", "addresses", "instance"}]}, {"event": "stopped"}.
Commands on stdin: "update" (re-advertise, rescanning interfaces when not bound explicitly),
"stop" (goodbye and exit). End of input also stops; so does --lifetime running out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
from typing import Any

from p2pchat.core import presence
from p2pchat.core.identity import fingerprint
from p2pchat.net.discovery import Discovery


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True, help="Ed25519 public key, hex")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="agent")
    parser.add_argument("--bind", action="append", help="address to bind (default: all)")
    parser.add_argument("--lifetime", type=float, default=60.0)
    parser.add_argument("--relays", action="store_true",
                        help="advertise and browse the relay service type instead")
    args = parser.parse_args()
    key = bytes.fromhex(args.key)
    properties = presence.public_properties(key, args.name)
    instance = presence.public_instance_name(key)

    discovery: Discovery

    def report() -> None:
        emit(
            {
                "event": "adverts",
                "adverts": [
                    {
                        "fp": fingerprint(a.public_key) if a.public_key else None,
                        "name": a.name,
                        "addresses": [list(pair) for pair in a.addresses],
                        "instance": a.instance,
                    }
                    for a in discovery.adverts()
                ],
            }
        )

    service = presence.RELAY_SERVICE_TYPE if args.relays else presence.SERVICE_TYPE
    discovery = Discovery(interfaces=args.bind, on_change=report, service_type=service)
    await discovery.async_start(args.port, properties, instance)
    emit(
        {
            "event": "started",
            "addresses": discovery.advertised_addresses,
            "instance": discovery.registered_name,
        }
    )
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:  # a daemon thread: never keeps the process alive
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read_stdin, daemon=True).start()

    async def commands() -> None:
        while True:
            line = await lines.get()
            command = line.strip()
            if not line or command == "stop":
                return
            if command == "update":
                await discovery.async_update(args.port, properties, instance)
                emit({"event": "updated", "addresses": discovery.advertised_addresses})

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(commands(), timeout=args.lifetime)
    await discovery.async_stop()
    emit({"event": "stopped"})


if __name__ == "__main__":
    asyncio.run(main())
