"""Fixtures the tmux tests share: a terminal, and alice and bob as mutual contacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes import NodeProcess
from tests.tui.test_tmux import Terminal, mutual


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        yield alice, bob
    finally:
        alice.close()
        bob.close()
