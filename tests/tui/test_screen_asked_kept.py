"""Trial 12, B15 (issue 23 point 18): a contact added and not met yet read "asked, waiting" on
the screen that added them and in `contacts add`, "offline" on a screen opened later and in
`p2pchat contacts`: the node keeps `asked` now, and every place says it from there."""

from __future__ import annotations

import pytest

from p2pchat.tui.render import header
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_controller import BOB, started
from tests.tui.test_screen_trial4_nodes import fp
from tests.tui.test_screen_trial8_reach import polls, watched

pytestmark = pytest.mark.timeout(60)


async def test_a_screen_opened_later_says_asked_waiting_then_online_then_offline(
        make_local_node: MakeLocalNode) -> None:
    alice, carol = await make_local_node("alice"), await make_local_node("carol")
    host, port = carol.listen_addresses[0]
    identity = carol.identity
    await carol.stop()
    await alice.add_contact(fp(carol), "carol", [f"{host}:{port}"])  # the CLI's add
    chat = await watched(alice)  # opened later: it did not see the add
    try:
        conv = chat.state.conversations[fp(carol)]
        chat.state.select(fp(carol))
        waits = " carol · asked: your request waits here until carol's node is reached"
        assert header(chat.state) == waits  # not delivered yet (trial 14a, B18)
        await chat.execute("/names")
        page = chat.state.page
        assert page is not None and " carol " in page.lines[0][1], page.lines
        # trial 14b, B13: not "asked, waiting" while the request is only in alice's node
        assert " asked, not delivered " in page.lines[0][1], page.lines
        chat.state.page = None
        await polls(2)  # the screen's reads of the node keep it
        assert header(chat.state) == waits
        carol = await make_local_node("carol", identity, listen=((host, port),))
        await until(lambda: any(c["state"] == "request" for c in carol.list_contacts()), 30,
                    "alice's request at carol's")
        await until(lambda: header(chat.state) == " carol · asked, waiting for carol to accept",
                    30, "the header once carol's node has the request")
        await chat.execute("/names")  # the list tells it apart as the header does (14b, B13)
        page = chat.state.page
        assert page is not None and " asked, waiting " in page.lines[0][1], page.lines
        chat.state.page = None
        await carol.add_contact(fp(alice), "alice")  # she accepts
        await until(lambda: [c["asked"] for c in alice.list_contacts()] == [False], 30,
                    "carol's Hello that knows alice")
        await until(lambda: header(chat.state) == " carol · online", 30, "carol online")
        await carol.stop()
        await until(lambda: not conv.online, 30, "carol gone")
        # the screen reads the node a second after a link came (reach_watch.SETTLE)
        await until(lambda: header(chat.state).startswith(" carol · offline (last seen "), 30,
                    "offline, last seen")
    finally:
        await chat.stop()


@pytest.mark.parametrize(("asked", "why"), [
    (False, "bob's node no longer knows you (they may have removed you)"),
    (True, "bob's node has your request and has not added you: not yet, or they removed you"),
])
async def test_a_knock_says_removed_from_the_nodes_asked(asked: bool, why: str) -> None:
    """A screen opened later, nothing of bob's in it (no last_seen: a node killed while
    linked notes none): the node's `asked` says whether bob's node once had us, so a knock
    reads as "no longer knows you" or as a request not answered yet, the two kept apart."""
    chat, backend, _ = await started()
    try:
        chat.state.select(BOB)
        conv = chat.state.conversations[BOB]
        conv.messages.clear()
        backend.contact_list[0] = backend.contact_list[0] | {
            "online": False, "awaits_answer": True, "asked": asked}
        conv.online = False
        await chat.reach.check()
        assert conv.unreachable.startswith(why), conv.unreachable
        assert header(chat.state).startswith(" bob · not linked: "), header(chat.state)
    finally:
        await chat.stop()
