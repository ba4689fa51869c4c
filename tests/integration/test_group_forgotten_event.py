"""A group forgotten by one client is gone for every open chat of that node (trial 6, B3: the
chat kept listing a group `p2pchat group forget climb --yes` had forgotten)."""

from __future__ import annotations

import pytest

from tests.aio import next_event, until
from tests.groups_net import befriend, group_of, invite_and_accept
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


async def test_forgetting_a_group_tells_every_client(make_local_node: MakeLocalNode) -> None:
    a, b = [await make_local_node(n) for n in ("a", "b")]
    await befriend(a, b)
    group = (await a.create_group("climb"))["group"]
    await invite_and_accept(a, group, b)
    await until(lambda: group_of(b, group)["has_key"], 15, "joined")
    await b.leave_group(group)
    events = b.events.subscribe()
    await b.forget_group(group)
    said = await next_event(events, "group_forgotten", timeout=10)
    assert said["group"] == group and said["role"] == "forgotten"
