from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from p2pchat.core.identity import Identity
from p2pchat.home import ensure_home
from p2pchat.node import Node, NodeConfig

MakeNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(tmp_path: Path) -> AsyncIterator[MakeNode]:
    """Real nodes in this test's event loop, on 127.0.0.1 with OS-chosen ports, mDNS off."""
    nodes: list[Node] = []

    async def make(name: str, **config: Any) -> Node:
        config.setdefault("listen", (("127.0.0.1", 0),))
        config.setdefault("mdns", False)
        node = Node(ensure_home(tmp_path / name), Identity.generate(), name, NodeConfig(**config))
        await node.start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.stop()
