"""notes/s34/trial12.md on the chat screen, point 18 (stale or doubled notices): the removal
of a contact whose node still has us said it twice (B4); our own nick notices piled up, and a
nick from the CLI left the last one standing (B5, B5b); a removed member's invitation and
join stayed beside their removal (B7)."""

from __future__ import annotations

import pytest

from p2pchat.storage import keystore
from p2pchat.tui.backend import ControlBackend
from p2pchat.tui.controller import Controller
from p2pchat.tui.render import history_rows
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen import text
from tests.tui.test_screen_trial4_nodes import cli, control_of, fp, linked_pair, screen
from tests.tui.test_screen_trial7 import texts, three

pytestmark = pytest.mark.timeout(60)


def own_nick(chat: Controller) -> list[str]:
    return [n.text for n in chat.state.notices if n.text.startswith("you are now")]


async def test_a_newer_own_nick_replaces_the_older(make_local_node: MakeLocalNode) -> None:
    """B5: "you are now Bobby; the 1 linked now see it at once, ..." stayed above "you are
    now bob; ..."; B5b: `p2pchat nick "Dave D"` then `p2pchat nick dave` left "you are now
    called Dave D" on the screen."""
    dave = await make_local_node("dave")
    keystore.create(dave.home, dave.identity, "dave", None)
    async with control_of(dave):
        chat = Controller(await ControlBackend.connect(dave.home, timeout=10))
        await chat.start()
        try:
            await cli(dave, "rename_self", name="Dave D")  # `p2pchat nick "Dave D"`
            await until(lambda: own_nick(chat) == ["you are now called Dave D"], 10, "Dave D")
            await until(lambda: chat.state.me.name == "Dave D", 10, "the status line's name")
            await cli(dave, "rename_self", name="dave")  # and back, from the CLI
            await until(lambda: own_nick(chat) == ["you are now called dave"], 10,
                        "the newer name only")
            await chat.execute("/nick Bobby")
            await chat.execute("/nick bob")
            said = own_nick(chat)
            assert len(said) == 1 and said[0].startswith("you are now bob;"), said
        finally:
            await chat.stop()


async def test_a_members_newest_notice_replaces_the_older(
        make_local_node: MakeLocalNode) -> None:
    """B7: after `/group remove bob` the row said "you invited bob (team)" / "bob joined
    (team)" / "you removed bob from team": only the last is still true."""
    alice, bob, carol = await three(make_local_node)
    chat = await screen(alice)
    try:
        group = await alice.create_group("team")
        gid = str(group["group"])
        await until(lambda: gid in chat.state.conversations, 10, "the group on the screen")
        chat.state.select(gid)
        await chat.execute("/group invite bob")
        await until(lambda: any(g.get("role") == "invited" for g in bob.list_groups()), 10,
                    "the invitation")
        await bob.accept_group("team")
        await until(lambda: "bob joined (team)" in texts(chat), 10, "the join")
        assert not [t for t in texts(chat) if "invited bob" in t], texts(chat)
        await chat.execute("/group remove bob")
        await until(lambda: "you removed bob from team" in texts(chat), 10, "the removal")
        await alice.invite_to_group(gid, fp(carol))  # another member's news stays its own
        await until(lambda: any("carol" in t for t in texts(chat)), 10, "carol invited")
        about_bob = [t for t in texts(chat) if "bob" in t]
        assert about_bob == ["you removed bob from team"], texts(chat)
    finally:
        await chat.stop()


async def test_removing_a_contact_who_still_has_us_says_so_once(
        make_local_node: MakeLocalNode) -> None:
    """B4: "Caro's node still has you as a contact: /add Caro links you again; /block Caro
    stops it asking." showed twice, the removed conversation's last line right above the
    notice row's "removed Caro; ..." and its own second line."""
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    await alice.send("carol", "hello carol")
    chat = await screen(alice)
    try:
        await chat.execute("/remove carol")
        conv = chat.state.conversations[fp(carol)]
        await until(lambda: conv.asks_again, 10, "their node still has us")
        chat.state.select(conv.id)
        still = "carol's node still has you as a contact: /add carol links you again;"

        def said() -> int:
            pane = "\n".join(text(history_rows(chat.state, 200)))
            return pane.count(still) + sum(still in n.text for n in chat.state.notices)

        assert said() == 1, (list(chat.state.notices), text(history_rows(chat.state, 200)))
        chat.state.clear_notices()  # Esc, or aged: the conversation still says it
        assert said() == 1, text(history_rows(chat.state, 200))
    finally:
        await chat.stop()
