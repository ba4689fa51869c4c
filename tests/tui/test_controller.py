"""Commands and event-stream handling against a scripted backend (no node, no terminal)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from p2pchat.tui.backend import BackendError
from p2pchat.tui.controller import Controller
from tests.aio import until
from tests.tui.test_state import BOB, CAROL, ME, contact

pytestmark = pytest.mark.timeout(30)


class Stream:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while (event := await self.queue.get()) is not None:
            yield event
            if event["type"] == "lagged":
                return

    async def aclose(self) -> None:
        self.closed = True


class FakeBackend:
    mode = "fake"

    def __init__(self) -> None:
        self.contact_list = [contact(BOB, "bob"), contact(CAROL, "carol", state="request")]
        self.streams: list[Stream] = []
        self.calls: list[tuple[str, Any]] = []
        self.status_reads = 0

    async def status(self) -> dict[str, Any]:
        self.status_reads += 1
        return {"name": "me", "fingerprint": ME, "public_key": "11" * 32, "links": 0,
                "mdns": True, "presence": "private"}

    async def peers(self) -> dict[str, Any]:
        return {"links": [{"name": "bob", "state": "contact", "direction": "outbound",
                           "address": "127.0.0.1:9"}], "nearby": [], "requests": []}

    async def contacts(self) -> list[dict[str, Any]]:
        self.calls.append(("contacts", None))
        return list(self.contact_list)

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        self.calls.append(("history", who))
        return []

    async def send(self, who: str, text: str) -> dict[str, Any]:
        if text == "fail":
            raise BackendError("storage", "could not save: disk full")
        if text == "bug":
            raise RuntimeError("oops")
        self.calls.append(("send", (who, text)))
        return {"type": "message", "id": text, "conversation": who, "author": ME,
                "author_name": "me", "seq": 1, "text": text, "own": True, "status": "queued",
                "sent_at": "2026-01-01T10:00:00.000+00:00"}

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        raise BackendError("exists", f"already a contact, named {name!r}")

    async def accept(self, who: str) -> dict[str, Any]:
        self.calls.append(("accept", who))
        return contact(who, "carol")

    async def block(self, who: str) -> dict[str, Any]:
        return contact(who, "bob", state="blocked")

    async def remove(self, who: str) -> dict[str, Any]:
        return {"removed": who, "name": "bob"}

    async def unblock(self, who: str) -> dict[str, Any]:
        return contact(who, "bob")

    async def rename(self, who: str, name: str) -> dict[str, Any]:
        return contact(who, name)

    async def set_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]:
        self.calls.append(("addr", (who, addrs)))
        return contact(who, "bob") | {"addrs": addrs}

    async def rekey(self) -> dict[str, Any]:
        return {"links": 1}

    async def mark_read(self, who: str, message_id: str) -> None:
        self.calls.append(("read", (who, message_id)))

    async def unread(self) -> dict[str, int]:
        return {CAROL: 3}

    async def groups(self) -> list[dict[str, Any]]:
        return []

    async def files(self) -> list[dict[str, Any]]:
        return []

    async def subscribe(self) -> Stream:
        self.streams.append(Stream())
        return self.streams[-1]

    async def close(self) -> None:
        pass


async def started() -> tuple[Controller, FakeBackend, list[bool]]:
    backend = FakeBackend()
    quits: list[bool] = []
    controller = Controller(backend, on_quit=lambda: quits.append(True))
    await controller.start()
    return controller, backend, quits


def notices(controller: Controller) -> str:
    return "\n".join(n.text for n in controller.state.notices)


async def test_commands_run_in_order_and_failures_are_notices() -> None:
    controller, backend, quits = await started()
    try:
        for line in ("first", "fail", "bug", "second", "/to nobody"):
            controller.submit(line)
        # What is typed behind a refused command waits for it (notes/s33/trial8.md, B1).
        await until(lambda: "no conversation named 'nobody'" in notices(controller), 10,
                    "the commands to run")
        for line in ("/id", "/peers", "/quit"):
            controller.submit(line)
        await until(lambda: quits, 10, "the commands to run")
        sends = [args for name, args in backend.calls if name == "send"]
        assert sends == [(BOB, "first"), (BOB, "second")]
        text = notices(controller)
        assert "could not save: disk full" in text
        assert "internal error: oops (a bug)" in text and "RuntimeError" not in text
        # a command's refusal went at the next command (trial 5, 18), and was said
        assert "no conversation named 'nobody'" not in text
        assert any("no conversation named 'nobody'" in said for _, _, said in
                   controller.state.said)
        assert f"You are me; your fingerprint, for friends to add:\n  {ME}" in text
        page = controller.state.page
        assert page is not None and page.title == "Peers"
        assert ("info", "link: bob contact outbound 127.0.0.1:9") in page.lines
        assert [m.id for m in controller.state.conversations[BOB].messages] == ["first", "second"]
    finally:
        await controller.stop()


async def test_requests_must_be_accepted_before_chatting() -> None:
    controller, backend, _ = await started()
    try:
        await controller.execute("/to carol")
        assert controller.state.selected == CAROL
        await controller.execute("hello?")
        assert "not a contact yet: /accept carol" in notices(controller)
        await controller.execute("/accept carol")
        assert ("accept", CAROL) in backend.calls  # by fingerprint: names can be ambiguous
        assert controller.state.conversations[CAROL].state == "contact"
        await controller.execute("/add " + CAROL + " carol")
        assert "already a contact, named 'carol'" in notices(controller)
    finally:
        await controller.stop()


async def test_block_marks_and_remove_leaves_the_list() -> None:
    controller, _, _ = await started()
    try:
        await controller.execute("/block bob")  # stays in its place, marked (trial 3, 9)
        assert controller.state.conversations[BOB].state == "blocked"
        controller.state.upsert_contact(contact(BOB, "bob"))
        await controller.execute("/remove bob")  # stays in its place, read-only (trial 4, 9)
        assert controller.state.conversations[BOB].state == "removed"
        assert "removed bob" in notices(controller)
    finally:
        await controller.stop()


async def test_safety_number_uses_both_keys() -> None:
    from p2pchat.core.identity import parse_fingerprint, safety_number

    controller, _, _ = await started()
    try:
        await controller.execute("/safety bob")
        expected = safety_number(bytes.fromhex("11" * 32), parse_fingerprint(BOB)).split()
        page = controller.state.page
        assert page is not None and page.title == "Safety number with bob"
        rows = [text.split() for _, text in page.lines if text.startswith("  ")]
        assert [group for row in rows for group in row[:6]] == expected
        assert sorted(row[-1] for row in rows) == ["bob", "you"]  # whose half each row is
    finally:
        await controller.stop()


async def test_a_lagged_stream_is_reopened_and_everything_reread() -> None:
    controller, backend, _ = await started()
    try:
        assert len(backend.streams) == 1 and backend.status_reads == 1
        xavier = "X" * 56
        backend.contact_list.append(contact(xavier, "xavier"))
        backend.streams[0].queue.put_nowait({"type": "lagged"})
        await until(lambda: len(backend.streams) == 2 and xavier in controller.state.conversations,
                    10, "a new subscription and a re-read")
        assert backend.streams[0].closed and backend.status_reads == 2
        assert controller.state.connected
        backend.streams[1].queue.put_nowait(None)  # the node goes away
        await until(lambda: not controller.state.connected, 10, "the disconnection")
        assert "lost the connection to the node" in notices(controller)
    finally:
        await controller.stop()


async def test_events_that_need_a_reread() -> None:
    controller, backend, _ = await started()
    try:
        stream = backend.streams[0]
        stream.queue.put_nowait({"type": "link_up", "fingerprint": BOB, "name": "bob",
                                 "contact": True, "address": "127.0.0.1:9"})
        await until(lambda: backend.status_reads == 2, 10, "the status re-read")
        assert controller.state.conversations[BOB].online
    finally:
        await controller.stop()


async def test_unread_counts_come_from_the_node_and_reading_is_reported() -> None:
    controller, backend, _ = await started()
    try:
        assert controller.state.conversations[CAROL].unread == 3  # kept by the node
        stream = backend.streams[0]
        stream.queue.put_nowait({"type": "message", "id": "b1", "conversation": BOB,
                                 "author": BOB, "author_name": "bob", "seq": 1, "text": "hi",
                                 "sent_at": "2026-01-01T10:00:00.000+00:00", "own": False})
        await until(lambda: ("read", (BOB, "b1")) in backend.calls, 10,
                    "the open conversation marked read")
    finally:
        await controller.stop()


async def test_addr_sets_where_a_contact_is_reached() -> None:
    controller, backend, _ = await started()
    try:
        await controller.execute("/addr bob 192.168.1.31:7331 [fe80::1]:7331")
        assert ("addr", (BOB, ["192.168.1.31:7331", "[fe80::1]:7331"])) in backend.calls
        assert "bob is reached at 192.168.1.31:7331, [fe80::1]:7331" in notices(controller)
        await controller.execute("/addr bob")
        assert ("addr", (BOB, [])) in backend.calls
        assert "bob is reached at wherever discovery finds them" in notices(controller)
    finally:
        await controller.stop()


def test_every_command_has_a_handler() -> None:
    from p2pchat.tui.commands import COMMANDS

    handled = set(Controller(FakeBackend()).handlers())
    from p2pchat.tui.commands import IRC_COMMANDS

    assert handled == {name[1:] for name in COMMANDS | IRC_COMMANDS} - {"add", "me"}  # parsed
