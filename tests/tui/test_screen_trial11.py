"""notes/s34/trial11.md on the chat screen: a quoted name is the name without its quotes
(`/rename carol "Carol S"` kept them), wherever a name is typed; a command refused for an
ambiguous or unknown name gives the typed line back; an open /receipts page follows receipts."""

from __future__ import annotations

import pytest

from p2pchat.core.typed_name import first_quoted, unquoted
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import linked_pair, screen

pytestmark = pytest.mark.timeout(90)


def test_the_one_rule() -> None:
    assert unquoted('"Carol S"') == unquoted("'Carol S'") == unquoted(" Carol S ") == "Carol S"
    assert unquoted('"Carol" S') == '"Carol" S'  # not one quoted name: as typed
    assert unquoted('"Carol S') == '"Carol S'  # an unclosed quote stays
    assert first_quoted('"Carol S" Carol T') == ("Carol S", "Carol T")
    assert first_quoted("carol x") is None


async def test_quoted_names_are_read_without_their_quotes(
        make_local_node: MakeLocalNode) -> None:
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    chat = await screen(alice)
    try:
        await chat.execute('/rename carol "Carol S"')
        assert alice.db.contacts.get(carol.key).name == "Carol S"  # type: ignore[union-attr]
        await chat.execute("/rename 'Carol S' \"Carol T\"")
        assert alice.db.contacts.get(carol.key).name == "Carol T"  # type: ignore[union-attr]
        await chat.execute('/msg "Carol T" on my way')
        assert chat.state.current is not None and chat.state.current.name == "Carol T"
        asked: list[str] = []

        async def rename_self(name: str) -> dict[str, object]:
            asked.append(name)
            return {}
        chat.backend.rename_self = rename_self  # type: ignore[method-assign]
        await chat.execute('/nick "Alice L"')
        assert asked == ["Alice L"]
    finally:
        await chat.stop()


@pytest.mark.parametrize("line", ["/msg bob hello who?", "/msg nobody hello who?"])
async def test_a_command_refused_for_its_name_is_brought_back_by_up(
        make_local_node: MakeLocalNode, line: str) -> None:
    """Trial 11: with a group called bob, `/msg bob hello who?` said it was ambiguous and the
    line was gone; so for a name nobody has. Trial 12: put back in the input, the next line
    typed ran on from it. Now Up brings it back, and what is typed next runs alone."""
    from p2pchat.tui.backend import NodeBackend
    from tests.aio import until
    from tests.tui.test_screen import ENTER, running
    from tests.tui.test_screen_trial7 import texts

    alice, _ = await linked_pair(make_local_node, "alice", "bob")
    await alice.create_group("bob")
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        keys.send_text(f"{line}{ENTER}")
        await until(lambda: any("(Up brings the line back)" in t
                                for t in texts(chat.controller)), 10, "the refusal")
        said = texts(chat.controller)
        assert sum("ambiguous" in t or "/contacts" in t for t in said) == 1, said
        assert not any("not run" in t or "failed" in t for t in said), said
        assert chat.input.text == ""
        keys.send_text("\x1b[A")  # Up
        await until(lambda: chat.input.text == line, 10, "the line recalled")
        keys.send_text("\x15/id" + ENTER)  # typed next, alone: it runs
        await until(lambda: any("You are alice" in t for t in texts(chat.controller)), 10,
                    "/id ran")
        assert not [m for m in alice.history("@bob") if "who?" in str(m.get("text"))]
        keys.send_text("/quit" + ENTER)


async def test_an_open_receipts_page_follows_new_receipts() -> None:
    """Trial 11: the /receipts page was a snapshot; as the Members page, it follows."""
    from typing import Any

    from p2pchat.tui.controller import Controller
    from tests.tui.test_groups_ui import GROUP, GroupBackend, group
    from tests.tui.test_state import message

    carol = "C" * 52
    mine = message(GROUP, "m1", "count me in", own=True) | {
        "group": "club", "status": "sent", "delivered_to": [], "recipients": 2,
        "sent_to": ["B" * 52, carol]}

    class Backend(GroupBackend):
        async def history(self, who: str, limit: int | None = None,
                          **_: Any) -> list[dict[str, Any]]:
            return [mine]

        async def group_members(self, group_id: str) -> list[dict[str, Any]]:
            return [{"fingerprint": "B" * 52, "name": "bob", "online": True},
                    {"fingerprint": carol, "name": "carol", "online": True}]

    backend = Backend()
    backend.group_list = [group(role="owner")]
    controller = Controller(backend)
    await controller.start()
    try:
        controller.state.upsert_group(group(role="owner"))
        controller.state.select(GROUP)
        controller.state.apply(mine)
        await controller.execute("/receipts")
        page = controller.state.page
        assert page is not None and "delivered to 0 of 2: nobody yet" in page.lines[0][1], page
        mine["delivered_to"] = [carol]
        await controller._on_event({"type": "delivery", "fingerprint": GROUP, "id": "m1",
                                    "delivered_to": [carol], "recipients": 2})
        page = controller.state.page
        assert page is not None and "carol" in page.lines[0][1], page.lines
    finally:
        await controller.stop()


async def test_group_create_reads_a_comma_list_and_suggests_no_stray_words(
        make_local_node: MakeLocalNode) -> None:
    """Trial 11: `/group create climbing bob, Carol S` answered "nothing created: Carol is now
    called 'Carol S': /group create climbing bob "Carol S" S"."""
    from tests.tui.test_screen_trial7 import texts, three

    alice, _, _ = await three(make_local_node)
    await alice.rename_contact("carol", "Carol S")
    chat = await screen(alice)
    try:
        await chat.execute("/group create hike bob Carol S")
        said = texts(chat)
        assert any(t.endswith('/group create hike bob "Carol S"') for t in said), said
        assert not [g for g in alice.list_groups() if g["title"] == "hike"]
        await chat.execute("/group create climbing bob, Carol S")
        said = texts(chat)
        assert any("created climbing and invited bob and Carol S" in t for t in said), said
    finally:
        await chat.stop()


async def test_add_takes_a_quoted_name_without_its_quotes() -> None:
    from typing import Any

    from p2pchat.tui.backend import BackendError
    from p2pchat.tui.controller import Controller
    from tests.tui.test_controller import FakeBackend
    from tests.tui.test_state import DAVE

    class Backend(FakeBackend):
        async def add_contact(self, fingerprint: str, name: str,
                              addrs: list[str]) -> dict[str, Any]:
            self.calls.append(("add_contact", name))
            raise BackendError("exists", "stop here")

    backend = Backend()
    controller = Controller(backend)
    await controller.start()
    try:
        await controller.execute(f'/add {DAVE} "Carol S"')
        assert ("add_contact", "Carol S") in backend.calls, backend.calls
    finally:
        await controller.stop()


async def test_a_line_refused_for_its_name_is_not_handed_back() -> None:
    """Nothing refused is put back in the input (trial 12: the next line typed ran on from
    it, a passphrase into a notice); only lines queued behind a refused one are."""
    from p2pchat.tui.controller import Controller
    from tests.tui.test_controller import FakeBackend

    controller = Controller(FakeBackend())
    await controller.start()
    handed: list[str] = []
    controller.hand_back = lambda line, why: handed.append(line)
    try:
        for line in ("/msg nobody hi", "/frobnicate"):  # one after the other, not queued
            controller.submit(line)
            await until(lambda: not controller.busy(), 10, f"{line} run")
        assert handed == [], handed
    finally:
        await controller.stop()
