"""Trial 2, B17: `status` kept listing relays found by mDNS that were unreachable (adverts
other runs left in the caches) for ever. Real mDNS on 127.0.0.1, a real node."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from p2pchat.core.identity import Identity
from p2pchat.core.presence import RELAY_SERVICE_TYPE, public_instance_name, public_properties
from tests.aio import until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def advertiser() -> AsyncIterator[AsyncZeroconf]:
    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    yield zc
    await zc.async_close()


def dead_port() -> int:
    """A port nothing listens on (bound, then closed: connect() is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_advertised_relay_that_never_answers_leaves_the_status(
        make_local_node: MakeLocalNode, advertiser: AsyncZeroconf) -> None:
    key = Identity.generate().public_key
    port = dead_port()
    await advertiser.async_register_service(AsyncServiceInfo(
        RELAY_SERVICE_TYPE, f"{public_instance_name(key)}.{RELAY_SERVICE_TYPE}",
        port=port, properties=public_properties(key, "relay"),
        parsed_addresses=["127.0.0.1"]))
    node = await make_local_node("alice", mdns=True, mdns_interfaces=("127.0.0.1",))

    def ours() -> list[dict[str, object]]:  # other runs' relays on 127.0.0.1 are not judged
        return [r for r in node.status()["relays"]
                if str(r["relay"]).startswith(f"127.0.0.1:{port}")]

    await until(lambda: ours(), 15, "the advertised relay listed")
    await until(lambda: not ours(), 20, "the dead relay dropped")
    node.relays._on_adverts()  # the same advert heard again: not listed again
    assert ours() == []
