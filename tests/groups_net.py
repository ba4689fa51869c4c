"""Helpers for group tests with in-process nodes: contacts, topologies, who holds what."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from p2pchat.core.identity import fingerprint
from p2pchat.node import CommandError, Node
from tests.aio import until


def addr(node: Node) -> str:
    host, port = node.listen_addresses[0]
    return f"{host}:{port}"


async def set_contact(node: Node, other: Node, name: str, *, dial: bool) -> None:
    """Make `other` a contact of `node`, with its address only when `node` is to dial it."""
    try:
        await node.remove_contact(fingerprint(other.key))
    except CommandError:
        pass
    await node.add_contact(fingerprint(other.key), name, [addr(other)] if dial else [])


async def befriend(a: Node, b: Node) -> None:
    """Mutual contacts; `a` knows where `b` is and dials it."""
    await set_contact(a, b, b.name, dial=True)
    await set_contact(b, a, a.name, dial=False)


def sparse_edges(n: int, rng: random.Random, degree: int = 3) -> set[tuple[int, int]]:
    """A random spanning tree plus random extra edges, about `degree` links per node."""
    order = list(range(n))
    rng.shuffle(order)
    edges = {tuple(sorted((order[i], order[rng.randrange(i)]))) for i in range(1, n)}
    while len(edges) < n * degree // 2:
        a, b = rng.sample(range(n), 2)
        edges.add(tuple(sorted((a, b))))
    return edges  # type: ignore[return-value]


def linked(a: Node, b: Node) -> bool:
    return a.links.is_linked(b.key) and b.links.is_linked(a.key)


async def wait_linked(pairs: Iterable[tuple[Node, Node]], timeout: float = 20) -> None:
    pairs = list(pairs)
    await until(lambda: all(linked(a, b) for a, b in pairs), timeout, "links up")


def texts(node: Node, group: str) -> list[str]:
    return [m["text"] for m in node.history(group)]


def group_of(node: Node, group: str) -> dict[str, Any]:
    return next(g for g in node.list_groups() if g["group"] == group)


def caught_up(node: Node, group: str, owner: Node) -> bool:
    """`node` is at the owner's epoch and holds its key."""
    mine = [g for g in node.list_groups() if g["group"] == group]
    return bool(mine) and mine[0]["has_key"] and mine[0]["epoch"] == group_of(owner, group)["epoch"]
