"""The gap-pinning attack of issue 22, measured from outside: a real victim process, a hostile
member (a real node that joins the victim's groups, then its identity driven by hand) that sends
each group 1,023 envelopes of 64 KiB past a gap (seq 2..1024, seq 1 never comes).

    .venv/bin/python -m tests.gap_pinning [--groups 6] [--envelopes 1023]

Prints the victim's RSS (VmRSS, /proc) before, at the end of the flood, and after the attacker
left; exits 1 if the growth is over 40 MiB or the memory is not given back within 16 MiB of the
start. Used by tests/integration/test_groups_hostile.py (small) and for the acceptance numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from p2pchat.core import groups as core
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import MAX_BODY_LEN, SyncVector
from p2pchat.home import ensure_home
from p2pchat.node import Node, NodeConfig
from tests.hostile_member import HostileMember
from tests.hostile_peer import PeerClosed
from tests.nodes import NodeProcess

MIB = 1024 * 1024
BIG = MAX_BODY_LEN - core.BODY_OVERHEAD


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _groups_of(victim: NodeProcess) -> list[dict[str, object]]:
    return list(victim.json("group", "list", "--json"))


async def attack(tmp: Path, groups: int, count: int) -> dict[str, float]:
    victim = NodeProcess(tmp / "victim", "victim").start()
    assert victim.proc is not None
    pid = victim.proc.pid
    nodes: list[Node] = []

    async def make(name: str, **config: object) -> Node:
        node = Node(ensure_home(tmp / name), _identity(), name,
                    NodeConfig(listen=(("127.0.0.1", 0),), mdns=False))
        await node.start()
        nodes.append(node)
        return node

    try:
        owner = await make("mallory")
        host, port = owner.listen_addresses[0]
        victim.cli("contacts", "add", fingerprint(owner.key), "--name", "mallory",
                   "--addr", f"{host}:{port}", check=True)
        await owner.add_contact(victim.fingerprint, "victim", [victim.addr])
        await _until(lambda: owner.links.is_linked(bytes.fromhex(victim.json(
            "status", "--json")["public_key"])), 30)
        ids = [(await owner.create_group(f"trap{i}"))["group"] for i in range(groups)]
        for group in ids:
            await owner.invite_to_group(group, "victim")
        for group in ids:
            await _until(lambda g=group: _accepted(victim, g), 30)
        # The attacker: the owner's own identity, driven by hand.
        members = []
        for group in ids:
            g = owner.groups.find(group)
            conv_log = owner.conversations.log_of(g.conv)
            from p2pchat.core.sync import ConversationLog
            members.append(HostileMember(owner.identity, group, g.state, dict(g.keys),
                                         ConversationLog(g.conv, {}, conv_log.lamport)))
        await owner.stop()
        time.sleep(1.0)  # bounded: let the victim settle before the baseline
        start = rss(pid)
        peak = start
        node_key = bytes.fromhex(victim.json("status", "--json")["public_key"])
        fake = _FakeNode(node_key, ("127.0.0.1", victim.port or 0))
        closed = 0
        for member in members:
            member.envelopes(1, size=10)  # seq 1: never sent, the gap
            envs = member.envelopes(count, size=BIG)
            sent = 0
            while sent < len(envs):  # bounded: every pass sends at least one batch or stops
                try:
                    async with member.connect(fake, timeout=60) as peer:  # type: ignore[arg-type]
                        while sent < len(envs):
                            await peer.send_many(list(envs[sent:sent + 64]))
                            sent += 64
                            peak = max(peak, rss(pid))
                        await peer.send(SyncVector(conv=bytes.fromhex(member.group), vector={}))
                        for _ in range(10):
                            peak = max(peak, rss(pid))
                            time.sleep(0.1)  # bounded: sampling the victim's memory
                except (PeerClosed, ConnectionError, TimeoutError, OSError):
                    closed += 1  # the victim cut the link (over budget): dial again, go on
                    sent += 64
                    if closed > 4 * len(members) + count:
                        break
        for _ in range(20):
            peak = max(peak, rss(pid))
            time.sleep(0.1)  # bounded: sampling the victim's memory
        time.sleep(3.0)  # bounded: the victim notices the close and releases
        after = rss(pid)
        return {"links_closed": closed, "start_mib": start / MIB, "peak_mib": peak / MIB,
                "after_mib": after / MIB, "growth_mib": (peak - start) / MIB,
                "kept_mib": (after - start) / MIB}
    finally:
        for node in nodes:
            await node.stop()
        victim.stop()


def _accepted(victim: NodeProcess, group: str) -> bool:
    for g in _groups_of(victim):
        if g["group"] == group:
            if g.get("role") == "invited":
                victim.cli("group", "accept", group, check=True)
                return False
            return bool(g.get("has_key"))
    return False


class _FakeNode:
    """What HostileMember.connect needs of a node: its key and address."""

    def __init__(self, key: bytes, address: tuple[str, int]) -> None:
        self.key = key
        self.listen_addresses = [address]


def _identity():  # type: ignore[no-untyped-def]
    from p2pchat.core.identity import Identity
    return Identity.generate()


async def _until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)  # bounded: polling with a deadline


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--envelopes", type=int, default=1023)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(attack(Path(tmp), args.groups, args.envelopes))
    print(" ".join(f"{k}={v:.1f}" for k, v in result.items()))
    ok = result["growth_mib"] <= 40 and result["kept_mib"] <= 16
    print("HELD" if ok else "NOT HELD")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
