"""The newcomer's fourth trial of the chat screen (notes/s32/trial4.md: A 9, 21, 25 and
B7-B20), without a node: the view-model, the render functions, and keys on prompt_toolkit's pipe
input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prompt_toolkit.utils import get_cwidth

from p2pchat.tui.app import CONVERSATIONS_WIDTH
from p2pchat.tui.commands import COMMANDS, complete, help_lines
from p2pchat.tui.controller import Controller
from p2pchat.tui.farewell import wrapped
from p2pchat.tui.notice_rows import notice_rows
from p2pchat.tui.panes import header_rows
from p2pchat.tui.render import conversation_list, header, history_rows, wrap
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_groups_ui import GROUP, GroupBackend, group
from tests.tui.test_screen import ENTER, running
from tests.tui.test_state import BOB, CAROL, DAVE, ME, contact, loaded_state, message

pytestmark = pytest.mark.timeout(30)

TAB = "\t"


def sent(backend: FakeBackend) -> list[Any]:
    return [call[1] for call in backend.calls if call[0] == "send"]


def test_a_whole_action_word_completes_to_its_space() -> None:
    """A 21: `/group forget` + Tab did nothing; only `/group forget ` + Tab completed."""
    names = ["climbing", "old"]
    extra = {"ended": ["old"]}
    assert complete("/group forget", names, extra) == [("forget ", -6)]
    assert complete("/group invite", names, extra) == [("invite ", -6)]
    assert complete("/network join", names, extra) == [("join ", -4)]
    assert complete("/network ", names, extra) == [("join ", 0), ("leave ", 0), ("list", 0)]
    assert complete("/group members", names, extra) == []  # takes nothing: nothing to add


async def test_tab_after_a_whole_action_word_adds_the_space_and_offers_the_names() -> None:
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.upsert_group(group(title="old") | {"role": "left"})
        keys.send_text("/group forget" + TAB)
        await until(lambda: chat.input.text == "/group forget ", 10, "the space")
        await until(lambda: chat.input.buffer.complete_state is not None
                    and any(c.text == "old " for c in chat.input.buffer.complete_state.completions),
                    10, "the groups left offered")


async def test_text_typed_into_a_group_you_left_stays_in_the_input() -> None:
    """B13: "anyone still here?" + Enter in a group left: the input was emptied."""
    backend = FakeBackend()
    async with running(backend) as (chat, keys):
        chat.state.upsert_group(group(title="climbing") | {"role": "left"})
        chat.state.select(GROUP)
        chat.redraw()
        await until(lambda: chat.drafts.showing == GROUP, 10, "the group open")
        keys.send_text("anyone still here?" + ENTER)
        await until(lambda: any("you left climbing" in n.text for n in chat.state.notices),
                    10, "the refusal")
        assert chat.input.text == "anyone still here?"
        assert not sent(backend)


def rows_text(rows: list[Any]) -> list[str]:
    return ["".join(fragment[1] for fragment in row) for row in rows]


def main_width(columns: int) -> int:
    return columns - CONVERSATIONS_WIDTH - 1


def test_help_descriptions_hang_under_their_command_at_80_columns() -> None:
    """B10: continuation rows of a description started at column 0 under the commands."""
    state = loaded_state()
    state.show_page("Help", help_lines())
    for columns in (80, 120):
        width = main_width(columns)
        rows = rows_text(history_rows(state, width))
        commands = [i for i, row in enumerate(rows) if row.startswith("  /")]
        assert len(commands) >= len(COMMANDS)
        for row in rows[commands[0]:commands[-1]]:
            assert row.startswith("  "), (columns, row)  # never at column 0
            assert get_cwidth(row) <= width


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_a_fingerprint_is_never_cut_nor_split_inside_a_group(columns: int) -> None:
    """B8: /id cut the fingerprint ("...-JTB……") and /verify split "SCETF" / "CC"."""
    groups = ME.split("-")
    width = main_width(columns) if columns >= 72 else columns

    def whole(rows: list[str]) -> None:
        text = " ".join(rows)
        assert all(g in text.replace("\n", " ").split("-") or g in text for g in groups)
        words = {w for row in rows for w in row.replace("-", " ").split()}
        assert set(groups) <= words, rows  # each group whole on one row
        assert "……" not in text

    state = loaded_state()
    state.listen = ["0.0.0.0:42855", "[::]:42855"]
    controller = Controller(FakeBackend())
    controller.state = state
    controller.networks._state = state
    asyncio.run(controller.networks.cmd_id(""))
    rows = rows_text(notice_rows(state.notices, None, width, 3))
    whole(rows)
    assert get_cwidth(rows[0]) <= width
    for text in (f"Your fingerprint: {ME}", f"  {ME}"):
        whole(rows_text(wrap([("", text)], width, 2)))


def test_a_cut_notice_ends_in_one_ellipsis_and_notices_shows_it_whole() -> None:
    """B8 "……"; B9: "discovery is off (--no-mdns): no member can ……" could not be read."""
    long = ("discovery is off (--no-mdns): no member can find you to admit you; use p2pchat"
            " network join club --via HOST:PORT with a member's address")
    state = loaded_state()
    state.notice("warning", long)
    for width in (30, 40, 55):
        rows = rows_text(notice_rows(state.notices, None, width, 1))
        assert rows[0].endswith("…") and "……" not in rows[0], rows
    controller = Controller(FakeBackend())
    controller.state = state
    asyncio.run(controller.execute("/notices"))
    assert state.page is not None and "/notices" in "\n".join(help_lines())
    shown = " ".join(text for _, text in state.page.lines)
    assert "--via HOST:PORT with a member's address" in shown


@pytest.mark.parametrize("width", [40, 50, 60, 61, 62, 63])
def test_a_short_quoted_command_is_never_split_across_rows(width: int) -> None:
    """B14: at 60 columns "'kill 366" / "7' stops it." (and pasted, it does nothing)."""
    text = ("Your node is still running in the background (pid 3667): you stay online."
            " 'p2pchat chat' attaches to it again; 'kill 3667' stops it.")
    for rows in (wrapped(text, width).split("\n"), rows_text(wrap([("", text)], width, 2))):
        assert any("'kill 3667'" in row for row in rows), rows
        assert any("'p2pchat chat'" in row for row in rows), rows
        assert all(get_cwidth(row) <= width for row in rows)


@pytest.mark.parametrize("columns", [80, 120])
async def test_the_members_page_of_a_group_left_has_a_title_that_fits(columns: int) -> None:
    """B20: "Members of climbing as they were when you were removed (no news since): 2 members
    (Esc to clos" at 120 columns."""
    controller = Controller(GroupBackend())
    await controller.start()
    try:
        await controller.execute('/group create "climbing club of the north"')
        controller.state.apply({"type": "group_changed", "group": GROUP,
                                "title": "climbing club of the north",
                                "role": "removed", "change": "remove", "member": "x",
                                "member_name": "me", "you": True})
        await controller.execute("/group members")
        shown = header(controller.state)
        rows = rows_text(header_rows(shown, main_width(columns)))
        assert " ".join(" ".join(rows).split()) == " ".join(shown.split()), rows  # never cut
        assert controller.state.page is not None
        assert any("when you were removed" in line for _, line in controller.state.page.lines)
    finally:
        await controller.stop()


async def test_search_results_mark_the_word_found() -> None:
    """A25: the matched word was marked in the conversation but not on the results page."""
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        controller.state.apply(message(BOB, "m1", "ping me later"))
        controller.state.apply(message(BOB, "m2", "did you Ping"))
        await controller.execute("/search ping")
        rows = history_rows(controller.state, 80)
        found = [text for row in rows for style, text in row if "class:found" in style]
        assert found == ["ping", "Ping"], rows
    finally:
        await controller.stop()


class Removing(GroupBackend):
    """carol is a contact and, in a group called carol too (B7); /remove drops her from the
    node's list."""

    def __init__(self) -> None:
        super().__init__()
        self.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol"),
                             contact(DAVE, "dave")]
        self.group_list = [group("carol")]

    async def remove(self, who: str) -> dict[str, Any]:
        self.calls.append(("remove", who))
        gone = next(c for c in self.contact_list if c["fingerprint"] == who)
        self.contact_list.remove(gone)
        return {"removed": who, "name": gone["name"]}


async def test_a_removed_contact_keeps_its_place_number_and_history() -> None:
    """A 9: after /remove mallory the numbers below shifted (climbing 4 -> 3); B7: /remove
    carol was "ambiguous" with a group carol, and its hint "/msg carol" opened the group."""
    backend = Removing()
    controller = Controller(backend)
    await controller.start()
    try:
        state = controller.state
        state.apply(message(CAROL, "c1", "see you", author_name="carol"))
        before = [c.id for c in state.order()]
        await controller.execute("/remove carol")  # the contact: /remove takes no group
        assert ("remove", CAROL) in backend.calls, notices(controller)
        state.set_contacts(await backend.contacts())  # the node's list, without carol
        assert [c.id for c in state.order()] == before  # every number stays put
        conv = state.conversations[CAROL]
        assert conv.state == "removed"
        rows = "".join(text for _, text in conversation_list(state, CONVERSATIONS_WIDTH))
        assert "~ carol (removed)" in rows, rows
        hint = notices(controller)
        assert "/msg @carol shows it" in hint, hint
        await controller.execute("/msg @carol")  # the hint opens the contact's history
        assert state.selected == CAROL
        assert "read-only" in header(state)
        assert [m.text for m in state.conversations[CAROL].messages] == ["see you"]
        await controller.execute("/msg carol")  # the bare name: the live group, no question
        assert state.selected == GROUP
    finally:
        await controller.stop()


async def test_text_typed_to_a_removed_contact_stays_in_the_input() -> None:
    backend = Removing()
    async with running(backend) as (chat, keys):
        chat.state.fix_numbers()
        await chat.controller.execute("/remove @dave")
        await until(lambda: chat.confirm is not None, 10, "the question")  # 13c, B5
        keys.send_text("y" + ENTER)
        await until(lambda: ("remove", DAVE) in backend.calls, 10, "dave removed")
        chat.state.select(DAVE)
        chat.redraw()
        await until(lambda: chat.drafts.showing == DAVE, 10, "dave's history open")
        keys.send_text("still there?" + ENTER)
        await until(lambda: any("no longer a contact" in n.text for n in chat.state.notices),
                    10, "the refusal")
        assert chat.input.text == "still there?" and not sent(backend)


def test_a_group_left_keeps_its_place_until_forgotten() -> None:
    """A 9, the other half: a group you leave stays in its place until /group forget."""
    state = loaded_state()
    state.upsert_group(group(title="climbing"))
    state.fix_numbers()
    before = [c.id for c in state.order()]
    state.upsert_group(group(title="climbing") | {"role": "left"})
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol")])
    assert [c.id for c in state.order()] == before
    rows = "".join(text for _, text in conversation_list(state, CONVERSATIONS_WIDTH))
    state.select(GROUP)
    assert "# climbing" in rows and header(state) == " climbing · group (you left)"


async def test_block_means_the_contact_when_a_group_shares_the_name() -> None:
    """B7's rule for every command that takes a contact: /block carol is not ambiguous."""
    backend = Removing()
    controller = Controller(backend)
    await controller.start()
    try:
        asked: list[str] = []
        controller.contacts._ask = lambda: lambda question, _yes: asked.append(question)
        await controller.execute("/block carol")
        assert asked and asked[0].startswith(f"Block carol ({CAROL[:7]})?"), notices(controller)
    finally:
        await controller.stop()
