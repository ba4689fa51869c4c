from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.local_nodes import make_local_node  # noqa: F401  (a fixture for every test)
from tests.nodes import NodeProcess


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[[str], NodeProcess]]:
    """Creates homes with identities; every node process is killed at the end of the test."""
    nodes: list[NodeProcess] = []

    def make(name: str) -> NodeProcess:
        node = NodeProcess(tmp_path / name, name)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.close()
