"""notes/s33/trial8.md, links that do not come up, with real nodes: the chat screen says what
the node knows where the user looks, once: a request a closed network drops (B2), a contact
who removed us (B13), a contact whose last known address stopped answering (B5), a relay that
is down (B6, B15)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from p2pchat.node import Node
from p2pchat.tui.backend import NodeBackend
from p2pchat.tui.controller import Controller
from p2pchat.tui.panes import header_rows
from p2pchat.tui.render import header, status_line
from tests.aio import until
from tests.integration.test_networks import CLASS_KEY, _join
from tests.local_nodes import MakeLocalNode
from tests.relay_client import RelayProcess
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair

pytestmark = pytest.mark.timeout(90)

POLL = 0.2  # the screen's reads of the node, in these tests
# NodeConfig for nodes whose contact stops answering: the failed dials these tests wait for
# come several a second, not one every few seconds (the dialer's back-off cap, 4 s by default,
# and a round's wait for a relay, which these nodes do not have, a quarter second).
QUICK_DIALS: dict[str, Any] = {"dial_cap": 0.2, "relay_after": 0.02}


async def watched(node: Node) -> Controller:
    """A chat screen on `node` that reads the node often (the screen's default: 5 s)."""
    controller = Controller(NodeBackend(node))
    controller.reach.period = POLL
    await controller.start()
    return controller


def said(chat: Controller, words: str) -> list[str]:
    return [n.text for n in chat.state.notices if words in n.text]


def line(chat: Controller) -> str:
    return "".join(text for _, text in status_line(chat.state))


async def polls(n: int) -> None:
    """Let the screen read the node `n` more times (it says nothing new meanwhile)."""
    await asyncio.sleep(POLL * n)


async def test_a_request_a_closed_network_drops_is_said_on_the_screen(
        make_local_node: MakeLocalNode) -> None:
    """B2: erin added alice, who is in a network: alice's node closes erin's connection
    unanswered. erin's screen said "alice · offline" and "they see a request" for ever."""
    alice, erin = await make_local_node("alice"), await make_local_node("erin")
    _join(alice, CLASS_KEY, "club")
    chat = await watched(erin)
    try:
        await chat.execute(f"/add {fp(alice)} alice")
        await chat.execute(f"/addr alice {addr(alice)}")
        conv = chat.state.conversations[fp(alice)]
        closed = "alice's node closes the connection unanswered: they may be in a closed" \
            " network, or not have you as a contact (not yet, removed or blocked)"
        await until(lambda: conv.unreachable == closed, 30, "the reason on the screen")
        assert header(chat.state) == f" alice · not linked: {closed}"  # it runs (trial 11)
        rows = ["".join(f[1] for f in row) for row in header_rows(header(chat.state), 80)]
        assert rows[-1].endswith("removed or blocked)")  # whole on an 80-column screen
        await polls(5)
        assert said(chat, "closes the connection unanswered") == [closed]  # once
        assert not said(chat, "they see a request")  # untrue: alice sees nothing
        await chat.execute("/contacts")
        assert chat.state.page is not None
        rows = [text for _, text in chat.state.page.lines]
        at = next(i for i, row in enumerate(rows) if fp(alice) in row)
        assert rows[at + 1].strip() == closed
    finally:
        await chat.stop()


async def test_a_contact_who_removed_us_is_said_on_the_screen(
        make_local_node: MakeLocalNode) -> None:
    """B13: dave removed erin; erin's screen showed "dave · offline" for good."""
    erin, dave = await linked_pair(make_local_node, "erin", "dave")
    chat = await watched(erin)
    try:
        conv = chat.state.conversations[fp(dave)]
        await until(lambda: conv.online, what="dave online on erin's screen")
        chat.state.select(fp(dave))
        await chat.execute("/msg dave")
        await chat.execute("are you there?")  # held by dave: he knew erin
        await until(lambda: any(m.status == "delivered" for m in conv.messages),
                    what="the message delivered")
        await dave.remove_contact("erin")
        await until(lambda: "removed you" in conv.unreachable, 30, "the reason")
        assert conv.unreachable.startswith("dave's node no longer knows you")
        assert "removed you" in header(chat.state)
        await polls(5)
        assert len(said(chat, "removed you")) == 1
    finally:
        await chat.stop()


def minutes_later(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The wall clock of this process's nodes steps past STALE_AFTER (p2pchat/clock.py's
    hook), as if the contact had stayed silent that long."""
    from p2pchat import clock
    from p2pchat.node.reach import STALE_AFTER

    skew = tmp_path / "clock-skew"
    skew.write_text(str(STALE_AFTER + 60))
    monkeypatch.setattr(clock, "_skew_file", str(skew))
    monkeypatch.setattr(clock, "_cached", (float("-inf"), 0))


async def test_a_contact_whose_last_address_does_not_answer_gets_the_addr_hint(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """B5: bob went (restarted elsewhere on a new port); carol's screen said "offline" and
    nothing suggested /addr. Trial 9, B7: nor does it 20 s after he went (he may have closed
    his laptop): "offline (last seen HH:MM)" first, the hint once his address has been silent
    for long, in the header and on /contacts, never as a notice."""
    from p2pchat.node.reach import STUCK_DIALS
    from p2pchat.tui.render import local_time

    carol, bob = await linked_pair(make_local_node, "carol", "bob", **QUICK_DIALS)
    was = addr(bob)
    chat = await watched(carol)
    try:
        conv = chat.state.conversations[fp(bob)]
        await until(lambda: conv.online, what="bob online")
        assert conv.unreachable == ""
        await bob.stop()
        await until(lambda: carol.list_contacts()[0].get("failed_dials", 0) >= STUCK_DIALS + 2,
                    30, "bob's address refused a few times")
        await until(lambda: conv.last_seen != "", 10, "when bob was last seen")
        await polls(3)
        assert header(chat.state) == f" bob · offline (last seen {local_time(conv.last_seen)})"
        assert conv.unreachable == "" and not said(chat, "does not answer")
        assert carol.list_contacts()[0]["address_stale"] is False
        minutes_later(monkeypatch, tmp_path)
        hint = f"last known at {was} does not answer: if they moved, /addr bob HOST:PORT"
        await until(lambda: conv.unreachable == hint, 30, "the /addr hint")
        assert header(chat.state) == \
            f" bob · offline (last seen {local_time(conv.last_seen)}): {hint}"
        await chat.execute("/contacts")
        assert chat.state.page is not None
        assert ("warning", "      " + hint) in chat.state.page.lines
        await polls(5)
        assert said(chat, "does not answer") == []  # where the user looks, no notice
    finally:
        await chat.stop()


async def test_a_relay_that_is_down_is_on_the_status_line_in_words(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """B6, B15: a relay-only node's status line said "reached by address only"; with the relay
    stopped, nothing said so, and `status` named it "ConnectionRefusedError"."""
    from p2pchat.net.relay_connection import parse_relay

    relay = RelayProcess(tmp_path / "relay").start()
    try:
        where = f"127.0.0.1:{relay.port}"
        dave = await make_local_node(
            "dave", relays=(parse_relay(f"{where}#{relay.status['fingerprint']}"),))
        chat = await watched(dave)
        try:
            await until(lambda: f"via relay {where}" in line(chat), 30, "the relay attached")
            assert "reached by address only" not in line(chat)
            relay.stop()
            await until(lambda: f"relay {where} unreachable" in line(chat), 30,
                        "the relay down on the status line")
            await until(lambda: "connection refused" in str(
                dave.status()["relays"][0]["last_error"]), 30, "a refused dial")
            assert "Error" not in str(dave.status()["relays"][0]["last_error"])
            await until(lambda: said(chat, f"relay {where} unreachable: contacts reached only"
                                           " through it are offline"), 30, "the notice")
            await polls(5)
            assert len(said(chat, f"relay {where} unreachable")) == 1  # once
            await until(lambda: "connection refused" in str(chat.state.relays), 30, "refused")
            await chat.execute("/peers")
            assert chat.state.page is not None
            assert f"relay {where} unreachable (cannot connect: connection refused): contacts" \
                " reached only through it are offline until it answers" \
                in [text for _, text in chat.state.page.lines]
        finally:
            await chat.stop()
    finally:
        relay.close()


def test_status_says_a_stopped_relay_in_words(tmp_path: Path) -> None:
    """B6: `p2pchat status` said "(cannot connect: ConnectionRefusedError)"."""
    from tests.integration.test_relay_nodes import relay_arg
    from tests.nodes import NodeProcess, wait_for

    relay = RelayProcess(tmp_path / "relay").start()
    dave = NodeProcess(tmp_path / "dave", "dave")
    try:
        dave.start("--relay", relay_arg(relay))
        wait_for(lambda: dave.json("status")["relays"][0]["state"] == "attached", 30,
                 "the relay attached")
        relay.stop()
        wait_for(lambda: "connection refused" in str(dave.json("status")["relays"][0]
                                                     ["last_error"]), 60, "a refused dial")
        said = dave.cli("status", check=True).stdout
        assert "(cannot connect: connection refused)" in said, said
        assert "Error" not in said, said
    finally:
        dave.close()
        relay.close()


def test_contacts_says_a_last_known_address_does_not_answer(tmp_path: Path) -> None:
    """B5 in the CLI: `p2pchat contacts` said only "offline" once bob's address went stale."""
    from p2pchat.clock import SKEW_ENV
    from p2pchat.node.reach import STALE_AFTER, STUCK_DIALS
    from tests.nodes import NodeProcess, wait_for

    skew = tmp_path / "clock-skew"
    carol = NodeProcess(tmp_path / "carol", "carol").start(env={SKEW_ENV: str(skew)})
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        was = bob.addr
        carol.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", was, check=True)
        bob.cli("contacts", "add", carol.fingerprint, "--name", "carol", "--addr", carol.addr,
                check=True)
        wait_for(lambda: carol.json("contacts", "list")[0]["online"], 30, "the link")
        assert "does not answer" not in carol.cli("contacts", check=True).stdout
        bob.stop()
        # As many failed dials as make an address stale once it has been silent for long (the
        # node's dialer backs off to 4 s: each more costs that).
        wait_for(lambda: carol.json("contacts", "list")[0].get("failed_dials", 0)
                 >= STUCK_DIALS, 60, "the failed dials a stale address needs")
        # Trial 9, B7: he may just have gone; the hint waits until he is silent for long.
        assert "does not answer" not in carol.cli("contacts", check=True).stdout
        skew.write_text(str(STALE_AFTER + 60))  # carol's node: ten minutes later
        wait_for(lambda: carol.json("contacts", "list")[0].get("address_stale"), 20,
                 "the address called stale")
        assert carol.json("contacts", "list")[0]["last_seen"]  # when the link ended
        said = carol.cli("contacts", check=True).stdout
        assert f"last known at {was} does not answer: if they moved, p2pchat contacts addr" \
            " bob HOST:PORT" in said, said
    finally:
        carol.close()
        bob.close()
