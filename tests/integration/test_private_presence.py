"""Private presence on 127.0.0.1 mDNS: the tag and instance name rotate with the day."""

from __future__ import annotations

import pytest

import p2pchat.node.nearby
from p2pchat.core.presence import matches_tag
from p2pchat.net.discovery import Discovery
from tests.aio import until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


async def test_private_advert_rotates_daily_and_names_no_one(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    day = 20_000
    monkeypatch.setattr(p2pchat.node.nearby, "day_number", lambda _seconds: day)
    bob = await make_local_node("bob", mdns=True, mdns_interfaces=("127.0.0.1",),
                                presence="private")
    watcher = Discovery(interfaces=["127.0.0.1"])
    await watcher.async_start(9, {"v": "1"}, "watcher")
    try:
        def bobs(on_day: int) -> list[str]:
            return [a.instance for a in watcher.adverts()
                    if a.tag and matches_tag(bob.key, a.tag, on_day) and a.public_key is None]

        first = await until(lambda: bobs(day), 20, "bob's private advert")
        advert = next(a for a in watcher.adverts() if a.instance == first[0])
        assert advert.name is None and advert.public_key is None
        assert bob.key.hex()[:16] not in advert.instance

        first_ports = {port for _, port in advert.addresses}
        assert first_ports == {bob.listen_addresses[0][1]}

        day += 5  # days later: a fresh tag and a fresh instance name; the old advert is gone
        await until(lambda: bobs(day) and all(a.instance != first[0] for a in watcher.adverts()),
                    20, "the rotated advert")
        # ...and a fresh port, so the port can't link the two adverts either.
        rotated = next(a for a in watcher.adverts() if a.instance == bobs(day)[0])
        new_ports = {port for _, port in rotated.addresses}
        assert new_ports == {bob.listen_addresses[0][1]} and not new_ports & first_ports
    finally:
        await watcher.async_stop()
