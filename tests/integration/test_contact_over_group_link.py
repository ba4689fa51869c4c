"""Trial 5, B4: a contact added while a group-only link to them is up. The request went
nowhere until that link ended (dave saw nothing, carol's message stayed "sent"), and the CLI
said "linked, you can chat"."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import befriend, invite_and_accept
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)


def _state_at(node: Node, key: bytes) -> str | None:
    return next((c["state"] for c in node.list_contacts()
                 if c["fingerprint"] == fingerprint(key)), None)


async def test_adding_a_fellow_member_asks_them_at_once_and_accepting_links_as_contacts(
        make_local_node: MakeLocalNode) -> None:
    mdns = {"mdns": True, "mdns_interfaces": ("127.0.0.1",), "group_sync_interval": 0.5}
    a, b, c = [await make_local_node(name, **mdns) for name in ("a", "b", "c")]
    await befriend(a, b)
    await befriend(a, c)
    group = (await a.create_group("club"))["group"]
    await invite_and_accept(a, group, b)
    events = b.events.subscribe()
    await invite_and_accept(a, group, c)
    await until(lambda: b.links.is_linked(c.key) and c.links.is_linked(b.key), 20,
                "a group link between b and c")
    told: list[dict[str, Any]] = []

    def c_joined() -> bool:
        while not events.empty():
            if (event := events.get_nowait()) is not None:
                told.append(event)
        return any(e["type"] == "group_changed" and e["change"] == "join"
                   and e["member"] == fingerprint(c.key) for e in told)

    await until(c_joined, 20, "b hears c joined")
    # B9: c is not b's contact: the chat names them "~c" (tui/news.py), as Members does.
    assert {e["member_contact"] for e in told if e["type"] == "group_changed"
            and e["member"] == fingerprint(c.key)} == {False}
    assert b.links.live(c.key).peer.group_only  # type: ignore[union-attr]

    added = await b.add_contact(fingerprint(c.key), "carol")
    # Not "linked, you can chat": c has not added b (the CLI says so from `online`).
    assert added["online"] is False, added
    await until(lambda: _state_at(c, b.key) == "request", 10, "b's request at c, at once")
    queued = await b.send(fingerprint(c.key), "hi carol over the group's path")
    await c.accept_contact(fingerprint(b.key))
    await until(lambda: any(m["text"] == "hi carol over the group's path"
                            for m in c.history(fingerprint(b.key))), 15,
                "b's message at c once accepted")
    assert queued["text"] == "hi carol over the group's path"
    for x, y in ((b, c), (c, b)):  # a contacts' link now, on both sides
        await until(lambda x=x, y=y: (link := x.links.live(y.key)) is not None
                    and not link.peer.group_only, 15, "a contact link")
