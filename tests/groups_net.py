"""Helpers for group tests with in-process nodes: contacts, topologies, who holds what."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
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
    with contextlib.suppress(CommandError):
        await node.remove_contact(fingerprint(other.key))
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


async def accept_invitation(node: Node, group: str, timeout: float = 20) -> None:
    """Wait for `node`'s pending invitation to `group`, then accept it (issue 22: invitations
    are requests the user accepts)."""
    await until(lambda: any(g["group"] == group and g["role"] == "invited"
                            for g in node.list_groups()), timeout, f"{node.name}'s invitation")
    await node.accept_group(group)


async def invite_and_accept(owner: Node, group: str, member: Node, name: str | None = None
                            ) -> None:
    await owner.invite_to_group(group, name or member.name)
    await accept_invitation(member, group)


def texts(node: Node, group: str) -> list[str]:
    return [m["text"] for m in node.history(group)]


def group_of(node: Node, group: str) -> dict[str, Any]:
    """The group as `node` lists it; a stand-in of nothing held before it joined."""
    unknown = {"group": group, "epoch": 0, "has_key": False, "role": None, "members": 0}
    return next((g for g in node.list_groups() if g["group"] == group), unknown)


def caught_up(node: Node, group: str, owner: Node) -> bool:
    """`node` is at the owner's epoch and holds its key."""
    mine = [g for g in node.list_groups() if g["group"] == group]
    return bool(mine) and mine[0]["has_key"] and mine[0]["epoch"] == group_of(owner, group)["epoch"]


class Net:
    """`n` in-process nodes in one group owned by node 0, linked only along `edges`.

    The owner invites everyone over direct links first (an invitation needs a pairwise session
    with the owner), then every node restarts on its own port with no address of anyone, and
    contacts are made along `edges` only: after that, what one member writes reaches another
    only through the members in between.
    """

    def __init__(self, make: Any, n: int, edges: set[tuple[int, int]], *,
                 batch: int | None = None, **config: Any) -> None:
        self.make = make
        self.n = n
        self.edges = edges
        # The owner links at most `batch` of the others at once while it invites them (None:
        # all at once), and restarts between batches, so a large group stays within its caps.
        self.batch = batch or max(1, n - 1)
        # The owner holds a link with everyone while it invites them: more than one address
        # (127.0.0.1) is allowed by default.
        self.config = {"group_sync_interval": 1.0, "max_links_per_ip": 64, **config}
        self.nodes: list[Node] = []
        self.group = ""
        self._linked: set[tuple[int, int]] = set()  # edges made contacts

    async def build(self) -> Net:
        names = [f"n{i:02d}" for i in range(self.n)]
        self.nodes = [await self.make(name, **self.config) for name in names]
        self.group = (await self.nodes[0].create_group("g30"))["group"]
        order = [self.nodes[i] for i in self._reach_order()[1:]]
        for start in range(0, len(order), self.batch):
            await self._invite(order[start:start + self.batch])
            if start + self.batch < len(order):
                await self._renew([0])  # the links of this batch close
                # The members so far link along the topology, so the ops of the next batches
                # reach them as they are made (a member far behind could not catch up).
                await self._link({0, *(self.nodes.index(x) for x in order[:start + self.batch])})
        # ...and restarts forget what links taught: all down, then up on new ports (a port a
        # node had may be taken meanwhile by another's outgoing connection), with contacts
        # along the edges only.
        await self._renew(list(range(self.n)))
        await self._link(set(range(self.n)))
        if self.batch < self.n - 1:  # the last ops of the build may still be on their way
            await until(lambda: all(caught_up(x, self.group, self.nodes[0])
                                    for x in self.nodes), 60, "everyone caught up")
        return self

    async def _renew(self, which: list[int]) -> None:
        """Stop these nodes, then start them again on new ports: contacts with them are made
        again (`_link`)."""
        for i in which:
            await self.nodes[i].stop()
        for i in which:
            old = self.nodes[i]
            self.nodes[i] = await self.make(old.name, identity=old.identity, **self.config)
        self._linked = {(a, b) for a, b in self._linked if a not in which and b not in which}

    def _reach_order(self) -> list[int]:
        """Nodes in breadth-first order from the owner along the edges (then any others), so
        the members invited so far are always connected to the owner."""
        order, seen = [0], {0}
        for i in order:
            for a, b in sorted(self.edges):
                for x, y in ((a, b), (b, a)):
                    if x == i and y not in seen:
                        seen.add(y)
                        order.append(y)
        return order + [i for i in range(self.n) if i not in seen]

    async def _link(self, among: set[int]) -> None:
        """Contacts along the edges between `among` (each edge once: contacts are kept)."""
        edges = [(a, b) for a, b in sorted(self.edges - self._linked) if a in among and b in among]
        for a, b in edges:
            await befriend(self.nodes[a], self.nodes[b])
        self._linked.update(edges)
        await wait_linked((self.nodes[a], self.nodes[b])
                          for a, b in self.edges if a in among and b in among)

    async def _invite(self, batch: list[Node]) -> None:
        """The owner links with `batch`, invites them, and forgets where they are."""
        owner = self.nodes[0]
        for other in batch:
            await befriend(owner, other)
        await wait_linked((owner, other) for other in batch)
        for other in batch:
            await owner.invite_to_group(self.group, other.name)
        for other in batch:
            await accept_invitation(other, self.group, 30)
        await until(lambda: all(caught_up(x, self.group, owner) for x in [owner, *batch]), 30,
                    "everyone joined")
        for other in batch:  # the owner forgets where they are...
            await set_contact(owner, other, other.name, dial=False)

    async def stop(self, i: int) -> None:
        await self.nodes[i].stop()

    async def restart(self, i: int) -> Node:
        await self.nodes[i].stop()
        return await self.start(i, self.nodes[i].listen_addresses[0][1])

    async def start(self, i: int, port: int) -> Node:
        """Node i again, on the same port, so its neighbours' stored address still holds."""
        old = self.nodes[i]
        self.nodes[i] = await self.make(old.name, identity=old.identity,
                                        listen=(("127.0.0.1", port),), **self.config)
        return self.nodes[i]

    def members(self) -> list[Node]:
        owner = group_of(self.nodes[0], self.group)
        return [x for x in self.nodes if group_of(x, self.group)["role"] in ("owner", "member")
                and group_of(x, self.group)["epoch"] == owner["epoch"]]

    def everyone_has(self, nodes: Iterable[Node], wanted: set[str]) -> bool:
        return all(wanted <= set(texts(x, self.group)) for x in nodes)


class Shown:
    """Counts the group message events each node emits, per text: "shown exactly once"."""

    def __init__(self, nodes: Iterable[Node], group: str) -> None:
        self.group = group
        self.queues = {x.name: x.events.subscribe() for x in nodes}
        self.counts: dict[str, Counter[str]] = {name: Counter() for name in self.queues}

    def drain(self) -> None:
        for name, queue in self.queues.items():
            while not queue.empty():
                event = queue.get_nowait()
                assert event is not None, "a subscription lagged"
                if event["type"] == "message" and event["conversation"] == self.group:
                    self.counts[name][event["text"]] += 1

    def all_shown(self, wanted: set[str]) -> bool:
        self.drain()
        return all(wanted <= set(counts) for counts in self.counts.values())
