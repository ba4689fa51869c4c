from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.local_nodes import make_local_node  # noqa: F401  (a fixture for every test)
from tests.nodes import NodeProcess

# Where the p2pchat processes the tests start keep their compiled modules, when the environment
# says to write none (PYTHONDONTWRITEBYTECODE): else each of the thousands of `p2pchat` processes
# a run starts compiles every module it imports from source again, which doubles the CPU a
# node's start takes. A cache of this run only, removed at its end; this process is unchanged.
_BYTECODE_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        _BYTECODE_CACHE.append(tempfile.mkdtemp(prefix="p2pchat-pyc-"))
        os.environ["PYTHONPYCACHEPREFIX"] = _BYTECODE_CACHE[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _BYTECODE_CACHE:
        shutil.rmtree(path, ignore_errors=True)


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
