"""Versioning between real nodes on real sockets: a node that needs a newer protocol revision
tells an older one why in words (its user sees the reason), instead of dropping it."""

from __future__ import annotations

import pytest

from p2pchat.core.session import PROTOCOL_REVISION, SessionConfig
from tests.aio import until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


async def test_a_node_too_old_for_its_contact_is_told_so_in_words(
        make_local_node: MakeLocalNode) -> None:
    newer = await make_local_node("newer", session=SessionConfig(
        min_revision=PROTOCOL_REVISION + 1))
    older = await make_local_node("older")
    host, port = newer.listen_addresses[0]
    seen: list[dict[str, object]] = []

    def note(event: dict[str, object]) -> bool:
        seen.append(event)
        return True

    older.events.subscribe(note)
    await newer.add_contact(older.identity.fingerprint, "older")
    await older.add_contact(newer.identity.fingerprint, "newer", [f"{host}:{port}"])
    down = await until(lambda: [e for e in seen if e["type"] == "link_down"], 15,
                       "the older node told why its link closed")
    reason = str(down[0]["reason"])
    assert reason == (f"closed by peer: protocol revision {PROTOCOL_REVISION} is too old: this"
                      f" peer needs revision {PROTOCOL_REVISION + 1} or later (update p2pchat)")
    assert newer.links.live(older.key) is None


async def test_peers_shows_the_revision_each_peer_announced(
        make_local_node: MakeLocalNode) -> None:
    a, b = await make_local_node("a"), await make_local_node("b")
    host, port = b.listen_addresses[0]
    await b.add_contact(a.identity.fingerprint, "a")
    await a.add_contact(b.identity.fingerprint, "b", [f"{host}:{port}"])
    links = await until(lambda: a.peers()["links"], 15, "the link")
    assert links[0]["revision"] == PROTOCOL_REVISION
