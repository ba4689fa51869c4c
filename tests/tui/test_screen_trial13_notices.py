"""notes/s35/trial13a.md on the chat screen, point 18 (stale or doubled notices): a removed
contact's "they see a request" came back (a); /add's mutual answer stayed 9 minutes beside the
link (b) or went within 3 s (f); "closes the connection unanswered" and "still has you as a
contact" outlived their truth (c)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.commands import help_lines
from p2pchat.tui.controller import Controller
from p2pchat.tui.notice_ageing import age_notices
from p2pchat.tui.refusals import refusal
from p2pchat.tui.render import header
from p2pchat.tui.state import ChatState
from tests.tui.test_controller import BOB, FakeBackend, notices, started
from tests.tui.test_group_consent_ui import ConsentBackend, invited
from tests.tui.test_groups_ui import group
from tests.tui.test_screen_trial7_add import MutualBackend
from tests.tui.test_screen_trial12_answers import FOUND, FoundRelayBackend, attached_notices
from tests.tui.test_state import CAROL, DAVE, contact

pytestmark = pytest.mark.timeout(30)


class AddRemoveBackend(FakeBackend):
    """dave is added (not linked: he sees a request), then removed."""

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        added = contact(fingerprint, name)
        self.contact_list = [*self.contact_list, added]
        return added

    async def remove(self, who: str) -> dict[str, Any]:
        self.contact_list = [c for c in self.contact_list if c["fingerprint"] != who]
        return {"removed": who, "name": "dave"}


async def test_a_removed_contacts_request_notice_goes_with_them() -> None:
    """18 a: `/add dave`, `/remove dave`: "added dave; they see a request until they add you
    too" stayed behind "removed dave ..." and showed again when that aged."""
    controller = Controller(AddRemoveBackend())
    now = [1000.0]
    controller.state.clock = lambda: now[0]
    await controller.start()
    try:
        await controller.execute(f"/add {DAVE} dave")
        # Their node not reached yet: the request waits here (trial 14a, B18)
        assert "added dave; the request waits here until dave's node is reached" \
            in notices(controller)
        await controller.execute("/remove dave")
        now[0] += 600.0
        age_notices(controller.state)
        assert "the request waits" not in notices(controller), notices(controller)
    finally:
        await controller.stop()


def link_up(fingerprint: str, name: str) -> dict[str, Any]:
    return {"type": "link_up", "fingerprint": fingerprint, "name": name, "contact": True,
            "address": "127.0.0.1:9", "path": "direct", "relay": None}


@pytest.mark.parametrize("answers", ["", "unanswered"])
async def test_a_mutual_adds_answer_says_linked_and_stays_its_time(answers: str) -> None:
    """18 b: "added carol; they had added you too, so you can chat (the link comes up when they
    are online)" stayed 9 minutes with carol linked (her node had closed us unanswered, so the
    link was taken for a knock); 18 f: the answer went within 3 s once linked."""
    controller = Controller(MutualBackend(online=False))
    now = [1000.0]
    controller.state.clock = lambda: now[0]
    await controller.start()
    try:
        await controller.execute(f"/add {CAROL} carol")
        controller.state.conversations[CAROL].answers = answers
        now[0] += 3.0
        controller.state.apply(link_up(CAROL, "carol"))
        linked = "added carol; they had added you too, so you are linked: you can chat"
        assert linked in notices(controller).split("\n"), notices(controller)
        assert "the link comes up" not in notices(controller)
        now[0] += 60.0
        age_notices(controller.state)
        assert linked in notices(controller), "gone before its time"
        now[0] += 60.0
        age_notices(controller.state)
        assert "added carol" not in notices(controller), notices(controller)
    finally:
        await controller.stop()


async def test_closed_unanswered_goes_when_the_link_comes_up() -> None:
    """18 c: both linked again, "bob's node closes the connection unanswered: ..." stayed
    25-60 s beside "bob · online"."""
    chat, backend, _ = await started()
    try:
        backend.contact_list[0] = backend.contact_list[0] | {"unanswered": True}
        await chat.reach.check()
        assert "bob's node closes the connection unanswered" in notices(chat)
        await chat._on_event(link_up(BOB, "bob"))
        assert "unanswered" not in notices(chat), notices(chat)
        await chat.reach.check()  # the node's flag read late: not said again
        assert "unanswered" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


class ReAddBackend(FakeBackend):
    """bob's node still has us after /remove bob; /add bob links again."""

    async def remove(self, who: str) -> dict[str, Any]:
        self.contact_list = [c for c in self.contact_list if c["fingerprint"] != who]
        return {"removed": who, "name": "bob", "they_have_you": True}

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        added = {**contact(fingerprint, name, online=True), "they_asked": True}
        self.contact_list = [*self.contact_list, added]
        return added


async def test_still_has_you_goes_when_they_are_a_contact_again() -> None:
    """18 c: "Carol S's node still has you as a contact: /add Carol S links you again; ..."
    stayed about 2 minutes after /add Carol S linked them."""
    chat = Controller(ReAddBackend())
    await chat.start()
    try:
        chat.state._numbers_fixed = True  # the list was shown: a removed contact keeps its row
        await chat.execute("/remove bob")
        assert "bob's node still has you as a contact" in notices(chat), notices(chat)
        await chat.execute("/add bob")
        assert chat.state.conversations[BOB].state == "contact"
        assert "still has you" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


class JoinFirstBackend(ConsentBackend):
    """The node's group_joined event reaches the screen before /group accept's reply."""

    state: ChatState | None = None

    async def group_consent(self, action: str, group_id: str) -> dict[str, Any]:
        assert self.state is not None
        self.state.apply({"type": "group_joined", **group(role="member"), "by": BOB,
                          "by_name": "bob"})
        return await super().group_consent(action, group_id)


async def test_one_group_accept_is_one_notice() -> None:
    """18 d: /notices listed "you joined hike 3 (bob invited you; /msg hike 3)" and "you
    joined hike 3 (your only pending invitation): opened it" for one /group accept."""
    backend = JoinFirstBackend()
    chat = Controller(backend)
    backend.state = chat.state
    await chat.start()
    try:
        chat.state.apply(invited())
        await chat.execute("/group accept")
        joined = [text for _, _, text in chat.state.said if text.startswith("you joined")]
        assert joined == ["you joined club (your only pending invitation): opened it"], joined
        assert [n.text for n in chat.state.notices if n.text.startswith("you joined")] \
            == joined
    finally:
        await chat.stop()


class JoinBackend(FakeBackend):
    async def status(self) -> dict[str, Any]:
        return {**await super().status(), "networks_waiting": ["hikers"]}

    async def network(self, action: str, name: str = "", passphrase: str = "",
                      *via: str) -> dict[str, Any]:
        return {"networks": [], "waiting": [name], "legacy": [], "states": {},
                "check_codes": {}}


async def test_a_refusal_after_a_join_typed_again_is_said_as_new() -> None:
    """18 e: mallory, refused, typed `/network join hikers ANOTHER`; it was refused at once,
    and the row's refusal read as the old one kept: the same words, listed once in
    /notices, below "joining hikers: waiting ..."."""
    chat = Controller(JoinBackend())
    await chat.start()
    try:
        refused = {"type": "networks_changed", "networks": [], "waiting": ["hikers"],
                   "refused": ["hikers"]}
        chat.state.apply(refused)
        await chat.execute("/network join hikers another-wrong-passphrase-x")
        assert any(n.text.startswith("joining hikers again with this passphrase")
                   for n in chat.state.notices), notices(chat)
        chat.state.apply({**refused, "refused": []})  # asking again
        chat.state.apply(refused)  # and refused again
        newest = chat.state.notices[-1].text
        assert newest.startswith("hikers: no node nearby admitted you (again, with the"
                                 " passphrase just typed)"), newest
        listed = [text for _, _, text in chat.state.said if "no node nearby" in text]
        assert len(listed) == 2, listed
    finally:
        await chat.stop()


def test_a_wrong_passphrase_warning_is_not_dropped_unread() -> None:
    """18 g: "3 wrong passphrases for your network hikers from 127.0.0.1: ..." was never on
    the row: another joiner on 127.0.0.1 proved the passphrase seconds later, which dropped
    it. It stays, in true words, for an informational notice's time."""
    state = ChatState()
    now = [1000.0]
    state.clock = lambda: now[0]
    guesses = {"type": "admission_guesses", "source": "127.0.0.1", "failed": 3,
               "network": "hikers", "cleared": False}
    state.apply(guesses)
    assert state.notices[-1].kind == "warning"
    now[0] += 5.0
    state.apply({**guesses, "failed": 0, "cleared": True})
    shown = [n.text for n in state.notices if "wrong passphrases" in n.text]
    assert shown == ["3 wrong passphrases for your network hikers from 127.0.0.1, then the"
                     " right one: a mistyped passphrase, not a guess"], shown
    now[0] += 121.0
    age_notices(state)
    assert not [n for n in state.notices if "wrong passphrases" in n.text]


async def test_one_re_add_hint_everywhere() -> None:
    """B7: the header said "(/add Carol S links you again)", a line typed in the conversation
    "/add B4IMZ5B-...-A3FPQA2 Carol S adds them again", /help "/add FINGERPRINT NAME"; the
    short one works, so it is the one said."""
    chat = Controller(ReAddBackend())
    await chat.start()
    try:
        chat.state._numbers_fixed = True
        await chat.execute("/remove bob")
        chat.state.select(BOB)
        assert "/add bob links you again" in header(chat.state), header(chat.state)
        said = refusal(chat.state, "hello")
        assert said is not None and "/add bob adds them again" in said, said
        assert any("/add NUMBER or NAME" in line for line in help_lines())
        await chat.execute("/add bob")  # and it works
        assert chat.state.conversations[BOB].state == "contact"
    finally:
        await chat.stop()


async def test_a_found_relay_is_news_only_once_it_carries_a_link() -> None:
    """B12: on a busy LAN each stranger's relay found nearby added "attached to relay
    127.0.0.1:NNNNN found nearby (not one you chose) ...": four in four minutes. Attached with
    no link of ours through it, it is only in /peers; said once when it first carries one."""
    strangers = [{**FOUND, "relay": f"127.0.0.1:{port}#" + "S" * 8} for port in (1, 2, 3, 4)]
    backend = FoundRelayBackend([])
    chat = Controller(backend)
    await chat.start()
    try:
        for count in range(1, 5):
            backend.relays = strangers[:count]
            await chat.reach.check()
        assert attached_notices(chat) == [], attached_notices(chat)
        backend.relays = [*strangers[:3], {**strangers[3], "links": 1}]
        await chat.reach.check()
        assert attached_notices(chat) == [
            "a link goes through relay 127.0.0.1:4, found nearby (not one you chose):"
            " 'p2pchat settings found-relays off' (or --no-found-relays) turns that off"]
        backend.relays = strangers  # the link went, and comes back: not said again
        await chat.reach.check()
        backend.relays = [*strangers[:3], {**strangers[3], "links": 2}]
        await chat.reach.check()
        assert len(attached_notices(chat)) == 1
        assert sum("127.0.0.1:4" in text for _, _, text in chat.state.said) == 1
    finally:
        await chat.stop()


class RenameBackend(FakeBackend):
    async def accept(self, who: str) -> dict[str, Any]:
        return contact(CAROL, "bob (CVZVPAH)")

    async def rename(self, who: str, name: str) -> dict[str, Any]:
        return contact(who, name)


async def test_an_answer_naming_a_contact_shows_their_new_name() -> None:
    """20, a leftover: after `/rename bob (CVZVPAH) mallory` the row kept "accepted bob
    (CVZVPAH): opened bob (CVZVPAH)'s conversation" beside "bob (CVZVPAH) is now called
    mallory"."""
    chat = Controller(RenameBackend())
    await chat.start()
    try:
        await chat.execute("/accept carol")
        assert "accepted bob (CVZVPAH): opened bob (CVZVPAH)'s conversation" in notices(chat)
        await chat.execute("/rename bob (CVZVPAH) mallory")
        said = notices(chat)
        assert "accepted mallory: opened mallory's conversation" in said, said
        assert "accepted bob" not in said
    finally:
        await chat.stop()


async def test_a_blocked_contacts_news_goes_with_them() -> None:
    """18 a: after `/block mallory` + y, "mallory now calls themself 'bob' ..." came back."""
    chat, _, _ = await started()
    try:
        chat.state.apply({"type": "peer_renamed", "fingerprint": BOB, "name": "bob",
                          "their_name": "Bobby"})
        assert "bob now calls themself 'Bobby'" in notices(chat), notices(chat)
        await chat.execute("/block bob")
        assert "calls themself" not in notices(chat), notices(chat)
    finally:
        await chat.stop()


async def test_the_watch_reading_them_linked_ends_the_wait() -> None:
    """18 b: no link event to end "(the link comes up when they are online)" (the link was
    up before /add's answer, taken for a knock): the node read says they are linked."""
    backend = MutualBackend(online=False)
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute(f"/add {CAROL} carol")
        assert "the link comes up" in notices(chat)
        backend.contact_list = [{**c, "online": True} if c["fingerprint"] == CAROL else c
                                for c in backend.contact_list]
        await chat.reach.check()
        assert "added carol; they had added you too, so you are linked: you can chat" \
            in notices(chat), notices(chat)
    finally:
        await chat.stop()


def test_a_notice_said_again_is_listed_once_at_its_newest_time() -> None:
    """Trial 14d, B9: `/rename carol "Carol S"`, back to carol, then "Carol S" again: /notices
    listed "... is now called Carol S" once, at its first time, below the rename it undid, so
    read top to bottom her name was still carol."""
    state = ChatState()
    state.notice("info", "carol is now called Carol S", key="renamed:X")
    state.drop_notices(key="renamed:X")
    state.notice("info", "Carol S is now called carol", key="renamed:X")
    state.drop_notices(key="renamed:X")
    state.notice("info", "carol is now called Carol S", key="renamed:X")
    listed = [text for _, _, text in state.said]
    assert listed == ["Carol S is now called carol", "carol is now called Carol S"], listed
