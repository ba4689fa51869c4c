"""Issue 23, point 18, hunted on real chat screens (session 35): a notice that is no longer
true, or one thing said twice. Each test here failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest

import p2pchat.tui.controller as controller_module
from p2pchat.tui import reach_watch
from p2pchat.tui.backend import BackendError
from p2pchat.tui.controller import Controller
from p2pchat.tui.news import group_key
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_network_ui import NetworkBackend
from tests.tui.test_screen_trial4_nodes import fp, linked_pair, screen
from tests.tui.test_screen_trial7 import texts
from tests.tui.test_state import BOB, contact

pytestmark = pytest.mark.timeout(60)


async def invited_to_team(make_local_node: MakeLocalNode) -> tuple[Controller, str]:
    """bob's screen, with alice's invitation to team waiting."""
    alice, bob = await linked_pair(make_local_node, "alice", "bob")
    chat = await screen(bob)
    group = await alice.create_group("team")
    gid = str(group["group"])
    await alice.invite_to_group(gid, fp(bob))
    await until(lambda: any("invites you" in t for t in texts(chat)), 10, "the invitation")
    return chat, gid


async def test_leaving_a_group_drops_you_joined_it(make_local_node: MakeLocalNode) -> None:
    """carol's row said "you joined team: opened it" above "you left team (its history is
    kept)": the first was no longer true."""
    chat, _ = await invited_to_team(make_local_node)
    try:
        await chat.execute("/group accept team")
        await until(lambda: any(t.startswith("you joined team") for t in texts(chat)), 10,
                    "the join")
        chat.ask = lambda question, yes: yes()
        await chat.execute("/group leave")
        await until(lambda: "you left team (its history is kept)" in texts(chat), 10,
                    "the leave")
        assert not [t for t in texts(chat) if "joined" in t], texts(chat)
    finally:
        await chat.stop()


async def test_an_invitation_again_drops_declined_it(make_local_node: MakeLocalNode) -> None:
    """carol's row said "declined the invitation to team" beside alice's new invitation to
    team: only the invitation was still true."""
    alice, bob = await linked_pair(make_local_node, "alice", "bob")
    chat = await screen(bob)
    try:
        group = await alice.create_group("team")
        gid = str(group["group"])
        await alice.invite_to_group(gid, fp(bob))
        await until(lambda: any("invites you" in t for t in texts(chat)), 10, "the invitation")
        await chat.execute("/group decline team")
        await until(lambda: "declined the invitation to team" in texts(chat), 10, "declined")
        await until(lambda: not alice.groups.find(gid).state.is_member(bob.key), 10,
                    "alice told of the decline")
        await alice.invite_to_group(gid, fp(bob))
        await until(lambda: any("invites you" in t for t in texts(chat)), 10, "invited again")
        assert not [t for t in texts(chat) if "declined" in t], texts(chat)
    finally:
        await chat.stop()


class CodedBackend(NetworkBackend):
    """A node that gives each network joined its check code, as `/network join` shows it."""

    async def network(self, action: str, name: str = "",
                      passphrase: str = "") -> dict[str, Any]:
        view = await super().network(action, name, passphrase)
        return {**view, "check_codes": {n: "4243 1436" for n in self.networks}}


async def test_a_network_left_from_the_cli_takes_what_the_join_said() -> None:
    """bob's row kept "joined club; networks: club (check code 4243 1436)" and "every member
    sees the same check code" after `p2pchat network leave club` (the status line had it)."""
    backend = CodedBackend()
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute("/network join club iron-purse-turf-dwell-slot-dairy")
        assert "check code 4243 1436" in notices(chat) and "same check code" in notices(chat)
        backend.networks.remove("club")  # `p2pchat network leave club`
        await chat._on_event({"type": "networks_changed", "networks": [], "waiting": []})
        assert chat.state.networks == []
        assert "club" not in notices(chat) and "check code" not in notices(chat), notices(chat)
        await chat.execute("/network join club iron-purse-turf-dwell-slot-dairy")
        await chat.execute("/network leave club")  # and the other way round
        assert "left club; networks: none" in notices(chat)
        backend.networks.append("club")  # `p2pchat network join club`
        await chat._on_event({"type": "networks_changed", "networks": ["club"], "waiting": []})
        assert "networks: none" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


async def test_an_invitee_answering_takes_what_create_said(
        make_local_node: MakeLocalNode) -> None:
    """alice's row kept "created crew and invited bob (they join when they accept)" above
    "bob joined (crew)"."""
    alice, bob = await linked_pair(make_local_node, "alice", "bob")
    chat = await screen(alice)
    try:
        await chat.execute("/group create crew bob")
        assert any(t.startswith("created crew and invited bob") for t in texts(chat))
        await until(lambda: any(g.get("role") == "invited" for g in bob.list_groups()), 10,
                    "the invitation")
        await bob.accept_group("crew")
        await until(lambda: "bob joined (crew)" in texts(chat), 10, "the join")
        assert not [t for t in texts(chat) if "created crew" in t], texts(chat)
    finally:
        await chat.stop()


async def test_a_contact_removed_from_the_cli_takes_why_they_seem_offline() -> None:
    """carol's row kept "alice's node no longer knows you (they may have removed you); they
    see a request until they add you again" after `p2pchat contacts remove alice`: alice was
    no contact of hers any more."""
    backend = FakeBackend()
    chat = Controller(backend)
    await chat.start()
    try:
        chat.state.notice("warning", "bob's node no longer knows you (they may have removed"
                          " you); they see a request until they add you again",
                          key=reach_watch.KEY + BOB)  # as the reach watch says it
        backend.contact_list = [c for c in backend.contact_list if c["fingerprint"] != BOB]
        await chat._on_event({"type": "contacts_changed"})  # `p2pchat contacts remove bob`
        assert chat.state.conversations[BOB].state == "removed"
        assert "no longer knows you" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


class BandBackend(FakeBackend):
    """A node whose group band we are in, until it says we were removed."""

    def __init__(self) -> None:
        super().__init__()
        self.role = "member"

    async def groups(self) -> list[dict[str, Any]]:
        return [{"group": "b" * 32, "title": "band", "role": self.role, "members": 2}]


async def test_removed_while_away_takes_you_joined() -> None:
    """carol's node was stopped while alice removed her from band: once it was back, her
    screen read the group as removed (its line "you were removed"), and the row still said
    "you joined band: opened it"."""
    backend = BandBackend()
    chat = Controller(backend)
    await chat.start()
    try:
        chat.state.set_groups(await backend.groups())
        chat.state.notice("info", "you joined band: opened it",
                          key=group_key("b" * 32, "join", "you"))  # as /group accept says
        backend.role = "removed"  # told by the node's catch-up, read at the reconnection
        chat.state.set_groups(await backend.groups())
        assert chat.state.conversations["b" * 32].state == "removed"
        assert "you joined" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


class RenamingBackend(FakeBackend):
    async def rename(self, who: str, name: str) -> dict[str, Any]:
        return contact(BOB, name)


async def test_renaming_back_says_the_newer_name_only() -> None:
    """alice's row said "bob (WUN5CDY) is now called Bobby" above "Bobby (WUN5CDY) is now
    called bob" after /rename bob Bobby and /rename Bobby bob; "bob is reached at
    127.0.0.1:40677" above "bob is reached at 127.0.0.1:40678" after two /addr."""
    chat = Controller(RenamingBackend())
    await chat.start()
    try:
        await chat.execute("/rename bob Bobby")
        await chat.execute("/rename Bobby bob")
        said = [t for t in notices(chat).split("\n") if "is now called" in t]
        assert len(said) == 1 and said[0].endswith("is now called bob"), said
        await chat.execute("/addr bob 127.0.0.1:40677")  # and where they are reached
        await chat.execute("/addr bob 127.0.0.1:40678")
        said = [t for t in notices(chat).split("\n") if "is reached at" in t]
        assert said == ["bob is reached at 127.0.0.1:40678"], said
    finally:
        await chat.stop()


async def test_id_twice_says_it_once() -> None:
    """/id then /id again left two copies of the fingerprint notice on the row."""
    chat = Controller(FakeBackend())
    await chat.start()
    try:
        await chat.execute("/id")
        await chat.execute("/id")
        assert notices(chat).count("your fingerprint, for friends to add") == 1, notices(chat)
    finally:
        await chat.stop()


class VerifyingBackend(RenamingBackend):
    async def verify(self, who: str, verified: bool) -> dict[str, Any]:
        return contact(BOB, "bob") | {"verified": verified}


async def test_verify_then_unverify_says_the_newer_only() -> None:
    """/verify bob yes then /verify bob no left "bob is marked verified: a new key under
    their name will be flagged" above "bob is not marked verified any more"."""
    chat = Controller(VerifyingBackend())
    await chat.start()
    try:
        await chat.execute("/verify bob yes")
        await chat.execute("/verify bob no")
        assert "is marked verified" not in notices(chat), notices(chat)
        assert "bob is not marked verified any more" in notices(chat)
    finally:
        await chat.stop()


class Restarting(FakeBackend):
    mode = "attached"
    down = True

    async def reconnect(self) -> None:
        if self.down:
            raise BackendError("no_node", "no node is running")


async def test_a_second_stop_takes_reconnected(monkeypatch: pytest.MonkeyPatch) -> None:
    """`p2pchat stop` and a start, twice: the row said "reconnected to the node" above "the
    node stopped", and twice once it was back."""
    monkeypatch.setattr(controller_module, "RECONNECT_DELAY", 0.01)
    backend = Restarting()
    chat = Controller(backend)
    await chat.start()
    try:
        for stream in (0, 1):
            backend.down = True
            backend.streams[stream].queue.put_nowait(None)  # the node stops
            await until(lambda: not chat.state.connected, 10, "disconnected")
            assert "reconnected" not in notices(chat), notices(chat)
            backend.down = False
            await until(lambda: chat.state.connected, 10, "reconnected")
        assert notices(chat).count("reconnected to the node") == 1, notices(chat)
    finally:
        await chat.stop()


async def test_rekey_twice_says_it_once() -> None:
    chat = Controller(FakeBackend())
    await chat.start()
    try:
        await chat.execute("/rekey")
        await chat.execute("/rekey")
        assert notices(chat).count("new session keys") == 1, notices(chat)
    finally:
        await chat.stop()


TEAM: dict[str, Any] = {"group": "t" * 32, "title": "team", "role": "owner", "members": 2}


class TeamBackend(FakeBackend):
    """A node whose group team we own, with bob in it; no events come of what is done."""

    async def groups(self) -> list[dict[str, Any]]:
        return [TEAM]

    async def manage_member(self, action: str, group: str, who: str) -> dict[str, Any]:
        return TEAM


async def test_unadmin_replaces_admin() -> None:
    """/group admin bob then /group unadmin bob left "admin: bob in team" beside "unadmin:
    bob in team" until the node's event came."""
    chat = Controller(TeamBackend())
    await chat.start()
    try:
        chat.state.set_groups(await chat.backend.groups())
        chat.state.select("t" * 32)
        await chat.execute("/group admin bob")
        await chat.execute("/group unadmin bob")
        about = [t for t in notices(chat).split("\n") if "admin" in t]
        assert about == ["unadmin: bob in team"], notices(chat)
    finally:
        await chat.stop()
