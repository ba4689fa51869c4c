"""notes/s32/trial7.md and trial6.md leftovers on the chat screen, with real nodes: membership
notices age as event notices do and show a contact's current name (18), /group create NAME
MEMBERS (B1), a group named like a contact says how to reach each (trial 6, B11)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.node import Node
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import EVENT_LIFETIME, age_notices, user_acted
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_screen_trial4_nodes import addr, fp, screen
from tests.tui.test_state import CAROL, loaded_state

pytestmark = pytest.mark.timeout(90)


class Clock:
    """The screen's monotonic clock, moved by the test (no 60 s sleep)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


async def three(make_local_node: MakeLocalNode) -> tuple[Node, Node, Node]:
    alice, bob, carol = [await make_local_node(n) for n in ("alice", "bob", "carol")]
    for one, two in ((alice, bob), (alice, carol)):
        await one.add_contact(fp(two), two.name, [addr(two)])
        await two.add_contact(fp(one), one.name, [addr(one)])
        await until(lambda o=one, t=two: o.links.is_linked(t.key), what="the link")
    return alice, bob, carol


def texts(chat: Controller) -> list[str]:
    return [n.text for n in chat.state.notices]


async def team_with_bob_and_carol(alice: Node, bob: Node, carol: Node,
                                  chat: Controller) -> str:
    group = await alice.create_group("team")
    gid = str(group["group"])
    for member in (bob, carol):
        await alice.invite_to_group(gid, fp(member))
        await until(lambda m=member: any(g.get("role") == "invited"
                                         for g in m.list_groups()), what="the invitation")
        await member.accept_group("team")
    await until(lambda: any("carol joined" in t for t in texts(chat))
                and any("bob joined" in t for t in texts(chat)), what="the joins on the screen")
    return gid


async def test_membership_notices_go_a_minute_after_the_user_acted(
        make_local_node: MakeLocalNode) -> None:
    """18 (trial 7): "carol joined (team)", "bob joined (team)", "removed carol from team"
    stayed on the notice row for minutes of later commands."""
    alice, bob, carol = await three(make_local_node)
    chat = await screen(alice)
    clock = Clock(chat.state.clock())
    chat.state.clock = clock
    try:
        gid = await team_with_bob_and_carol(alice, bob, carol, chat)
        chat.state.select(gid)
        await chat.execute("/group remove carol")
        await until(lambda: any("removed carol" in t or "carol was removed" in t
                                for t in texts(chat)), what="the removal notice")
        for _ in range(3):  # later commands over the next minutes, events coming in between
            clock.now += EVENT_LIFETIME / 2
            await chat.execute("/id")
            await alice.send("bob", "still there?")
        clock.now += EVENT_LIFETIME + 1
        await chat.execute("/id")
        left = [t for t in texts(chat) if "joined" in t or "removed" in t]
        assert not left, texts(chat)
    finally:
        await chat.stop()


async def test_membership_notices_name_a_renamed_contact_as_now(
        make_local_node: MakeLocalNode) -> None:
    """18, B3 (trial 7): after `/rename carol caz` the row still said "removed carol from
    bob"; the conversation's lines already said caz."""
    alice, bob, carol = await three(make_local_node)
    chat = await screen(alice)
    try:
        gid = await team_with_bob_and_carol(alice, bob, carol, chat)
        chat.state.select(gid)
        await chat.execute("/group remove carol")
        await until(lambda: any("removed carol" in t for t in texts(chat)), what="the removal")
        await chat.execute("/rename carol caz")
        await until(lambda: chat.state.conversations[fp(carol)].name == "caz", what="renamed")
        about = [t for t in texts(chat) if "joined" in t or "removed" in t]
        # Her join went when she was removed: one notice per member, the newest (trial 12, B7)
        assert "you removed caz from team" in about and "caz joined (team)" not in about, about
        assert not [t for t in about if "carol" in t], about
        assert "bob joined (team)" in about, about
    finally:
        await chat.stop()


def test_a_change_told_again_does_not_bring_its_notice_back() -> None:
    """18 (trial 7): a group change the node tells again (the same op, its line already in
    the conversation) came back on the row, new, after it had aged."""
    state = loaded_state()
    clock = Clock(1000.0)
    state.clock = clock
    joined = {"type": "group_changed", **group("team"), "change": "join", "member": CAROL,
              "member_name": "carol", "member_contact": True, "number": 3,
              "text": "carol joined"}
    state.apply(joined)
    assert "carol joined (team)" in [n.text for n in state.notices]
    clock.now += 1
    user_acted(state)
    clock.now += EVENT_LIFETIME
    assert age_notices(state)
    state.apply(joined)  # the same op again
    assert not any("carol joined" in n.text for n in state.notices), \
        [n.text for n in state.notices]
    assert [m.text for m in state.conversations[GROUP].messages].count("carol joined") == 1


async def test_group_create_with_contacts_invites_them(make_local_node: MakeLocalNode) -> None:
    """B1 (trial 7): `/group create team bob carol` made ONE group named "team bob carol"."""
    alice, bob, carol = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create team bob carol")
        await until(lambda: any(g.get("role") == "invited" for g in carol.list_groups()),
                    what="carol invited")
        assert [g["title"] for g in alice.list_groups()] == ["team"]
        assert any(g.get("role") == "invited" for g in bob.list_groups())
        assert chat.state.current is not None and chat.state.current.name == "team"
        said = "created team and invited bob and carol (they join when they accept)"
        assert texts(chat)[-1] == said, texts(chat)
        await until(lambda: len([m for m in chat.state.current.messages  # type: ignore[union-attr]
                                 if "invited" in m.text]) == 2, what="the lines")
        assert [t for t in texts(chat) if "invited" in t] == [said], texts(chat)
    finally:
        await chat.stop()


async def test_group_create_with_a_word_not_a_contact_creates_nothing(
        make_local_node: MakeLocalNode) -> None:
    alice, _, _ = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create team bob zed")
        assert alice.list_groups() == []
        told = texts(chat)[-1]
        assert "nothing created: 'zed' is not a contact" in told, told
        # Not "a name with spaces goes in quotes: /group create "team bob zed"" (trial 13a, B9:
        # that makes a group of that name): add zed first, or create without them.
        assert "add zed as a contact first" in told and "/group create team bob)" in told, told
        await chat.execute('/group create "team bob zed"')  # quoted: one name with spaces
        assert [g["title"] for g in alice.list_groups()] == ["team bob zed"]
    finally:
        await chat.stop()


async def test_a_group_named_like_a_contact_says_how_to_reach_each(
        make_local_node: MakeLocalNode) -> None:
    """B11 (trial 6): `/group create carol` gave no hint that `/msg carol` becomes ambiguous."""
    alice, _, _ = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create carol")
        told = texts(chat)[-1]
        assert "/msg #carol for the group, /msg @carol for the contact" in told, told
        await chat.execute("/group create climbing")
        assert "/msg @" not in texts(chat)[-1], texts(chat)
    finally:
        await chat.stop()


def test_alt_a_visits_unread_messages_before_requests_the_oldest_first() -> None:
    """B15 (trial 6): Alt+A went to a request before a conversation with a message unread;
    weechat's hotlist takes unread messages first, the one waiting longest first."""
    from p2pchat.core.identity import Identity
    from tests.tui.test_state import BOB, DAVE, contact, message

    eve = Identity.from_seed(b"e" * 32).fingerprint
    state = loaded_state()
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol"), contact(DAVE, "dave")])
    state.apply({"type": "contact_request", "fingerprint": eve, "name": "eve", "note": ""})
    state.apply({"type": "group_invited", **group("team", role="invited"),
                 "invited_by_name": "bob"})
    for who, at in ((DAVE, "09:00"), (CAROL, "08:00")):  # dave above carol in the list
        state.conversations[who].last_activity = f"2026-01-01T{at}:00.000+00:00"
    state.fix_numbers()
    state.select(BOB)
    listed = [c.name for c in state.order()]
    # the request above the unread, the newer unread above the older: list order is not it
    assert listed.index("eve") < listed.index("dave") < listed.index("carol"), listed
    state.apply(message(DAVE, "d1", "later", author_name="dave",
                        at="2026-01-01T10:05:00.000+00:00"))
    state.apply(message(CAROL, "c1", "first", author_name="carol",
                        at="2026-01-01T10:01:00.000+00:00"))
    visited = [state.next_unread() for _ in range(4)]
    names = [c.name if c is not None else None for c in visited]
    assert names[:2] == ["carol", "dave"], names  # unread, the oldest first
    assert set(names[2:]) == {"eve", "team"}, names  # then the request and the invitation


async def test_a_line_behind_a_command_when_the_node_goes_stays_in_the_input() -> None:
    """A line typed while a command runs left the input at once; the node went before it
    ran and it was lost. It comes back to the input, "not sent", as a line typed while the
    node is stopped stays there (trial 6, B17)."""
    import asyncio

    from p2pchat.tui.backend import BackendError
    from tests.tui.test_controller import FakeBackend
    from tests.tui.test_screen import ENTER, running

    release = asyncio.Event()

    class Slow(FakeBackend):
        async def peers(self) -> dict[str, Any]:
            if release.is_set():
                return await super().peers()
            await release.wait()
            raise BackendError("disconnected", "the node closed the control connection")

    backend = Slow()
    release.set()  # the first load reads peers; the command below waits
    async with running(backend) as (chat, keys):
        release.clear()
        keys.send_text(f"/peers{ENTER}are you there{ENTER}")
        await until(lambda: chat.controller.running == "/peers"
                    and chat.input.text == "", 10, "the line queued behind /peers")
        chat.state.connected = False  # as the controller marks it when the node goes
        release.set()
        stopped = "not sent: your node is stopped (it stays here; Enter again once reconnected)"
        await until(lambda: any(n.text == stopped for n in chat.state.notices), 10,
                    f"refused: {texts(chat.controller)}")
        await until(lambda: chat.input.text == "are you there", 10, "back in the input")
        assert not [c for c in backend.calls if c[0] == "send"], backend.calls
        keys.send_text("\x15/quit" + ENTER)


async def test_a_message_the_gone_node_refuses_as_it_runs_stays_in_the_input() -> None:
    """The same when the screen learns the node went only from the send failing."""
    from p2pchat.tui.backend import BackendError
    from tests.tui.test_controller import FakeBackend
    from tests.tui.test_screen import ENTER, running

    class Gone(FakeBackend):
        async def send(self, who: str, text: str) -> dict[str, Any]:
            raise BackendError("disconnected", "the node closed the control connection")

    async with running(Gone()) as (chat, keys):
        keys.send_text(f"are you there{ENTER}")
        await until(lambda: chat.input.text == "are you there", 10, "back in the input")
        assert any(n.text.startswith("not sent: your node is stopped")
                   for n in chat.state.notices), texts(chat.controller)
        keys.send_text("\x15/quit" + ENTER)
