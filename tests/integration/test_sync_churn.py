"""Two nodes under churn: sends from both sides, dropped links and restarts in a random order.

Whatever the schedule, in the end both sides hold the same messages, each once, in each author's
order. The schedules are seeded, so a failure can be replayed."""

from __future__ import annotations

import random

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import Node
from tests.aio import until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)


def _state(nodes: dict[str, Node], sent: dict[str, list[str]], other: dict[str, str]) -> str:
    """What each side holds and how it stands with the other: a failure says where it stuck."""
    lines = []
    for name, node in nodes.items():
        peer = nodes[other[name]].key
        theirs = [m["text"] for m in node.history(other[name]) if not m["own"]]
        undelivered = [m["text"] for m in node.history(other[name])
                       if m["own"] and m["status"] != "delivered"]
        dialer = node.links.dialer
        task = dialer._tasks.get(peer)
        lines.append(
            f"{name}: missing {[t for t in sent[other[name]] if t not in theirs]},"
            f" extra {[t for t in theirs if t not in sent[other[name]]]},"
            f" own undelivered {undelivered},"
            f" link {node.links.by_peer.get(peer)!r}, connections {len(node.links.connections)},"
            f" dial task {task!r}, failures {dialer._failures.get(peer)},"
            f" not_before {dialer._not_before.get(peer)}, patient {dialer._patient.get(peer)},"
            f" knocks {dialer._knocks.get(peer)}, addresses {node.trust.addresses_for(peer)}")
    return "\n".join(lines)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 59])
async def test_nothing_lost_nothing_doubled_under_churn(make_local_node: MakeLocalNode,
                                                         seed: int) -> None:
    rng = random.Random(seed)
    nodes: dict[str, Node] = {"a": await make_local_node("a"), "b": await make_local_node("b")}
    identities = {name: node.identity for name, node in nodes.items()}
    ports = {name: node.listen_addresses[0][1] for name, node in nodes.items()}
    other = {"a": "b", "b": "a"}
    for name, node in nodes.items():
        peer = nodes[other[name]]
        await node.add_contact(fingerprint(peer.key), other[name],
                               [f"127.0.0.1:{ports[other[name]]}"])
    sent: dict[str, list[str]] = {"a": [], "b": []}
    restarts = 0
    for step in range(60):
        action = rng.random()
        name = rng.choice("ab")
        node = nodes[name]
        if action < 0.7:
            text = f"{name}{step}"
            await node.send(other[name], text)
            sent[name].append(text)
        elif action < 0.85:
            link = node.links.by_peer.get(nodes[other[name]].key)
            if link is not None:
                link.close("churn: drop the link")
        else:
            # A restart on the same home and port: what was acknowledged must survive it.
            await node.stop()
            restarts += 1
            nodes[name] = await make_local_node(name, identity=identities[name],
                                                listen=(("127.0.0.1", ports[name]),))

    print(f"seed {seed}: {len(sent['a'])}+{len(sent['b'])} messages, {restarts} restarts")

    def converged() -> bool:
        for name, node in nodes.items():
            theirs = [m["text"] for m in node.history(other[name]) if not m["own"]]
            if theirs != sent[other[name]]:
                return False
        return True

    try:
        await until(converged, 60, f"both sides to converge (seed {seed}, {restarts} restarts)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_state(nodes, sent, other)}") from None
    for name, node in nodes.items():
        history = node.history(other[name])
        ids = [m["id"] for m in history]
        assert len(ids) == len(set(ids)), "a message is shown twice"
        assert [m["text"] for m in history if m["own"]] == sent[name]
        await until(lambda n=node, o=other[name]: all(
            m["status"] == "delivered" for m in n.history(o) if m["own"]), 30, "receipts")
