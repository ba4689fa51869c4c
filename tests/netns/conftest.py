"""Fixtures for tests that run real hosts in Linux network namespaces (see netns.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.netns import netns

_availability: list[str | None] = []


def _unavailable_reason() -> str | None:
    if not _availability:
        try:
            netns.check_available()
            netns.remove_stale()
            _availability.append(None)
        except netns.NetnsUnavailable as exc:
            _availability.append(str(exc))
    return _availability[0]


@pytest.fixture
def make_network() -> Iterator[Callable[[int], netns.Network]]:
    """Build `make_network(n)`: n hosts on a private bridge; all torn down after the test.

    Skips (saying why) where namespaces cannot be made: not root, no iproute2, or
    `ip netns add` refused.
    """
    reason = _unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    networks: list[netns.Network] = []

    def make(count: int) -> netns.Network:
        network = netns.Network(count)
        networks.append(network)
        return network

    try:
        yield make
    finally:
        for network in networks:
            network.close()
