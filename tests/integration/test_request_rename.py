"""Trial 2, B14: a pending request kept the requester's old name after their /nick. Real nodes
over real sockets: the requester knocks again with its new name, and the request follows."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import addr
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(90)


def request_names(node: Node) -> list[str]:
    return [c["name"] for c in node.list_contacts() if c["state"] == "request"]


def nick(node: Node, name: str) -> None:
    """What `/nick` does past the identity file (these nodes have none)."""
    node.name = name
    for part in (node.views, node.trust, node.nearby):
        part.rename_self(name)
    node.router.announce_name()


def count_requests(node: Node) -> list[str]:
    """The names on each ContactRequest `node` takes from now on."""
    seen: list[str] = []
    take = node.trust.on_contact_request

    def counting(link: Any, key: bytes, request: Any) -> None:
        seen.append(request.name)
        take(link, key, request)
    node.trust.on_contact_request = counting  # type: ignore[method-assign]
    return seen


async def test_a_waiting_request_follows_the_requesters_new_name(
        make_local_node: MakeLocalNode) -> None:
    a = await make_local_node("alice")
    b = await make_local_node("bob")
    await a.add_contact(fingerprint(b.key), "bob", [addr(b)])
    await until(lambda: request_names(b) == ["alice"], 15, "alice's request at bob")
    nick(a, "Alice Liddell")
    await until(lambda: request_names(b) == ["Alice Liddell"], 20, "the request renamed")
    # A name bob gave the request himself stays.
    await b.rename_contact("Alice Liddell", "Ally")
    seen = count_requests(b)
    nick(a, "Alice L")
    await until(lambda: "Alice L" in seen, 20, "alice's request under her newest name")
    assert request_names(b) == ["Ally"]
