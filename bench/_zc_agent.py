"""Bare python-zeroconf, for the discovery benchmark's baseline (run inside a namespace).

    python _zc_agent.py register --bind ADDR --name NAME [--lifetime S]
    python _zc_agent.py browse --bind ADDR [--lifetime S]

Prints JSON lines with time.monotonic() stamps (one clock for every namespace on the machine):
register: {"event": "process", "t"} at start, {"event": "register_call", "t"} just before
async_register_service, {"event": "registered", "t"} when it returns (probing done);
browse: {"event": "ready", "t"}, then {"event": "seen", "name", "t_added", "t", "addresses"} for
each service resolved (t = resolved). Both stop at end of stdin, on "stop", or after --lifetime.
"""

from __future__ import annotations

import time

T_PROCESS = time.monotonic()  # before the heavy imports: the process has started

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from zeroconf import IPVersion, ServiceStateChange, Zeroconf  # noqa: E402
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf  # noqa: E402

SERVICE_TYPE = "_p2pbench._tcp.local."
PORT = 7000


def emit(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def wait_for_stop(lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def read_stdin() -> None:  # daemon thread: never keeps the process alive
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read_stdin, daemon=True).start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=lifetime)


async def register(bind: str, name: str, lifetime: float) -> None:
    emit({"event": "process", "t": T_PROCESS})
    aiozc = AsyncZeroconf(interfaces=[bind], ip_version=IPVersion.V4Only)
    info = AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=PORT,
                            properties={"v": "1"}, parsed_addresses=[bind])
    emit({"event": "register_call", "t": time.monotonic()})
    announced = await aiozc.async_register_service(info)
    emit({"event": "registered", "t": time.monotonic()})
    await wait_for_stop(lifetime)
    with contextlib.suppress(Exception):
        await announced
    await aiozc.async_unregister_service(info)
    await aiozc.async_close()


async def browse(bind: str, lifetime: float) -> None:
    aiozc = AsyncZeroconf(interfaces=[bind], ip_version=IPVersion.V4Only)
    tasks: set[asyncio.Task[None]] = set()

    async def resolve(name: str, t_added: float) -> None:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if await info.async_request(aiozc.zeroconf, 3000):
            emit({"event": "seen", "name": name, "t_added": t_added, "t": time.monotonic(),
                  "addresses": info.parsed_addresses()})

    def on_change(zeroconf: Zeroconf, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            task = asyncio.get_running_loop().create_task(resolve(name, time.monotonic()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(aiozc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    emit({"event": "ready", "t": time.monotonic()})
    await wait_for_stop(lifetime)
    await browser.async_cancel()
    for task in list(tasks):
        task.cancel()
    await aiozc.async_close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("register", "browse"))
    parser.add_argument("--bind", required=True)
    parser.add_argument("--name", default="bench")
    parser.add_argument("--lifetime", type=float, default=40.0)
    args = parser.parse_args()
    if args.mode == "register":
        asyncio.run(register(args.bind, args.name, args.lifetime))
    else:
        asyncio.run(browse(args.bind, args.lifetime))


if __name__ == "__main__":
    main()
