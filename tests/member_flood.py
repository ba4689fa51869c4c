"""The member flood of issue 22, measured from outside: a real owner and a real member (bob)
as node processes, and a hostile member that joins, then pushes 600 envelopes of 64 KiB
(38 MiB) to the owner alone, as fast as the link takes them.

    .venv/bin/python -m tests.member_flood [--envelopes 600]

Prints how much bob's store (database and write-ahead log) and the owner's grew, and whether
the owner's log says it refused the flood; exits 1 if bob's store grew by more than 20 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from p2pchat.core import groups as core
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import MAX_BODY_LEN
from p2pchat.core.sync import ConversationLog
from p2pchat.home import ensure_home
from p2pchat.node import Node, NodeConfig
from tests.gap_pinning import _FakeNode, _until
from tests.hostile_member import HostileMember
from tests.hostile_peer import PeerClosed
from tests.nodes import NodeProcess

BIG = MAX_BODY_LEN - core.BODY_OVERHEAD


def store_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("p2pchat.db*"))


def _in(node: NodeProcess, group: str) -> bool:
    for g in node.json("group", "list", "--json"):
        if g["group"] == group:
            if g.get("role") == "invited":
                node.cli("group", "accept", group, check=True)
                return False
            return bool(g.get("has_key"))
    return False


async def flood(tmp: Path, count: int) -> dict[str, float]:
    owner = NodeProcess(tmp / "owner", "owner").start()
    bob = NodeProcess(tmp / "bob", "bob").start()
    node = Node(ensure_home(tmp / "mallory"), Identity.generate(), "mallory",
                NodeConfig(listen=(("127.0.0.1", 0),), mdns=False))
    await node.start()
    try:
        host, port = node.listen_addresses[0]
        owner.cli("contacts", "add", fingerprint(node.key), "--name", "mallory",
                  "--addr", f"{host}:{port}", check=True)
        owner.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", bob.addr,
                  check=True)
        bob.cli("contacts", "add", owner.fingerprint, "--name", "owner", check=True)
        await node.add_contact(owner.fingerprint, "owner", [owner.addr])
        group = owner.json("group", "create", "club", "--json")["group"]
        owner.cli("group", "invite", group, "bob", check=True)
        owner.cli("group", "invite", group, "mallory", check=True)
        await _until(lambda: _in(bob, group), 30)
        await _until(lambda: any(g["group"] == group for g in node.list_groups()), 30)
        await node.accept_group(group)
        await _until(lambda: any(g["group"] == group and g["has_key"]
                                 for g in node.list_groups()), 30)
        g = node.groups.find(group)
        conv_log = node.conversations.log_of(g.conv)
        heads = {a: conv_log.head(a) for a in conv_log.vector()}
        mallory = HostileMember(node.identity, group, g.state, dict(g.keys),
                                ConversationLog(g.conv, heads, conv_log.lamport))
        await node.stop()
        time.sleep(1.0)  # bounded: both stores settle before the baseline
        bob_before, owner_before = store_bytes(bob.home), store_bytes(owner.home)
        envs = mallory.envelopes(count, size=BIG)
        owner_key = bytes.fromhex(owner.json("status", "--json")["public_key"])
        fake = _FakeNode(owner_key, ("127.0.0.1", owner.port or 0))
        started = time.monotonic()
        async with mallory.connect(fake, timeout=60) as peer:  # type: ignore[arg-type]
            with contextlib.suppress(PeerClosed, ConnectionError, TimeoutError, OSError):
                for i in range(0, len(envs), 50):
                    await peer.send_many(list(envs[i:i + 50]))
            with contextlib.suppress(AssertionError):
                await peer.wait_closed(10)
        took = time.monotonic() - started
        time.sleep(5.0)  # bounded: the owner forwards what it took, bob commits it
        owner_log = owner.log_path.read_text()
        return {
            "sent_mib": count * (BIG + 48) / 2**20,
            "seconds": took,
            "bob_store_growth_mb": (store_bytes(bob.home) - bob_before) / 1e6,
            "owner_store_growth_mb": (store_bytes(owner.home) - owner_before) / 1e6,
            "owner_warned": float(owner_log.count("refused group envelopes of")),
            "owner_closed_link": float("over its budget in a group" in owner_log),
        }
    finally:
        await node.stop()
        owner.stop()
        bob.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--envelopes", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(flood(Path(tmp), args.envelopes))
    print(" ".join(f"{k}={v:.2f}" for k, v in result.items()))
    ok = result["bob_store_growth_mb"] <= 20 and result["owner_warned"] == 1
    print("HELD" if ok else "NOT HELD")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
