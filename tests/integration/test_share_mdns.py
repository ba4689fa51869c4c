"""share-app's mDNS advert, over real multicast on 127.0.0.1: its own service type, the port
it serves on and the path of the page."""

from __future__ import annotations

import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from p2pchat.core.presence import RELAY_SERVICE_TYPE, SERVICE_TYPE
from p2pchat.share.main import SHARE_SERVICE_TYPE, advertise

pytestmark = pytest.mark.timeout(30)


async def test_the_share_is_advertised_under_its_own_type() -> None:
    assert SHARE_SERVICE_TYPE not in (SERVICE_TYPE, RELAY_SERVICE_TYPE)
    discovery = await advertise(40745, "9.9.9", interfaces=["127.0.0.1"])
    assert discovery is not None
    reader = AsyncZeroconf(interfaces=["127.0.0.1"])
    try:
        name = discovery.registered_name
        assert name.endswith("." + SHARE_SERVICE_TYPE)
        info = AsyncServiceInfo(SHARE_SERVICE_TYPE, name)
        assert await info.async_request(reader.zeroconf, 10_000)
        assert info.port == 40745
        assert info.properties[b"path"] == b"/" and info.properties[b"v"] == b"9.9.9"
    finally:
        await reader.async_close()
        await discovery.async_stop()
