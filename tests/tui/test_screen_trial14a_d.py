"""notes/s36/trial14a.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backends of the other screen tests: Tab and /search tell a group from a contact of
the same name (B9); /group remove by the name a member calls themself says so (B10); a
refusal's corrected command line is put in the input (B17)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.backend import BackendError
from p2pchat.tui.completing import completions
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_rows import notice_rows
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial4 import Clock
from tests.tui.test_screen_trial13b import TAB
from tests.tui.test_screen_trial13c_asks import Removing, on_screen, removals
from tests.tui.test_state import BOB, CAROL, DAVE, ME, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)


def test_tab_after_a_mark_completes_the_group_or_the_contact() -> None:
    """B9: "/msg #b" Tab completed nothing; "#" and "@" pick the kind, shared name or not."""
    backend = Removing()  # contacts bob and carol, a group carol
    state = ChatState()
    state.set_contacts(backend.contact_list)
    state.set_groups(backend.group_list)
    assert completions(state, "/msg #c") == [("#carol ", -2)]
    assert completions(state, "/msg @c") == [("@carol ", -2)]
    assert completions(state, "/msg @b") == [("@bob ", -2)]  # no group bob: still the contact
    assert completions(state, "/j #") == [("#carol ", -1)]
    assert completions(state, "/msg b") == [("bob ", -1)]  # unmarked: as before
    backend.group_list = [group("team", role="owner")]
    state = ChatState()
    state.set_contacts(backend.contact_list)
    state.set_groups(backend.group_list)
    assert completions(state, "/msg #t") == [("#team ", -2)]
    assert completions(state, "/query #te") == [("#team ", -3)]


async def test_tab_on_the_screen_completes_hash_b() -> None:
    backend = Removing()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/msg #c{TAB}")
        await until(lambda: chat.input.text == "/msg #carol ", 10, "#carol completed")
        keys.send_text("\x15")  # Ctrl-U: the line gone
        keys.send_text(f"/msg @b{TAB}")  # bob: no group shares the name
        await until(lambda: chat.input.text == "/msg @bob ", 10, "@bob completed")


async def test_search_labels_a_shared_name_as_msg_takes_it() -> None:
    """B9: /search labelled the contact's and the group's results both "[carol]"."""
    class Talk(Removing):
        async def history(self, who: str, limit: int | None = None,
                          **options: Any) -> list[dict[str, Any]]:
            if who == CAROL:
                return [message(CAROL, "c1", "noon at the lake", author_name="carol")]
            if who == GROUP:
                return [message(GROUP, "g1", "noon for all", author_name="bob")
                        | {"group": "carol"}]
            return []

    controller = Controller(Talk())
    await controller.start()
    try:
        await controller.execute("/search noon")
        page = controller.state.page
        assert page is not None
        shown = [text for _, text in page.lines]
        assert any("[@carol]" in line and "lake" in line for line in shown), shown
        assert any("[#carol]" in line and "for all" in line for line in shown), shown
    finally:
        await controller.stop()


class Renamed(Removing):
    """carol, who calls herself carol, is "Carol S" here; she and bob are in a group "team"."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(BOB, "bob"),
                             {**contact(CAROL, "Carol S"), "announced_name": "carol"}]
        self.group_list = [group("team", role="owner")]

    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": ME, "name": "me", "owner": True, "you": True},
                {"fingerprint": BOB, "name": "bob", "you": False, "contact": True},
                {"fingerprint": CAROL, "name": "Carol S", "you": False, "contact": True}]

    async def remove_member(self, group_id: str, member: str) -> dict[str, Any]:
        self.calls.append(("remove_member", (group_id, member)))
        return group("team", role="owner")

    async def invite(self, group_id: str, who: str) -> dict[str, Any]:
        if who.casefold() == "carol":  # as the node refuses it: no contact is named so
            raise BackendError("unknown_contact", "no contact named 'carol': see 'p2pchat"
                                                  " contacts list'")
        self.calls.append(("invite", (group_id, who)))
        return group("team", role="owner")

    async def create_group(self, title: str) -> dict[str, Any]:
        self.calls.append(("create", title))
        return group(title, role="owner")


async def test_group_remove_by_the_name_a_member_calls_themself() -> None:
    """B10: `/group remove carol` (carol is "Carol S" here) said "no single member called
    'carol'" with no hint; B17: the corrected line is put in the input, not run."""
    backend = Renamed()
    async with running(backend) as (chat, keys):
        chat.controller.select(GROUP)
        await until(lambda: chat.state.current is not None and chat.state.current.loaded, 10,
                    "the group open")
        keys.send_text(f"/group remove carol{ENTER}")
        await until(lambda: on_screen(chat, "carol is now called 'Carol S'"), 10, "the hint")
        assert on_screen(chat, "the corrected line is in the input: Enter runs it")
        assert chat.input.text == '/group remove "Carol S"'
        assert chat.input.buffer.cursor_position == len(chat.input.text)
        assert chat.confirm is None and removals(backend) == []  # nothing run
        keys.send_text(ENTER)
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert chat.confirm[0].startswith("Remove Carol S from team?"), chat.confirm[0]
        keys.send_text(f"y{ENTER}")
        await until(lambda: removals(backend) == [(GROUP, "Carol S")], 10, "carol removed")
        keys.send_text(f"/group remove dave{ENTER}")
        await until(lambda: on_screen(chat, "no member called 'dave' in team: /group members"
                                            " lists them"), 10, "no such member, said so")
        assert chat.input.text == ""


async def test_group_create_puts_the_corrected_line_in_the_input() -> None:
    """B17: "nothing created: carol is now called 'Carol S': /group create team bob "Carol
    S"", and everything had to be typed again."""
    backend = Renamed()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/group create crew bob carol{ENTER}")
        await until(lambda: on_screen(chat, "the corrected line is in the input"), 10, "it")
        assert on_screen(chat, "nothing created: carol is now called 'Carol S'")
        assert chat.input.text == '/group create crew bob "Carol S"'
        assert ("create", "crew") not in backend.calls
        keys.send_text(ENTER)
        await until(lambda: ("create", "crew") in backend.calls, 10, "created on Enter")


async def test_the_corrected_line_never_replaces_text_typed_since() -> None:
    backend = Renamed()
    async with running(backend) as (chat, _keys):
        chat.controller.offer("/x")  # the screen's offer, as a refusal makes it
        assert chat.input.text == "/x"
        chat.input.text = "typed since"
        assert not chat.controller.offer("/group create crew bob \"Carol S\"")
        assert chat.input.text == "typed since"


def rows_of(state: ChatState, seen_at: float, width: int = 55) -> list[str]:
    return ["".join(f[1] for f in row)
            for row in notice_rows(state.notices, None, width, 3, seen_at)]


def test_a_fresh_warning_shows_below_a_standing_new_key_warning() -> None:
    """B11: a warning said as the chat opened never reached the row under a NEW KEY warning;
    information does not push the NEW KEY warning's commands off (round 2, 2)."""
    clock = Clock()
    state = loaded_state()
    state.clock = clock
    state.upsert_contact({**contact(BOB, "bob"), "verified": True})
    clock.now = 5.0
    state.notice("warning", "Your node was already running (pid 9), so --listen did nothing"
                            " (it listens on 127.0.0.1:4); to change that: quit, stop")
    state.notice("info", "some information")
    name = f"bob ({DAVE[:7]})"
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": name,
                 "same_name_as": BOB, "same_name_verified": True})
    rows = rows_of(state, seen_at=0.0)
    assert rows[0].startswith("WARNING: bob") and rows[1].startswith("Your node was"), rows
    assert len(rows) == 3
    rows = rows_of(state, seen_at=10.0)  # the user acted since: the newest, as before
    assert " ".join(rows).endswith(f"/accept {name}"), rows
    state.notices.clear()
    state.notice("info", "some information")
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": name,
                 "same_name_as": BOB, "same_name_verified": True})
    assert " ".join(rows_of(state, seen_at=0.0)).endswith(f"/accept {name}")


async def test_nearby_in_a_network_marks_a_stranger_outside_it() -> None:
    """B8: in network club, bob's /nearby listed a stranger by name, unmarked, as if the
    network reached them. A stranger outside the network says so; a member and a contact
    don't; outside any network nothing is marked."""
    from p2pchat.core.identity import Identity
    from tests.tui.test_screen_trial2 import NearbyBackend

    class InClub(NearbyBackend):
        networks: tuple[str, ...] = ("club",)

        async def status(self) -> dict[str, Any]:
            return {**await super().status(), "networks": list(self.networks)}

    dan, erin = (Identity.from_seed(seed * 32).fingerprint for seed in (b"d", b"e"))
    backend = InClub()
    backend.contact_list = [contact(BOB, "bob")]
    backend.nearby = [{"fingerprint": BOB, "name": "bob", "contact": True},
                      {"fingerprint": dan, "name": "dan", "contact": False, "network": "club"},
                      {"fingerprint": erin, "name": "erin", "contact": False}]
    chat = Controller(backend)
    await chat.start()
    try:
        await until(lambda: chat.state.networks == ["club"], 10, "in club")
        await chat.execute("/nearby")
        page = chat.state.page
        assert page is not None
        rows = [line.split("  ")[1] for _, line in page.lines[:3]]
        assert rows == ["1. bob (contact)", "2. dan", "3. erin (not in club)"], page.lines
        await chat.execute("/peers")
        assert chat.state.page is not None
        near = [text.rsplit(" ", 2)[0] for _, text in chat.state.page.lines
                if text.startswith("nearby: ")]
        assert near == ["nearby: bob", "nearby: dan", "nearby: erin (not in club)"], near
    finally:
        await chat.stop()
    backend.networks = ()
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute("/nearby")
        assert chat.state.page is not None
        assert not any("not in" in line for _, line in chat.state.page.lines)
    finally:
        await chat.stop()


async def test_group_invite_by_the_name_a_contact_calls_themself() -> None:
    """B17, the other refusals: `/group invite carol` said "no contact named 'carol'"."""
    backend = Renamed()
    async with running(backend) as (chat, keys):
        chat.controller.select(GROUP)
        await until(lambda: chat.state.current is not None and chat.state.current.loaded, 10,
                    "the group open")
        keys.send_text(f"/group invite carol{ENTER}")
        await until(lambda: on_screen(chat, "carol is now called 'Carol S': /group invite"),
                    10, "the hint")
        assert chat.input.text == '/group invite "Carol S"'
        keys.send_text(ENTER)
        await until(lambda: ("invite", (GROUP, "Carol S")) in backend.calls, 10, "invited")
