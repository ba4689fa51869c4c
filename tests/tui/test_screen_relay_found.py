"""Trial 11 (issue 23, point 18): alice's screen told of relays she never chose. Other people's
relays found by mDNS came and went; each time one stopped answering the screen said "relay ...
unreachable" (notice and status line: "relay down"), each re-attach said "attached to relay ...
found nearby" again, and the relay notice came back at the next read after Esc cleared it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from p2pchat.node import Node
from p2pchat.tui.reach_watch import relay_lines, relay_words
from tests.aio import until
from tests.integration.test_relay_discovery import LOOPBACK_MDNS
from tests.local_nodes import MakeLocalNode
from tests.relay_client import RelayProcess
from tests.tui.test_screen_relay_back import chosen_relay_down
from tests.tui.test_screen_trial8_reach import line, polls, said, watched

pytestmark = pytest.mark.timeout(120)


def listed(log: Iterable[tuple[float, str, str]], words: str) -> int:
    """How often /notices lists a notice with `words`."""
    return sum(1 for _, _, text in log if words in text)


def _ours(node: Node, fingerprint: str) -> dict[str, Any]:
    """Our relay as the node's `status` lists it ({} when not listed): other people's relays
    advertise on 127.0.0.1 too, so it is known by its fingerprint, not its address."""
    return next((r for r in node.status()["relays"]
                 if str(r["relay"]).endswith(fingerprint)), {})


async def test_a_relay_found_nearby_that_stops_answering_is_let_go_quietly(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "relay").start(mdns=True)
    try:
        where = f"127.0.0.1:{relay.port}"
        fingerprint = relay.status["fingerprint"]
        alice = await make_local_node("alice", **LOOPBACK_MDNS)
        chat = await watched(alice)
        try:
            found = f"relay {where}, found nearby"  # said only once it carries a link
            await until(lambda: _ours(alice, fingerprint).get("state") == "attached", 60,
                        "attached")

            relay.close()  # killed: it stops answering, its advert stays in the caches
            await until(lambda: bool(_ours(alice, fingerprint).get("last_error")), 30,
                        "the relay down")
            await polls(5)
            assert not said(chat, "unreachable"), list(chat.state.notices)
            assert where not in line(chat) and "relay down" not in line(chat), line(chat)
            assert not said(chat, found)  # no longer attached to it: its notice went

            # It comes back on its port (someone's test relay, a neighbour's machine): attached
            # again within a few seconds (BACKOFF_CAP), and not said again.
            await asyncio.to_thread(relay.start, mdns=True, listen=where)
            await until(lambda: _ours(alice, fingerprint).get("state") == "attached", 15,
                        "attached again")
            assert str(_ours(alice, fingerprint)["relay"]).startswith(where + "#")
            await polls(5)
            assert not said(chat, found), list(chat.state.notices)
            assert listed(chat.state.said, found) == 0  # no link went through it
        finally:
            await chat.stop()
    finally:
        relay.close()


async def test_a_chosen_relays_notice_cleared_with_esc_stays_cleared(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    async with chosen_relay_down(make_local_node, tmp_path) as down:
        screen = down.screen  # a relay dave chose: said, on the status line too
        assert f"relay {down.where} unreachable" in screen.line
        screen.chat.state.clear_notices()  # Esc
        for _ in range(3):
            await screen.chat.reach.check()
        assert not [n.text for n in screen.chat.state.notices if down.notice in n.text]
        assert f"relay {down.where} unreachable" in screen.line  # the status line still says
        assert listed(screen.chat.state.said, down.notice) == 1


async def test_the_node_lets_go_of_a_found_relay_whose_advert_goes(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """A relay stopped properly withdraws its advert: the node stops trying it and `status`
    no longer lists it (nothing left for the screen to say)."""
    relay = RelayProcess(tmp_path / "relay").start(mdns=True)
    try:
        fingerprint = relay.status["fingerprint"]
        alice = await make_local_node("alice", **LOOPBACK_MDNS)

        def listed_relay() -> dict[str, object] | None:
            return next((r for r in alice.status()["relays"]
                         if str(r["relay"]).endswith(fingerprint)), None)

        await until(lambda: (listed_relay() or {}).get("state") == "attached", 60, "attached")
        assert relay.stop() == 0  # SIGTERM: the advert's goodbye goes out
        await until(lambda: listed_relay() is None, 30, "the relay let go")
    finally:
        relay.close()


def test_the_status_words_report_only_a_chosen_relay_down() -> None:
    found = {"relay": "127.0.0.1:33033#AAAA", "found_by": "mdns", "state": "waiting",
             "links": 0, "last_error": "cannot connect: connection refused"}
    chosen = {"relay": "127.0.0.1:47744#BBBB", "found_by": "config", "state": "waiting",
              "links": 0, "last_error": "cannot connect: connection refused"}
    assert relay_words([found]) == ("", "")
    assert relay_words([found, chosen]) == ("relay 127.0.0.1:47744 unreachable", "relay down")
    # Attached to a found relay that carries no link: not "via relay" (trial 11, B1: the status
    # line said so while both links were direct); the chosen one is still said down.
    assert relay_words([{**found, "state": "attached"}]) == ("", "")
    assert relay_words([{**found, "state": "attached"}, chosen])[0] == \
        "relay 127.0.0.1:47744 unreachable"
    assert relay_words([{**found, "state": "attached", "links": 1}, chosen])[0] == \
        "via relay 127.0.0.1:33033"
    assert relay_words([{**chosen, "state": "attached", "last_error": None}]) == \
        ("via relay 127.0.0.1:47744", "relay")  # chosen: shown attached, links or not
    assert relay_lines([{**found, "state": "attached"}]) == [
        "relay 127.0.0.1:33033 (found nearby): on hand, no link through it"]
    assert relay_lines([found]) == [
        "relay 127.0.0.1:33033 (found nearby): not answering, not used until it does"]
