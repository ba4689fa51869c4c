"""notes/s35/trial13c.md (B) on the chat screen, keys on prompt_toolkit's pipe input with the
scripted backends of the other screen tests: /remove and /group remove ask first (B5); Tab
never completes a name Enter refuses as ambiguous, and a question names such a group "#carol"
(B11); Esc leaves an unanswered NEW KEY warning on the row (B16); a command's answer stays
through the next commands that have none of their own (B14, a guard: it held already)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.tui.completing import completions
from p2pchat.tui.controller import SUPERSEDED_AFTER, Controller
from p2pchat.tui.state import ChatState
from tests.aio import until
from tests.tui.test_controller import notices
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial4 import Clock
from tests.tui.test_screen_trial5 import ImpostorBackend
from tests.tui.test_screen_trial7_add import MutualBackend
from tests.tui.test_screen_trial13b import ESC, TAB, drawn
from tests.tui.test_screen_trial13b_notices import CliUnblock
from tests.tui.test_state import BOB, CAROL, ME, contact

pytestmark = pytest.mark.timeout(30)


def on_screen(chat: Any, text: str) -> bool:
    return any(text in row for row in drawn(chat, 200, 30))


class Removing(GroupBackend):
    """bob (verified) and carol are contacts; a group "carol" that we own has bob in it."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [{**contact(BOB, "bob"), "verified": True}, contact(CAROL, "carol")]
        self.group_list = [group("carol", role="owner")]

    async def remove(self, who: str) -> dict[str, Any]:
        self.calls.append(("remove", who))
        gone = next(c for c in self.contact_list if c["fingerprint"] == who)
        self.contact_list = [c for c in self.contact_list if c is not gone]
        return {"removed": who, "name": gone["name"]}

    async def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": ME, "name": "me", "owner": True, "you": True},
                {"fingerprint": BOB, "name": "bob", "you": False, "contact": True}]

    async def remove_member(self, group_id: str, member: str) -> dict[str, Any]:
        self.calls.append(("remove_member", (group_id, member)))
        return group("carol", role="owner")

    async def group_consent(self, action: str, group_id: str) -> dict[str, Any]:
        self.calls.append((action, group_id))
        return {}


def removals(backend: Removing) -> list[Any]:
    return [args for call, args in backend.calls if call in ("remove", "remove_member")]


async def test_remove_asks_first_and_says_a_no() -> None:
    """B5: `/remove carol` removed at once; a "y" typed for the question that never came went
    out as a message."""
    backend = Removing()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/remove carol{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert chat.confirm[0].startswith("Remove carol? ") and "VERIFIED" not in chat.confirm[0]
        keys.send_text(f"n{ENTER}")
        await until(lambda: on_screen(chat, "carol not removed"), 10, "the no, on the row")
        keys.send_text(f"/remove carol{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question again")
        keys.send_text(ESC)
        await until(lambda: on_screen(chat, "not answered, so nothing done: Remove carol?"), 10,
                    "the Esc, on the row")
        assert removals(backend) == [] and CAROL in chat.state.conversations
        keys.send_text(f"/remove carol{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question a third time")
        keys.send_text(f"y{ENTER}")
        await until(lambda: removals(backend) == [CAROL], 10, "carol removed")
        await until(lambda: on_screen(chat, "removed carol; the history is kept"), 10,
                    "the answer")


async def test_removing_a_verified_contact_says_so_and_an_unknown_one_is_not_asked() -> None:
    backend = Removing()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/remove bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert "Remove bob? You VERIFIED bob" in chat.confirm[0], chat.confirm[0]
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.confirm is None, 10, "the answer")
        keys.send_text(f"/remove nobody{ENTER}")
        await until(lambda: on_screen(chat, "no contact named 'nobody'"), 10, "the refusal")
        assert chat.confirm is None and removals(backend) == []


async def test_group_remove_asks_first() -> None:
    """B5: `/group remove carol` removed at once; "y" then went to the group as a message."""
    backend = Removing()
    async with running(backend) as (chat, keys):
        chat.controller.select(GROUP)
        keys.send_text(f"/group remove bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        # the group is "#carol": a contact is called carol too (B11)
        assert chat.confirm[0].startswith("Remove bob from #carol? "), chat.confirm[0]
        keys.send_text(f"n{ENTER}")
        await until(lambda: on_screen(chat, "bob not removed from #carol"), 10, "the no")
        keys.send_text(f"/group remove nobody{ENTER}")  # no question the node would refuse
        await until(lambda: on_screen(chat, "no member called 'nobody' in #carol"), 10,
                    "the refusal")
        assert chat.confirm is None and removals(backend) == []
        keys.send_text(f"/group remove bob{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question again")
        keys.send_text(f"y{ENTER}")
        await until(lambda: removals(backend) == [(GROUP, "bob")], 10, "bob removed")


def test_tab_offers_both_forms_of_a_name_a_contact_and_a_group_share() -> None:
    """B11: "/msg ca" + Tab gave "/msg carol", which Enter refused as ambiguous."""
    backend = Removing()
    state = ChatState()
    state.set_contacts(backend.contact_list)
    state.set_groups(backend.group_list)
    for typed in ("/msg ca", "/query ca", "/j ca", "/msg carol"):
        assert sorted(completions(state, typed)) == [("#carol ", -len(typed.split()[1])),
                                                     ("@carol ", -len(typed.split()[1]))]
    assert completions(state, "/msg #c") == [("#carol ", -2)]
    assert completions(state, "/msg b") == [("bob ", -1)]  # one of its name: bare
    # the commands that take a contact only take the bare name (tui/contact_only.py)
    assert completions(state, "/verify ca") == [("carol ", -2)]
    assert completions(state, "ca") == [("carol", -2)]  # in a message: the word


async def test_tab_on_the_screen_offers_at_and_hash() -> None:
    backend = Removing()
    async with running(backend) as (chat, keys):
        keys.send_text(f"/msg ca{TAB}")
        await until(lambda: chat.input.buffer.complete_state is not None, 10, "the choices")
        offered = {c.text for c in chat.input.buffer.complete_state.completions}
        assert offered == {"@carol ", "#carol "}, offered  # never the bare name


async def test_forget_names_a_group_called_as_a_contact_with_its_hash() -> None:
    """B11: "Forget carol and delete all its messages?" with a contact carol."""
    backend = Removing()
    backend.group_list = [group("carol", role="left")]
    async with running(backend) as (chat, keys):
        keys.send_text(f"/group forget carol{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert chat.confirm[0].startswith("Forget #carol and delete"), chat.confirm[0]
        keys.send_text(f"n{ENTER}")
        await until(lambda: on_screen(chat, "#carol not forgotten"), 10, "the no")


async def test_esc_keeps_an_unanswered_new_key_warning() -> None:
    """B16: Esc with no page open cleared the NEW KEY warning from the row for good, while the
    request was still pending."""
    async with running(ImpostorBackend()) as (chat, keys):
        await until(lambda: on_screen(chat, "WARNING: bob"), 10, "the warning")
        chat.state.notice("info", "an answer of some command")
        chat.redraw()
        await until(lambda: on_screen(chat, "an answer of some command"), 10, "the answer")
        keys.send_text(ESC)
        await until(lambda: not on_screen(chat, "an answer of some command"), 10, "cleared")
        assert on_screen(chat, "WARNING: bob"), drawn(chat, 200, 30)


async def test_the_warning_goes_once_the_request_is_answered() -> None:
    async with running(CliUnblock()) as (chat, keys):
        await until(lambda: on_screen(chat, "WARNING: bob"), 10, "the warning")
        keys.send_text(f"/block bob ({CAROL[:7]}){ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        keys.send_text(f"y{ENTER}")
        await until(lambda: not on_screen(chat, "WARNING: bob"), 10, "the warning gone")


async def test_an_answer_stays_through_commands_of_no_answer_a_few_seconds_later() -> None:
    """B14 (a guard of the README's rule, which held already): "added carol; they had added you
    too, so you are linked" went ~2 s later as /query carol and /j hike were typed. A command
    with no answer of its own leaves the last answer; one run SUPERSEDED_AFTER later ends it."""
    controller = Controller(MutualBackend(online=True))
    clock = Clock()
    controller.state.clock = clock
    await controller.start()
    try:
        await controller.execute(f"/add {CAROL} carol")
        answer = "added carol; they had added you too, so you are linked: you can chat"
        assert answer in notices(controller)
        for line in ("/query carol", "/j bob", "/msg carol"):
            clock.now += 2
            await controller.execute(line)
            assert answer in notices(controller), (line, notices(controller))
        clock.now += SUPERSEDED_AFTER
        await controller.execute("/j carol")
        assert answer not in notices(controller), notices(controller)
    finally:
        await controller.stop()
