"""Stopping a real `p2pchat relay` with Ctrl-C (SIGINT) or SIGTERM while clients are attached
and frames flow: a short line and exit status 0, never a traceback (trial 11: Ctrl-C printed
a CancelledError traceback from server.py's _pump)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.relay_client import RelayClient, RelayProcess

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_relay_stopped_while_forwarding_exits_cleanly(tmp_path: Path,
                                                              sig: signal.Signals) -> None:
    relay = RelayProcess(tmp_path / "relay").start()
    a = b = None
    try:
        a = await RelayClient().connect("127.0.0.1", relay.port, relay_key=relay.key)
        b = await RelayClient().connect("127.0.0.1", relay.port, relay_key=relay.key)
        for i in range(20):  # frames flowing both ways, some still in flight at the signal
            a.send(b.key, b"a->b %d" % i)
            b.send(a.key, b"b->a %d" % i)
        assert (await b.next_delivery()).data == b"a->b 0"
        assert (await a.next_delivery()).data == b"b->a 0"
        for i in range(200):
            a.send(b.key, bytes(1000) + i.to_bytes(2, "big"))
        assert relay.proc is not None
        os.kill(relay.proc.pid, sig)  # as Ctrl-C in its terminal: the process, not the group
        code = await asyncio.to_thread(relay.proc.wait, 20)
        out = relay.output()
        assert "Traceback" not in out and "Error" not in out, out
        assert code == 0, out
        assert out.rstrip().splitlines()[-1] == "relay stopped", out
        assert await a.wait_closed() and await b.wait_closed()
    finally:
        for client in (a, b):
            if client is not None:
                await client.close()
        relay.close()
