"""Two Discovery instances on 127.0.0.1 in one process find each other over real multicast."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import nacl.signing
import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from p2pchat.core import presence
from p2pchat.core.identity import fingerprint
from p2pchat.core.presence import Advert
from p2pchat.net.discovery import Discovery

pytestmark = pytest.mark.timeout(30)

WAIT = 10.0  # seconds for any one condition

# Ports that adverts carry; nothing listens on them (discovery only passes them along).
PORT_01, PORT_02, PORT_03 = 40001, 40002, 40003
PORT_11, PORT_12 = 40011, 40012


class Watcher:
    """Wakes a waiter whenever a Discovery reports a change."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("condition not met before the deadline")
            self.changed.clear()
            if condition():
                return
            # Changes arrive through on_change; the short cap is only a re-check, not a sync.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1.0))


def new_key() -> bytes:
    return bytes(nacl.signing.SigningKey.generate().verify_key)


def find(discovery: Discovery, key: bytes) -> Advert | None:
    # Other p2pchat processes on this machine may also advertise on loopback: look by key.
    return next((a for a in discovery.adverts() if a.public_key == key), None)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Discovery, Watcher, Discovery, Watcher]]:
    watch_a, watch_b = Watcher(), Watcher()
    a = Discovery(interfaces=["127.0.0.1"], on_change=watch_a)
    b = Discovery(interfaces=["127.0.0.1"], on_change=watch_b)
    try:
        yield a, watch_a, b, watch_b
    finally:
        await asyncio.wait_for(asyncio.gather(a.async_stop(), b.async_stop()), timeout=10)


async def test_two_nodes_find_each_other_and_see_goodbyes(
    pair: tuple[Discovery, Watcher, Discovery, Watcher],
) -> None:
    a, watch_a, b, watch_b = pair
    key_a, key_b = new_key(), new_key()
    await asyncio.wait_for(
        asyncio.gather(
            a.async_start(
                PORT_01,
                presence.public_properties(key_a, "alice"),
                presence.public_instance_name(key_a),
            ),
            b.async_start(
                PORT_02,
                presence.public_properties(key_b, "bob"),
                presence.public_instance_name(key_b),
            ),
        ),
        timeout=WAIT,
    )
    await watch_a.until(lambda: find(a, key_b) is not None)
    await watch_b.until(lambda: find(b, key_a) is not None)

    seen_by_a = find(a, key_b)
    assert seen_by_a is not None
    assert seen_by_a.name == "bob"
    assert seen_by_a.addresses == (("127.0.0.1", PORT_02),)
    seen_by_b = find(b, key_a)
    assert seen_by_b is not None
    assert seen_by_b.addresses == (("127.0.0.1", PORT_01),)
    assert a.registered_name is not None
    assert seen_by_b.instance == a.registered_name
    # Nobody sees itself.
    assert find(a, key_a) is None and find(b, key_b) is None

    # A name change (and a new port) reaches the other side as an update.
    await asyncio.wait_for(
        b.async_update(
            PORT_03,
            presence.public_properties(key_b, "bobby"),
            presence.public_instance_name(key_b),
        ),
        timeout=WAIT,
    )

    def updated() -> bool:
        advert = find(a, key_b)
        return advert is not None and advert.name == "bobby" and advert.addresses[0][1] == PORT_03

    await watch_a.until(updated)

    await asyncio.wait_for(b.async_stop(), timeout=WAIT)
    await watch_a.until(lambda: find(a, key_b) is None)
    assert not b.adverts()


async def test_private_mode_is_recognised_by_tag_only(
    pair: tuple[Discovery, Watcher, Discovery, Watcher],
) -> None:
    a, watch_a, b, _ = pair
    key_a, key_b = new_key(), new_key()
    day = presence.day_number(time.time())
    await asyncio.wait_for(
        asyncio.gather(
            a.async_start(
                PORT_11,
                presence.public_properties(key_a, "alice"),
                presence.public_instance_name(key_a),
            ),
            b.async_start(
                PORT_12, presence.private_properties(key_b, day), presence.private_instance_name()
            ),
        ),
        timeout=WAIT,
    )

    def seen() -> Advert | None:
        return next(
            (x for x in a.adverts() if x.tag and presence.matches_tag(key_b, x.tag, day)), None
        )

    await watch_a.until(lambda: seen() is not None)
    advert = seen()
    assert advert is not None
    assert advert.public_key is None and advert.name is None
    assert advert.may_be(key_b, day)
    assert advert.addresses == (("127.0.0.1", PORT_12),)


async def test_adverts_of_unknown_versions_are_ignored(
    pair: tuple[Discovery, Watcher, Discovery, Watcher],
) -> None:
    a, watch_a, _, _ = pair
    key_a, key_good = new_key(), new_key()
    await asyncio.wait_for(
        a.async_start(
            40021, presence.public_properties(key_a, "alice"), presence.public_instance_name(key_a)
        ),
        timeout=WAIT,
    )
    raw = AsyncZeroconf(interfaces=["127.0.0.1"])
    try:
        future_props = {"v": "2", "fp": fingerprint(new_key()), "n": "from the future"}
        infos = [
            AsyncServiceInfo(
                presence.SERVICE_TYPE,
                f"{name}.{presence.SERVICE_TYPE}",
                port=port,
                properties=props,
                parsed_addresses=["127.0.0.1"],
            )
            for name, port, props in [
                ("p2pchat-future-" + key_a[:4].hex(), 40022, future_props),
                ("p2pchat-junk-" + key_a[:4].hex(), 40023, {"v": "1", "fp": "x" * 200}),
                (
                    presence.public_instance_name(key_good),
                    40024,
                    presence.public_properties(key_good, "ok"),
                ),
            ]
        ]
        for info in infos:
            await asyncio.wait_for(raw.async_register_service(info), timeout=WAIT)
        await watch_a.until(lambda: find(a, key_good) is not None)
        await watch_a.until(lambda: any(x.instance == infos[1].name for x in a.adverts()))
        junk = next(x for x in a.adverts() if x.instance == infos[1].name)
        assert junk.public_key is None  # the bad fingerprint is dropped, the advert kept
        assert all(x.instance != infos[0].name for x in a.adverts())
    finally:
        await asyncio.wait_for(raw.async_close(), timeout=WAIT)


async def test_stop_without_start_and_double_stop_are_harmless() -> None:
    d = Discovery(interfaces=["127.0.0.1"])
    await d.async_stop()
    await d.async_stop()
    assert d.adverts() == []


async def test_relay_adverts_live_under_their_own_service_type() -> None:
    relay_key, node_key = new_key(), new_key()
    relay = Discovery(interfaces=["127.0.0.1"], service_type=presence.RELAY_SERVICE_TYPE)
    node = Discovery(interfaces=["127.0.0.1"])
    watcher = Watcher()
    seeker = Discovery(interfaces=["127.0.0.1"], service_type=presence.RELAY_SERVICE_TYPE,
                       on_change=watcher)
    try:
        await relay.async_start(PORT_11, presence.public_properties(relay_key, "relay"),
                                presence.public_instance_name(relay_key))
        await node.async_start(PORT_12, presence.public_properties(node_key, "node"),
                               presence.public_instance_name(node_key))
        await seeker.async_start(PORT_03, presence.public_properties(new_key(), "seeker"),
                                 presence.public_instance_name(new_key()))
        await watcher.until(lambda: find(seeker, relay_key) is not None)
        advert = find(seeker, relay_key)
        assert advert is not None and advert.addresses[0][1] == PORT_11
        assert relay.registered_name is not None
        assert relay.registered_name.endswith(presence.RELAY_SERVICE_TYPE)
        assert find(seeker, node_key) is None  # a node's advert is another service type
    finally:
        for d in (seeker, node, relay):
            await d.async_stop()
