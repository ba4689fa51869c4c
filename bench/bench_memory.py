"""Resident memory of a node holding 50 live links (the `memory` object).

    .venv/bin/python bench/bench_memory.py [--quick] [--links 50]

One `p2pchat node` process on 127.0.0.1 (`--no-mdns`) gets 50 contacts through the control API.
This process then plays those 50 contacts: for each, a real core `Session` over TCP (IK, as a
contact dials), each from its own loopback source address (127.0.0.x: the node allows only a
few links per address), held open while the node's resident set size (VmRSS, /proc) is read,
once the node's `status` counts 50 links. Baseline in the same run: the same node's VmRSS with
its 50 contacts and no link, just before. Prints one JSON object; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit
from _nodes import rss_mb

from p2pchat.control_client import ControlClient
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.session import Session
from tests.nodes import NodeProcess, wait_for

WAIT = 30.0
TARGET_MB = 60.0
GROUP = 10  # links opened at once


class Contact:
    """One contact's end of a link: a Session over a real connection, read in the background."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.session: Session | None = None
        self.task: asyncio.Task[None] | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int, node_key: bytes, source: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=(source, 0))
        loop = asyncio.get_running_loop()
        self.writer = writer
        self.session = Session(identity=self.identity, initiator=True, now=loop.time(),
                               remote_key=node_key, ik_timestamp=time.time_ns())
        writer.write(self.session.data_to_send())
        self.task = asyncio.create_task(self._read(reader, writer))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.session is not None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                self.session.receive_data(data, loop.time())
                if out := self.session.data_to_send():
                    writer.write(out)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()


async def hold_links(node: NodeProcess, contacts: list[Contact], node_key: bytes) -> float:
    """Link every contact, wait until the node counts them all, return the node's RSS."""
    assert node.port is not None and node.proc is not None
    try:
        loop = asyncio.get_running_loop()
        # In groups well under the node's handshake slots (it lets the oldest handshake give way
        # to a new one when they are all taken), each group established before the next.
        for start in range(0, len(contacts), GROUP):
            group = contacts[start:start + GROUP]
            for i, contact in enumerate(group, start):
                await contact.connect(node.port, node_key, f"127.0.0.{10 + i}")
            deadline = loop.time() + WAIT
            while not all(c.session is not None and c.session.established for c in group):
                if loop.time() > deadline:
                    raise RuntimeError("a contact's handshake did not complete")
                await asyncio.sleep(0.01)  # polling our own sessions with a deadline

        def links() -> int:
            with ControlClient(node.home, timeout=WAIT) as client:
                return int(client.call("status")["links"])

        deadline = loop.time() + WAIT
        while (count := await loop.run_in_executor(None, links)) < len(contacts):
            if loop.time() > deadline:
                raise RuntimeError(f"only {count} of {len(contacts)} links came up")
            await asyncio.sleep(0.05)  # polling the node's status with a deadline
        rss = rss_mb(node.proc.pid)
        assert rss is not None
        return rss
    finally:
        for contact in contacts:
            contact.close()


def run(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="p2pbench-memory-") as tmp:
        node = NodeProcess(Path(tmp).resolve() / "node", "node")
        try:
            node.start()
            assert node.proc is not None
            node_key = bytes.fromhex(node.json("status")["public_key"])
            contacts = [Contact(Identity.generate()) for _ in range(n)]
            with ControlClient(node.home, timeout=WAIT) as client:
                for i, contact in enumerate(contacts):
                    client.call("contacts.add", fingerprint=fingerprint(
                        contact.identity.public_key), name=f"contact{i:02d}")
            baseline = rss_mb(node.proc.pid)
            rss = asyncio.run(hold_links(node, contacts, node_key))
            wait_for(lambda: node.json("status")["links"] == 0, WAIT, "the links to close")
            after = rss_mb(node.proc.pid)
        finally:
            with contextlib.suppress(Exception):
                node.stop()
            node.close()
    out: dict[str, Any] = {
        f"rss_{n}_links_mb": rss,
        "baseline_rss_0_links_mb": baseline,
        "per_link_kb": None if baseline is None else round((rss - baseline) * 1024 / n, 1),
        "rss_after_links_closed_mb": after,
        "links": n,
        "baseline": f"the same node's VmRSS with its {n} contacts and no link, just before",
    }
    out["targets"] = {f"rss_{n}_links_mb <= 60": rss <= TARGET_MB}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="(the same run: it is quick)")
    parser.add_argument("--links", type=int, default=50, choices=range(1, 201), metavar="N")
    emit(run(parser.parse_args().links))


if __name__ == "__main__":
    main()
