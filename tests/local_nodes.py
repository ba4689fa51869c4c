"""In-process nodes for tests: real Node objects on 127.0.0.1 in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from p2pchat.core.identity import Identity
from p2pchat.home import ensure_home
from p2pchat.node import Node, NodeConfig

MakeLocalNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_local_node(tmp_path: Path) -> AsyncIterator[MakeLocalNode]:
    """Nodes in this test's event loop, on 127.0.0.1 with OS-chosen ports; stopped afterwards.

    `make_local_node(name, identity=None, **NodeConfig fields)`; mDNS is off unless asked for.
    """
    nodes: list[Node] = []

    async def make(name: str, identity: Identity | None = None, **config: Any) -> Node:
        config.setdefault("listen", (("127.0.0.1", 0),))
        config.setdefault("mdns", False)
        node = Node(ensure_home(tmp_path / name), identity or Identity.generate(), name,
                    NodeConfig(**config))
        await node.start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.stop()
