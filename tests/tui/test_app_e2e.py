"""The real Application, keys through a pipe, against real nodes on 127.0.0.1.

Keys go in through prompt_toolkit's pipe input; the screen goes to a DummyOutput; assertions
read the view-model and the nodes. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from p2pchat.control import ControlServer
from p2pchat.core.identity import Identity
from p2pchat.home import ensure_home, socket_path
from p2pchat.net.addresses import format_addr
from p2pchat.node import Node, NodeConfig
from p2pchat.tui import main as tui_main
from p2pchat.tui import render
from p2pchat.tui.app import ChatApp
from p2pchat.tui.backend import ChatBackend, ControlBackend, NodeBackend
from p2pchat.tui.client import AsyncControlClient
from tests.aio import until
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)

ENTER = "\r"
TAB = "\t"
CTRL_C = "\x03"
CTRL_D = "\x04"
PAGE_UP = "\x1b[5~"
PAGE_DOWN = "\x1b[6~"
ALT_UP = "\x1b[1;3A"
ALT_DOWN = "\x1b[1;3B"


@asynccontextmanager
async def running(backend: ChatBackend) -> AsyncIterator[tuple[ChatApp, PipeInput]]:
    """A ChatApp on a pipe input, started and ready; it must have exited by the end."""
    with create_pipe_input() as keys:
        chat = ChatApp(backend, input=keys, output=DummyOutput())
        task = asyncio.create_task(chat.run())
        try:
            await until(lambda: task.done() or (chat.application.is_running
                                                 and chat.controller.ready.is_set()),
                        10, "the UI to start")
            assert not task.done(), task
            yield chat, keys
            await asyncio.wait_for(task, 10)  # the test quits with a key
        finally:
            if not task.done():
                chat.exit()
                await asyncio.wait_for(task, 10)


@asynccontextmanager
async def backend_for(node: Node, attach: bool) -> AsyncIterator[ChatBackend]:
    if not attach:
        yield NodeBackend(node)
        return
    control = ControlServer(node)
    await control.start()
    backend = await ControlBackend.connect(node.home, timeout=10)
    try:
        yield backend
    finally:
        await backend.close()
        await control.stop()


def conversation_text(chat: ChatApp) -> str:
    return "".join(text for _, text in render.conversation_list(chat.state, 24))


def notice_text(chat: ChatApp) -> str:
    return "\n".join(n.text for n in chat.state.notices)


@pytest.mark.parametrize("attach", [False, True], ids=["in-process", "attached"])
async def test_add_send_deliver_and_unread(make_local_node: MakeLocalNode, attach: bool) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(alice.identity.fingerprint, "alice", [])  # alice will dial bob
    bob_addr = format_addr(bob.listen_addresses[0])
    carol = Identity.generate().fingerprint  # a contact who is never online
    async with backend_for(alice, attach) as backend, running(backend) as (chat, keys):
        state = chat.state
        assert state.me.name == "alice" and state.mode == backend.mode
        assert "alice" in "".join(t for _, t in render.status_line(state))

        keys.send_text(f"/add {bob.identity.fingerprint} bob {bob_addr}{ENTER}")
        conv = await until(lambda: state.find("bob"), 10, "bob in the conversation list")
        assert state.selected == conv.id
        await until(lambda: conv.online, 10, "the link to bob")

        keys.send_text(f"hello bob{ENTER}")
        await until(lambda: [m["text"] for m in bob.history("alice")] == ["hello bob"], 10,
                    "bob's node to store the message")
        await until(lambda: conv.messages and conv.messages[-1].status == "delivered", 10,
                    "the UI to show the message delivered")
        assert [(m.text, m.own, m.author_name) for m in conv.messages] == [
            ("hello bob", True, "alice")]

        # With another conversation selected, bob's message counts as unread there.
        keys.send_text(f"/add {carol} carol{ENTER}")
        await until(lambda: state.current is not None and state.current.name == "carol", 10,
                    "carol selected")
        await bob.send("alice", "hi alice\x1b[2J\x07")  # control characters from a peer
        await until(lambda: conv.unread == 1, 10, "an unread count for bob")
        last = conv.messages[-1]
        assert (last.text, last.own, last.author_name) == ("hi alice\ufffd[2J\ufffd", False, "bob")
        assert "bob (1)" in conversation_text(chat)

        # Tab in the middle of a message completes nothing here: a gap (trial 14c, B2); it
        # never switches.
        carol_fp = state.selected
        keys.send_text(f"draft for carol{TAB}")
        await until(lambda: chat.input.text == "draft for carol ", 10, "the draft typed")
        assert state.selected == carol_fp
        keys.send_text(ALT_UP)  # bob is listed first: he has the latest message
        await until(lambda: state.selected == conv.id, 10, "Alt+Up to select bob")
        assert conv.unread == 0 and "(1)" not in conversation_text(chat)
        await until(lambda: chat.input.text == "", 10, "bob's (empty) draft in the input")
        keys.send_text(ALT_DOWN)
        await until(lambda: chat.input.text == "draft for carol ", 10, "carol's draft back")
        keys.send_text("\x1b1")  # Alt+1: the first conversation, bob
        await until(lambda: state.selected == conv.id, 10, "Alt+1 to select bob")
        keys.send_text(PAGE_UP)  # everything fits: nothing to scroll
        keys.send_text(PAGE_DOWN)
        await until(lambda: chat.view.offset == 0, 10, "no scrolling past the history")

        # Mistakes are notices, not tracebacks.
        # Each answers its own command and goes at the next (trial 5, 18).
        keys.send_text(f"/add NOTAFINGERPRINT dave{ENTER}")
        await until(lambda: "that fingerprint is not valid" in notice_text(chat), 10, "bad /add")
        keys.send_text(f"/to nobody{ENTER}")
        await until(lambda: "'nobody'" in notice_text(chat), 10, "/to nobody refused")
        assert "that fingerprint is not valid" not in notice_text(chat)
        keys.send_text(f"/frobnicate{ENTER}")
        await until(lambda: "/frobnicate" in notice_text(chat), 10, "unknown command")
        assert "Traceback" not in chat.state.said.__repr__()

        # Ctrl-D on an empty line quits, but carol's draft would be lost: it asks first.
        keys.send_text(CTRL_D)
        await until(lambda: chat.confirm is not None, 10, "the question before quitting")
        assert "unsent text" in chat.confirm[0]
        keys.send_text(f"y{ENTER}")


async def test_requests_accept_and_safety(make_local_node: MakeLocalNode) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    async with running(NodeBackend(alice)) as (chat, keys):
        state = chat.state
        # bob asks alice, who does not know him yet: a request shows up and is announced.
        await bob.add_contact(alice.identity.fingerprint, "alice",
                              [format_addr(alice.listen_addresses[0])])
        conv = await until(lambda: state.find("bob"), 10, "bob's request in the list")
        assert conv.state == "request"
        assert f"bob ({bob.identity.fingerprint[:7]}) asks to connect" in notice_text(chat)
        assert "? bob" in conversation_text(chat)

        keys.send_text(f"/safety bob{ENTER}")
        number = await until(lambda: state.page and [text for _, text in state.page.lines
                                                     if text.startswith("  ")],
                             10, "the safety number")
        groups = [g for row in number for g in row.split()[:6]]  # each row: whose half, last
        assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)

        keys.send_text("/acc")
        keys.send_text(TAB)  # completes the command
        await until(lambda: chat.input.text == "/accept ", 10, "completion of /accept")
        keys.send_text(f"b{TAB}")  # the completion put the space after the command
        await until(lambda: chat.input.text == "/accept bob ", 10, "completion of the name")
        keys.send_text(ENTER)
        await until(lambda: conv.state == "contact", 10, "bob accepted")
        assert state.selected == conv.id
        keys.send_text(f"hi bob{ENTER}")
        await until(lambda: [m["text"] for m in bob.history("alice")] == ["hi bob"], 10,
                    "the first message after accepting")
        keys.send_text(CTRL_C)
        await until(lambda: chat.confirm is not None, 10, "the question before quitting")
        keys.send_text(f"y{ENTER}")


async def test_in_process_serves_the_cli_and_stops_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    home = ensure_home(tmp_path / "alice")
    identity = Identity.generate()
    stored = SimpleNamespace(identity=identity, name="alice", sealed=False)
    config = NodeConfig(listen=(("127.0.0.1", 0),), mdns=False)
    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        task = asyncio.create_task(tui_main._in_process(home, stored, config))
        # The control socket answers while the UI runs, as with `p2pchat node`.
        await until(lambda: socket_path(home).exists(), 10, "the control socket")
        client = await AsyncControlClient.connect(home, timeout=10)
        try:
            status = await client.call("status")
        finally:
            await client.close()
        assert status["fingerprint"] == identity.fingerprint
        keys.send_text(CTRL_C)
        keys.send_text(f"y{ENTER}")
        assert await asyncio.wait_for(task, 15) == "quit"
    assert "You are offline now" in capsys.readouterr().err  # said once the screen is gone
    assert not socket_path(home).exists()
    again = Node(home, identity, "alice", config)  # the home lock was released
    await again.start()
    await again.stop()


async def test_a_node_that_cannot_start_is_a_clean_error(tmp_path: Path) -> None:
    import socket

    home = ensure_home(tmp_path / "alice")
    stored = SimpleNamespace(identity=Identity.generate(), name="alice", sealed=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = NodeConfig(listen=(taken.getsockname(),), mdns=False)
        with (create_pipe_input() as keys,
              create_app_session(input=keys, output=DummyOutput()),
              pytest.raises(tui_main.StartError, match="cannot start the node")):
            await asyncio.wait_for(tui_main._in_process(home, stored, config), 15)


async def test_nick_and_rekey(make_local_node: MakeLocalNode) -> None:
    from p2pchat.storage import keystore

    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(alice.identity.fingerprint, "alice", [])
    await alice.add_contact(bob.identity.fingerprint, "bob",
                            [format_addr(bob.listen_addresses[0])])
    await until(lambda: bob.peers()["links"], 10, "the link")
    keystore.create(alice.home, alice.identity, "alice", None)
    async with running(NodeBackend(alice)) as (chat, keys):
        keys.send_text(f"/nick Alicia Keys{ENTER}")
        await until(lambda: chat.state.me.name == "Alicia Keys", 10, "the new name")
        assert keystore.read_header(alice.home).name == "Alicia Keys"  # kept for next time
        old = bob.peers()["links"][0]["since"]
        keys.send_text(f"/rekey{ENTER}")  # a fresh handshake, which carries the new name
        await until(lambda: "new session keys on 1 link" in notice_text(chat), 10, "/rekey")
        await until(lambda: [(link["their_name"], link["since"] != old)
                             for link in bob.peers()["links"]] == [("Alicia Keys", True)], 15,
                    "bob to see the new name on a new link")
        keys.send_text(CTRL_C)
        await until(lambda: chat.confirm is not None, 10, "the question before quitting")
        keys.send_text(f"y{ENTER}")
