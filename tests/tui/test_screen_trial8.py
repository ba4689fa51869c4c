"""notes/s33/trial8.md on the chat screen, with real nodes: lines typed behind a command that
failed are not sent anywhere (B1), contact-only commands resolve among contacts (B7), an
owner's /group leave is refused before it asks (B8), /network leave says what it left (B9),
/accept points at the pending request (B11), /notices opens at the newest (B12), a group
named like a contact is #NAME in notices (B17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from p2pchat.home import ensure_home
from p2pchat.node import Node, NodeConfig
from p2pchat.tui.backend import NodeBackend
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial4_nodes import addr, fp, screen
from tests.tui.test_screen_trial7 import texts, three

pytestmark = pytest.mark.timeout(90)


def sent_texts(node: Node, who: str) -> list[str]:
    return [str(m.get("text")) for m in node.history(who)]


@pytest.mark.parametrize("switch", ["/msg dave", "/msg carol"])
async def test_lines_typed_behind_a_refused_msg_are_sent_nowhere(
        make_local_node: MakeLocalNode, switch: str) -> None:
    """B1: in one burst `/msg dave` (no such name) or `/msg carol` (a contact and a group)
    Enter, then two lines: both went to the conversation still open, a group with others in
    it. They come back to the input, with the failed command named."""
    alice, _, _ = await three(make_local_node)
    team = await alice.create_group("team")
    await alice.create_group("carol")  # `/msg carol` is ambiguous now
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        keys.send_text(f"/j team{ENTER}")  # as typed: the screen keeps each one's draft
        await until(lambda: chat.drafts.showing == team["group"], 10, "team open, its draft too")
        keys.send_text(f"{switch}{ENTER}burst one{ENTER}burst two{ENTER}")
        await until(lambda: chat.input.text == "burst one\nburst two", 10,
                    f"the lines back in the input: {texts(chat.controller)}")
        said = texts(chat.controller)
        assert any(f"not sent: {switch} failed, so the 2 lines typed after it did not run" in t
                   for t in said), said
        assert any(("dave" in t and "/contacts" in t) or "ambiguous" in t for t in said), said
        assert not [t for t in sent_texts(alice, str(team["group"])) if "burst" in t]
        assert not [t for t in sent_texts(alice, "bob") if "burst" in t]
        keys.send_text("\x15" * 3 + "/quit" + ENTER)


async def test_a_line_behind_a_command_that_worked_still_goes(
        make_local_node: MakeLocalNode) -> None:
    """B1's hold is for failures only: `/msg carol` then a line goes to carol."""
    alice, _, _ = await three(make_local_node)
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        keys.send_text(f"/msg carol{ENTER}to carol{ENTER}")
        await until(lambda: "to carol" in sent_texts(alice, "carol"), 10, "sent to carol")
        assert chat.input.text == ""
        keys.send_text("/quit" + ENTER)


async def test_contact_only_commands_take_the_contact_when_a_group_has_its_name(
        make_local_node: MakeLocalNode) -> None:
    """B7: with a group and a contact both called bob, `/verify bob` and `/rename bob Bobby`
    were refused as ambiguous, the hint speaking of /msg; only a contact can be either."""
    alice, bob, _ = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create bob")
        await chat.execute("/verify bob")
        page = chat.state.page
        assert page is not None and page.title == "Verify bob", texts(chat)
        await chat.execute("/safety bob")
        assert chat.state.page is not None and chat.state.page.title == "Safety number with bob"
        await chat.execute("/rename bob Bobby")
        await until(lambda: chat.state.conversations[fp(bob)].name == "Bobby", 10,
                    f"the contact renamed: {texts(chat)}")
        assert [g["title"] for g in alice.list_groups()] == ["bob"]
        await chat.execute("/rename Bobby bob")
        await chat.execute("/j bob")  # a contact or a group: still asks, in its own words
        said = texts(chat)[-1]
        assert "/j #bob for the group, /j @bob" in said and "/msg" not in said, said
    finally:
        await chat.stop()


async def test_an_owner_leaving_is_refused_before_the_question(
        make_local_node: MakeLocalNode) -> None:
    """B8: an owner's `/group leave` asked "Leave team? y/n" and only after y said "you own
    this group: hand it on first ('group transfer GROUP MEMBER')", the CLI's form."""
    alice, _, _ = await three(make_local_node)
    chat = await screen(alice)
    asked: list[str] = []
    chat.ask = lambda question, on_yes: asked.append(question)
    try:
        await chat.execute("/group create team bob")
        await until(lambda: chat.state.current is not None and chat.state.current.members > 1,
                    10, "bob invited")
        await chat.execute("/group leave")
        assert asked == [], asked
        said = texts(chat)[-1]
        assert "you own team" in said and "/group transfer MEMBER" in said, said
        assert "'group transfer" not in said, said
        assert [g["role"] for g in alice.list_groups()] == ["owner"]
    finally:
        await chat.stop()


async def test_accept_of_a_contacts_name_points_at_the_request_under_it(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """B11: `/accept bob` with bob a contact and a request from another "bob" (listed as
    "bob (ABCDEFG)") said only "'bob' is already a contact"."""
    alice, _, _ = await three(make_local_node)
    mallory = Node(ensure_home(tmp_path / "mallory"), Identity.generate(), "bob",  # asks as bob
                   NodeConfig(listen=(("127.0.0.1", 0),), mdns=False))
    await mallory.start()
    chat = await screen(alice)
    try:
        await mallory.add_contact(fp(alice), "alice", [addr(alice)])
        await until(lambda: any(c.state == "request" for c in chat.state.conversations.values()),
                    10, "the request on the screen")
        listed = next(c.name for c in chat.state.conversations.values() if c.state == "request")
        assert listed.startswith("bob (")
        await chat.execute("/accept bob")
        said = texts(chat)[-1]
        assert f"the request is from '{listed}': /accept {listed}" in said, said
        await chat.execute(f"/accept {listed}")
        await until(lambda: chat.state.conversations[fp(mallory)].state == "contact", 10,
                    "accepted by its listed name")
    finally:
        await chat.stop()
        await mallory.stop()


async def test_notices_page_opens_on_the_newest(make_local_node: MakeLocalNode) -> None:
    """B12: /notices, titled "newest last", opened at its top: the oldest, the newest below
    the fold ("↓ more below: End"). A page opens at its top, so the newest comes first."""
    alice, _, _ = await three(make_local_node)
    chat = await screen(alice)
    try:
        for _ in range(30):  # more than a screen's rows of notices
            await chat.execute("/id")
        await chat.execute("/network list")
        await chat.execute("/notices")
        page = chat.state.page
        assert page is not None and page.title == "Recent notices, newest first", page
        assert "networks: none" in page.lines[0][1], page.lines[:3]
        assert "You are alice" in page.lines[-3][1], page.lines[-3:]
    finally:
        await chat.stop()


async def test_a_group_named_like_a_contact_is_hash_name_in_notices(
        make_local_node: MakeLocalNode) -> None:
    """B17: notices about a group called bob read as the contact bob: "carol joined (bob)",
    "you joined bob: opened it". Written #bob, as /msg takes it."""
    alice, _, carol = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create bob carol")  # alice's group "bob", carol invited
        await until(lambda: any(g.get("role") == "invited" for g in carol.list_groups()),
                    10, "carol invited")
        await carol.accept_group("bob")
        await until(lambda: any("carol joined" in t for t in texts(chat)), 10,
                    f"the join: {texts(chat)}")
        assert "carol joined (#bob)" in texts(chat), texts(chat)
        group = await carol.create_group("carol")  # carol's, alice invited
        await carol.invite_to_group(str(group["group"]), fp(alice))
        await until(lambda: any(c.kind == "group" and c.name == "carol" and c.state == "invited"
                                for c in chat.state.conversations.values()), 10, "invited")
        await chat.execute("/group accept carol")
        assert "you joined #carol: opened it" in texts(chat), texts(chat)
        await chat.execute("/group leave")  # no one asks here: left at once
        assert "you left #carol (its history is kept)" in texts(chat), texts(chat)
        await chat.execute("/group create team")  # no contact called team: as it was
        await chat.execute("/group invite bob")
        about = [t for t in texts(chat) if "invited bob" in t]
        assert about and all("team" in t and "#team" not in t for t in about), texts(chat)
    finally:
        await chat.stop()


async def test_a_held_line_never_carries_a_passphrase_back() -> None:
    """B1: a `/network join NAME PASSPHRASE` held behind a failed command comes back without
    the passphrase (the input masks only its first line; a quote would show it)."""
    import asyncio

    from p2pchat.tui.held_lines import hold_behind

    lines: asyncio.Queue[str] = asyncio.Queue()
    for line in ("hello", "/network join club correct horse", "/network join club --via"
                 " 127.0.0.1:9 battery staple"):
        lines.put_nowait(line)
    handed: list[tuple[str, str]] = []
    assert hold_behind("/msg dave", lines, lambda text, why: handed.append((text, why))) == 3
    [(text, why)] = handed
    assert text.split("\n") == ["hello", "/network join club PASSPHRASE",
                                "/network join club --via 127.0.0.1:9 PASSPHRASE"]
    assert why == "not sent: /msg dave failed, so the 3 lines typed after it did not run"
    assert lines.empty()
    assert hold_behind("/msg dave", lines, lambda text, why: handed.append((text, why))) == 0
    assert len(handed) == 1


async def test_the_namesake_hint_goes_with_the_next_command(
        make_local_node: MakeLocalNode) -> None:
    """Trial 12: "created carol: ... a contact is called carol too: /msg #carol ..." stayed
    after the contact was renamed "Carol S", no longer true: an answer, it goes at the next."""
    alice, _, _ = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create bob")
        assert any("a contact is called bob too" in t for t in texts(chat)), texts(chat)
        await chat.execute("/rename @bob Bobby")
        await until(lambda: any(c.name == "Bobby" for c in chat.state.conversations.values()),
                    10, "the contact renamed")
        assert not any("a contact is called bob too" in n.text for n in chat.state.notices), \
            [n.text for n in chat.state.notices]
    finally:
        await chat.stop()
