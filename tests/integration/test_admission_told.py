"""A wrong network passphrase is told within seconds whenever a member is heard, and a join
that waits says what it waits for (issue 23, trial 13: point 15 and B5)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from p2pchat.core.presence import Advert
from p2pchat.network_command import waiting_lines
from p2pchat.node import Node
from p2pchat.tui.state import ChatState
from tests.aio import next_event, until
from tests.integration.test_admission import PASSPHRASE, _addr, _member
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


def _advert(address: tuple[str, int], sealed: tuple[str, ...]) -> Advert:
    return Advert("x", (address,), "1", sealed=sealed)


def _entries(member: Node) -> tuple[str, ...]:
    return tuple(member.networks.properties(0).values())[1:]


def _dead_address() -> tuple[str, int]:
    """A port nothing listens on (a stale advert of a node that went)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return "127.0.0.1", port


@pytest.fixture
async def silent() -> AsyncIterator[tuple[str, int]]:
    """A node that takes the connection and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[:2]
    for writer in held:
        writer.close()
    server.close()


async def test_a_wrong_passphrase_is_told_though_other_nodes_heard_never_answer(
        make_local_node: MakeLocalNode, silent: tuple[str, int]) -> None:
    """Trial 13, 15: the creator nearby, strangers' stale adverts and a silent node heard too:
    "waiting" for 95 s. The member's refusal is said once the round ends, a few seconds."""
    member = await make_local_node("alice")
    _member(member)
    entries = _entries(member)
    joiner = await make_local_node("carol")
    joiner.admissions._adverts = lambda: [
        _advert(_dead_address(), entries), _advert(silent, entries),
        _advert(_addr(member), entries)]
    started = time.monotonic()
    await joiner.networks.join("lab", "a-wrong-" + PASSPHRASE)
    await until(lambda: joiner.networks.view()["states"] == {"lab": "refused"}, 10,
                "the refusal")
    print(f"refused after {time.monotonic() - started:.1f} s")
    assert member.admissions.failed_guesses == 1


async def test_a_join_the_members_limit_says_so_and_a_new_passphrase_asks_again(
        make_local_node: MakeLocalNode) -> None:
    """Every node on one machine shares its address: after wrong tries from it, the member
    answers BUSY, and the joiner said nothing ("waiting" for ever, trial 13 B5). It says why
    it waits, and for how long; a join with another passphrase is tried at once."""
    member = await make_local_node("bob")
    _member(member)
    for _ in range(4):  # wrong tries from this address (other people's nodes on the machine)
        member.admissions.limiter.start("127.0.0.1", b"x" * 16, time.monotonic())
    entries = _entries(member)
    joiner = await make_local_node("mallory")
    joiner.admissions._adverts = lambda: [_advert(_addr(member), entries)]
    events = joiner.events.subscribe()
    screen = ChatState()
    screen.set_status(joiner.status())
    await joiner.networks.join("lab", "a-wrong-" + PASSPHRASE)
    screen.apply(await next_event(events, "networks_changed"))
    event = await next_event(events, "admission_waiting", timeout=10)
    assert event["reason"] == "limited" and event["seconds"] > 0, event
    why = joiner.status()["networks_waiting_why"]  # `p2pchat status` says it too
    assert why["lab"]["reason"] == "limited" and why["lab"]["seconds"] > 0, why
    said = waiting_lines(joiner.status())
    assert said[0].startswith("network lab: waiting: the nodes heard limit guesses from this"
                              " address") and "asking again in" in said[0], said
    screen.apply(event)
    assert any("joining lab: the node nearby limits guesses from this address" in n.text
               and "asking again in" in n.text for n in screen.notices), \
        [n.text for n in screen.notices]


async def test_a_second_join_after_a_refusal_is_answered_anew(
        make_local_node: MakeLocalNode) -> None:
    """B5: refused once, then `/network join lab OTHER`: the new passphrase's refusal is said
    again (not hidden behind the old one), and the status no longer says refused meanwhile."""
    member = await make_local_node("bob")
    _member(member)
    entries = _entries(member)
    joiner = await make_local_node("mallory")
    joiner.admissions._adverts = lambda: [_advert(_addr(member), entries)]
    await joiner.networks.join("lab", "first-wrong-" + PASSPHRASE)
    await until(lambda: joiner.networks.view()["states"] == {"lab": "refused"}, 10,
                "the first refusal")
    events = joiner.events.subscribe()
    await joiner.networks.join("lab", "second-wrong-" + PASSPHRASE)
    assert joiner.status()["networks_refused"] == []  # a fresh start, not "refused" at once
    started = time.monotonic()
    await until(lambda: joiner.networks.view()["states"] == {"lab": "refused"}, 10,
                "the second refusal")
    print(f"second refusal after {time.monotonic() - started:.1f} s")
    assert member.admissions.failed_guesses == 2
    kinds = []
    while not events.empty():
        event = events.get_nowait()
        if event is not None:
            kinds.append((event["type"], event.get("refused")))
    assert ("networks_changed", ["lab"]) in kinds, kinds
