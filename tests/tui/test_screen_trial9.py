"""notes/s33/trial9.md B3: a notice tied to a state goes as soon as that state ends, and never
comes back when newer notices go: "the node stopped; reconnecting when it is back" stayed five
minutes after "reconnected to the node"; "last known at ... does not answer" stayed while the
contact showed online."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from p2pchat.node import Node
from p2pchat.tui.main import _NoticeHandler, logs_as_notices
from p2pchat.tui.news import node_gone
from p2pchat.tui.notice_ageing import age_notices
from p2pchat.tui.reach_watch import relay_lines
from p2pchat.tui.render import conversation_list, header
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.integration.test_relay_discovery import LOOPBACK_MDNS
from tests.local_nodes import MakeLocalNode
from tests.relay_client import RelayProcess
from tests.tui.test_screen_trial4_nodes import addr, fp, linked_pair
from tests.tui.test_screen_trial8_reach import (
    QUICK_DIALS,
    line,
    minutes_later,
    polls,
    said,
    watched,
)

pytestmark = pytest.mark.timeout(90)


def test_the_node_stopped_goes_when_the_node_is_back_and_stays_gone() -> None:
    now = [0.0]
    state = ChatState()
    state.clock = lambda: now[0]
    state.connected = False
    node_gone(state)
    state.connected = True
    age_notices(state)
    state.notice("info", "reconnected to the node")
    assert [n.text for n in state.notices] == ["reconnected to the node"]
    now[0] += 600.0  # the newer one ages: nothing older shows again
    age_notices(state)
    assert not [n for n in state.notices if "node stopped" in n.text]


def test_the_node_stopped_stays_while_the_node_is_away() -> None:
    state = ChatState()
    state.connected = False
    node_gone(state)
    age_notices(state)
    assert [n.text for n in state.notices] == ["the node stopped; reconnecting when it is back"]


async def test_does_not_answer_goes_when_the_contact_links(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The hint is in the header now, not a notice (trial 9, B7): it goes from there."""
    carol, bob = await linked_pair(make_local_node, "carol", "bob", **QUICK_DIALS)
    host, port = bob.listen_addresses[0]
    chat = await watched(carol)
    try:
        conv = chat.state.conversations[fp(bob)]
        chat.state.select(fp(bob))
        await until(lambda: conv.online, what="bob online")
        was = addr(bob)
        await bob.stop()
        minutes_later(monkeypatch, tmp_path)
        await until(lambda: "does not answer" in header(chat.state), 30, "the /addr hint")
        assert was in header(chat.state)
        chat.reach.period = 3600.0  # the watch's next read would drop it too: not the rule
        await make_local_node("bob", bob.identity, listen=((host, port),))
        await until(lambda: conv.online, 30, "bob back")
        assert "does not answer" not in header(chat.state)
        assert header(chat.state).startswith(" bob · online")
    finally:
        await chat.stop()


def test_a_left_group_is_marked_in_the_list() -> None:
    """B16: after /group leave the list read "6 # trio" like an active group; `p2pchat group`
    says "(left)"."""
    state = ChatState()
    state.set_groups([{"group": "a" * 32, "title": "trio", "role": "left"},
                      {"group": "b" * 32, "title": "team", "role": "member"},
                      {"group": "c" * 32, "title": "club", "role": "removed"}])
    rows = "".join(text for _, text in conversation_list(state, 24)).split("\n")
    assert any(row.rstrip().endswith("# trio (left)") for row in rows), rows
    assert any(row.rstrip().endswith("# team") for row in rows), rows
    assert any(row.rstrip().endswith("# club (removed)") for row in rows), rows


async def test_a_relay_found_nearby_carrying_no_link_is_only_in_peers(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """B17: carol's node attached to another person's relay found by mDNS, and only its log
    said so; trial13a B12: a notice for each such relay was four in four minutes on a busy
    LAN. With no link of hers through it, /peers lists it and the row says nothing (a link
    through it is said once: tests/tui/test_screen_trial13_notices.py)."""
    relay = RelayProcess(tmp_path / "relay").start(mdns=True)
    try:
        where = f"127.0.0.1:{relay.port}"
        carol = await make_local_node("carol", **LOOPBACK_MDNS)
        chat = await watched(carol)
        try:
            await until(lambda: f"relay {where} (found nearby): on hand, no link through it"
                        in relay_lines(chat.state.relays), 60, "attached, on the screen")
            await polls(5)
            assert not said(chat, f"relay {where}"), list(chat.state.notices)
            # No link goes through it: nothing on the status line (trial 11, B1)
            assert where not in line(chat), line(chat)
        finally:
            await chat.stop()
    finally:
        relay.close()


def test_any_loggers_warning_is_a_notice_while_the_screen_runs() -> None:
    """B10: text appeared on the input row and went at the next redraw. Nothing of ours
    prints there (the "Note: ..." the tester saw is printed only by the `p2pchat group accept`
    command, to its own terminal), but a warning of any logger but p2pchat's went to Python's
    last-resort stderr handler under the full screen: asyncio's, or the screen's own when
    attached to a running node. Now it is a notice."""
    handler = _NoticeHandler()
    state = ChatState()
    handler.show_in(state, lambda: None)
    with logs_as_notices(handler):
        logging.getLogger("asyncio").warning("Task exception was never retrieved")
        logging.getLogger("p2pchat.tui").warning("the screen's own warning")
    logging.getLogger("asyncio").warning("after the screen: not a notice")
    assert [n.text for n in state.notices] == ["Task exception was never retrieved",
                                               "the screen's own warning"]
    assert handler not in logging.getLogger().handlers


async def test_a_member_not_a_contact_is_named_on_the_screen_as_in_log(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """B4 on the screen: carol invited mallory (who calls herself bob; her request waits at
    alice as "bob (SHORT)") under carol's name for her, "mal". A chat opened after mallory
    wrote read "~mal: hello" from the history, live events "~bob (SHORT)": one name, the one
    she gave, as `log` has it."""
    from p2pchat.core.identity import Identity
    from p2pchat.home import ensure_home
    from p2pchat.node import NodeConfig

    alice, bob, carol = [await make_local_node(n) for n in ("alice", "bob", "carol")]
    mallory = Node(ensure_home(tmp_path / "mallory"), Identity.generate(), "bob",  # so she says
                   NodeConfig(listen=(("127.0.0.1", 0),), mdns=False))
    await mallory.start()
    try:
        await _one_name_for_mallory(alice, bob, carol, mallory)
    finally:
        await mallory.stop()


async def _one_name_for_mallory(alice: Node, bob: Node, carol: Node, mallory: Node) -> None:
    from tests.groups_net import befriend, caught_up, invite_and_accept, set_contact
    from tests.tui.test_screen_trial4_nodes import screen

    await befriend(alice, bob)
    await befriend(carol, alice)
    await mallory.add_contact(fp(alice), "alice", [addr(alice)])  # asks alice, as "bob"
    asking = f"bob ({fp(mallory)[:7]})"
    await until(lambda: any(c["name"] == asking for c in alice.list_contacts()), 20,
                "mallory's request at alice")
    await set_contact(carol, mallory, "mal", dial=True)
    await set_contact(mallory, carol, "carol", dial=False)
    group = (await carol.create_group("trio"))["group"]
    await invite_and_accept(carol, group, alice)
    await invite_and_accept(carol, group, mallory, "mal")
    await until(lambda: caught_up(mallory, group, carol), 20, "mallory in the group")
    await mallory.send(group, "hello trio, mal here")
    await until(lambda: any(m["text"] == "hello trio, mal here"
                            for m in alice.history(group)), 20, "her message at alice")
    chat = await screen(alice)
    try:
        chat.select(group)
        conv = chat.state.conversations[group]
        await until(lambda: conv.loaded, 10, "the group's history on the screen")
        shown = next(m for m in conv.messages if m.text.startswith("hello trio"))
        assert shown.author_name == f"~{asking}"
        joined = [m.text for m in conv.messages if m.system and "joined" in m.text]
        assert f"~{asking} joined" in joined, joined
    finally:
        await chat.stop()
    logged = next(m for m in alice.history(group) if m["text"].startswith("hello trio"))
    assert (logged["author_name"], logged["author_contact"]) == (asking, False)


async def test_group_create_names_a_renamed_contact_as_they_are_now(
        make_local_node: MakeLocalNode) -> None:
    """B11: carol renamed 'Carol S': `/group create climbing bob carol` said "a name with
    spaces goes in quotes: /group create "climbing bob carol"" (trial 10, B7: commas too)."""
    from tests.tui.test_screen_trial4_nodes import screen
    from tests.tui.test_screen_trial7 import texts, three

    alice, _, carol = await three(make_local_node)
    await until(lambda: alice.db.announced.get(carol.key) == "carol", what="carol's own name")
    await alice.rename_contact(fp(carol), "Carol S")
    chat = await screen(alice)
    try:
        await chat.execute("/group create climbing bob carol")
        assert alice.list_groups() == []
        assert texts(chat)[-1] == "nothing created: carol is now called 'Carol S':" \
                                  ' /group create climbing bob "Carol S"', texts(chat)
        await chat.execute('/group create climbing bob, "Carol S"')
        await until(lambda: [g["title"] for g in alice.list_groups()] == ["climbing"],
                    what="the group")
        assert "invited bob and Carol S" in texts(chat)[-1], texts(chat)
    finally:
        await chat.stop()


async def test_nearby_marks_contacts_requests_and_blocked_ones() -> None:
    """B13: /nearby listed '1. bob', '2. bob (K55H6V5)' (a pending impostor) and '3. Carol S'
    alike; `/add 1` then said "already a contact"."""
    from p2pchat.core.identity import Identity
    from p2pchat.tui.controller import Controller
    from tests.tui.test_screen_trial2 import NearbyBackend
    from tests.tui.test_state import BOB, CAROL, contact

    dan, erin = (Identity.from_seed(seed * 32).fingerprint for seed in (b"d", b"e"))
    backend = NearbyBackend()
    backend.contact_list = [contact(BOB, "bob"), contact(CAROL, "bob (K55H6V5)", "request"),
                            contact(dan, "dan", "blocked")]
    backend.nearby = [{"fingerprint": fp_, "name": name, "contact": fp_ == BOB}
                      for fp_, name in ((BOB, "bob"), (CAROL, "bob (K55H6V5)"), (dan, "dan"),
                                        (erin, "erin"))]
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute("/nearby")
        page = chat.state.page
        assert page is not None
        rows = [line.split("  ")[1] for _, line in page.lines[:4]]
        assert rows == ["1. bob (contact)", "2. bob (K55H6V5) (asks to connect)",
                        "3. dan (blocked)", "4. erin"], page.lines
    finally:
        await chat.stop()
