"""notes/s36/trial14a.md B1-B3 on the chat screen, with real nodes: what the input stars as a
passphrase never leaves as a message, whatever the path (Enter, /msg NAME TEXT, /me, "//", a
long one split, a line run without the input); blanks before a known command run it; a
typed line quoted back is starred as the input stars it."""

from __future__ import annotations

import pytest

from p2pchat.core.messages import MAX_TEXT_BYTES
from p2pchat.node import Node
from p2pchat.tui.app import ChatApp
from p2pchat.tui.backend import NodeBackend
from p2pchat.tui.held_lines import AfterSwitchRefused, hold_behind
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen import ENTER, running
from tests.tui.test_screen_trial4_nodes import addr, fp
from tests.tui.test_screen_trial7 import texts

pytestmark = pytest.mark.timeout(90)

CTRL_U = "\x15"


async def pair(make_local_node: MakeLocalNode) -> tuple[Node, Node]:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await alice.add_contact(fp(bob), "bob", [addr(bob)])
    await bob.add_contact(fp(alice), "alice", [addr(alice)])
    await until(lambda: alice.links.is_linked(bob.key), what="the link")
    return alice, bob


async def opened(chat: ChatApp) -> None:
    """/msg bob has run (a refusal said before it ran would go with its answers)."""
    await chat.controller.execute("/msg bob")
    await until(lambda: not chat.controller.busy() and chat.state.current is not None
                and chat.state.current.name == "bob", 10, "bob open")


def sent(node: Node, who: str) -> list[str]:
    return [str(m.get("text")) for m in node.history(who)]


@pytest.mark.parametrize("line", [
    "/msg @bob /network join club secretpw7",  # B2
    "/msg bob /network join club secretpw7",
    "//network join club secretpw4",  # B2
    "/me /network join club secretpw6",
    " /netwrok join club secretpw2",  # a blank before an unknown command: a message
])
async def test_a_starred_passphrase_never_leaves_as_a_message(
        make_local_node: MakeLocalNode, line: str) -> None:
    """B2: `/msg @bob /network join club PASS` and `//network join club PASS` showed the
    passphrase as stars and sent it in clear. The line stays, saying why; nothing goes."""
    alice, bob = await pair(make_local_node)
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        await opened(chat)
        keys.send_text(f"{line}{ENTER}")
        await until(lambda: any("holds a network passphrase" in t for t in texts(chat.controller)),
                    10, "the refusal")
        said = texts(chat.controller)
        assert any("not sent: it holds a network passphrase (the stars), which would go out in"
                   " clear to bob; remove it to send the rest" in t for t in said), said
        assert chat.input.text == line  # it stays, to be mended
        keys.send_text(f"{CTRL_U}after{ENTER}")  # a line after it goes: the queue is not stuck
        await until(lambda: "after" in sent(bob, "alice"), 10, "the next line, at bob's")
        assert not [t for t in sent(alice, "bob") + sent(bob, "alice") if "secretpw" in t]
        assert not [t for t in texts(chat.controller) if "secretpw" in t]
        keys.send_text("/quit" + ENTER)


async def test_a_long_message_with_a_passphrase_is_not_offered_to_split(
        make_local_node: MakeLocalNode) -> None:
    """The split of a long message is a path out too: refused before it is offered."""
    alice, bob = await pair(make_local_node)
    long = "x" * (MAX_TEXT_BYTES + 10) + " /network join club secretpw9"
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        await opened(chat)
        chat.input.text = long
        keys.send_text(ENTER)
        await until(lambda: any(t.startswith("not sent:") and "passphrase" in t
                                for t in texts(chat.controller)), 10, "the refusal")
        assert chat.confirm is None and chat.input.text == long
        assert not [t for t in sent(alice, "bob") + sent(bob, "alice") if "secretpw" in t]
        keys.send_text(CTRL_U * 3 + "/quit" + ENTER)


@pytest.mark.parametrize("line", ["/msg bob /network join club secretpw7",
                                  "//network join club secretpw4",
                                  "/me /network join club secretpw6"])
async def test_the_send_itself_refuses_a_passphrase(
        make_local_node: MakeLocalNode, line: str) -> None:
    """The invariant holds at the last step too: a line run without the input's check (a held
    line, a part of a split one, a restored draft) still does not send it."""
    alice, bob = await pair(make_local_node)
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        await chat.controller.execute("/msg bob")
        await chat.controller.execute(line)
        said = texts(chat.controller)
        assert any("holds a network passphrase" in t and "to bob" in t for t in said), said
        assert not [t for t in said if "secretpw" in t], said
        assert not [t for t in sent(alice, "bob") + sent(bob, "alice") if "secretpw" in t]
        keys.send_text(CTRL_U * 3 + "/quit" + ENTER)


async def test_blanks_before_a_command_run_it(make_local_node: MakeLocalNode) -> None:
    """B1: ` /help` and ` /network join club PASS` (a blank first) went out as messages, the
    second with the passphrase the input starred. They run as the command typed."""
    alice, bob = await pair(make_local_node)
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        await opened(chat)
        keys.send_text(f" /help{ENTER}")
        await until(lambda: chat.state.page is not None, 10, "the help page")
        keys.send_text("\x1b")
        await until(lambda: chat.state.page is None, 10, "the help page closed")
        keys.send_text(f"  /network join club secretpw3{ENTER}")
        # It ran as /network join: this node (no discovery) answers how to join club.
        await until(lambda: any("/network join club --via" in t for t in texts(chat.controller)),
                    10, "/network join's answer")
        keys.send_text(f"hello{ENTER}")
        await until(lambda: "hello" in sent(alice, "bob"), 10, "a message after")
        assert not [t for t in sent(alice, "bob") + sent(bob, "alice")
                    if "help" in t or "secretpw" in t], sent(alice, "bob")
        assert not [t for t in texts(chat.controller) if "secretpw" in t]
        keys.send_text("/quit" + ENTER)


async def test_a_failed_line_quoted_back_is_starred(make_local_node: MakeLocalNode) -> None:
    """B3: "not sent: /msg bob /network join club secretpw5 failed, ..." on the row and in
    /notices. Every quote of a typed line stars it as the input does."""
    alice, _ = await pair(make_local_node)
    import asyncio
    lines: asyncio.Queue[str] = asyncio.Queue()
    lines.put_nowait("hello")
    handed: list[str] = []
    hold_behind("/msg bob /network join club secretpw5", lines,
                lambda _, why: handed.append(why))
    assert handed == ["not sent: /msg bob /network join club ********* failed, so the line"
                      " typed after it did not run"]
    switch = AfterSwitchRefused(lambda: 0.0)
    switch.ran("/msg bob /network join club secretpw5", False, "x")
    why = switch.hold("hi", "x")
    assert why is not None and "secretpw5" not in why and "*********" in why
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        await chat.controller.execute("/j /network join club secretpw5")
        chat.controller.quote_unsent("/network join club secretpw5", "not run")
        said = texts(chat.controller)
        assert any("no conversation named '/network' (/j takes a name only)" in t for t in said)
        assert any("(your line: '/network join club *********')" in t for t in said), said
        assert not [t for t in said if "secretpw" in t], said
        keys.send_text("/quit" + ENTER)
