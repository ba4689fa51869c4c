"""Runs what is typed and what the node reports against the backend and the view-model.

No terminal here either: the app hands over input lines and redraws when told to. Commands run
one at a time, in the order typed, so two quick messages are sent in order; a failing command
becomes a notice line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from p2pchat.core.identity import FingerprintError, IdentityError, parse_fingerprint, safety_number
from p2pchat.tui.backend import BackendError, ChatBackend, EventStream
from p2pchat.tui.commands import (
    AddContact,
    Command,
    GroupCommand,
    Named,
    ParseError,
    Plain,
    SendText,
    help_lines,
)
from p2pchat.tui.commands import parse as parse_command
from p2pchat.tui.state import ChatState, Conversation

log = logging.getLogger("p2pchat.tui")

HISTORY_LIMIT = 500  # messages read per conversation when it is opened
MAX_RESUBSCRIBES = 100  # a node that keeps lagging us is not worth looping on forever


class Controller:
    def __init__(self, backend: ChatBackend, *, on_change: Callable[[], None] = lambda: None,
                 on_quit: Callable[[], None] = lambda: None) -> None:
        self.backend = backend
        self.state = ChatState(mode=backend.mode)
        self._on_change = on_change
        self._on_quit = on_quit
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: EventStream | None = None
        self.ready = asyncio.Event()  # set once the first load is done

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe first, then read: an event in between is applied twice, never lost."""
        self._events = await self.backend.subscribe()
        await self._reload()
        self._spawn(self._run_events(), "tui-events")
        self._spawn(self._run_commands(), "tui-commands")
        self.ready.set()
        self._changed()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._events is not None:
            with contextlib.suppress(Exception):
                await self._events.aclose()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _changed(self) -> None:
        self._on_change()

    async def _reload(self) -> None:
        self.state.set_status(await self.backend.status())
        self.state.set_contacts(await self.backend.contacts())
        self.state.set_groups(await self.backend.groups())
        for conv in self.state.conversations.values():
            conv.loaded = False
        await self._load_current()

    async def _load_current(self) -> None:
        conv = self.state.current
        if conv is not None and not conv.loaded and conv.state != "request":
            history = await self.backend.history(conv.fingerprint, HISTORY_LIMIT)
            self.state.load_history(conv.fingerprint, history)
            self._changed()

    # ------------------------------------------------------------ events

    async def _run_events(self) -> None:
        for _ in range(MAX_RESUBSCRIBES):
            assert self._events is not None
            lagged = False
            async for event in self._events:
                lagged = event.get("type") == "lagged"
                await self._guarded(self._on_event(event))
            if not lagged:
                break
            # The node dropped us for falling behind: a fresh stream, then re-read everything.
            with contextlib.suppress(Exception):
                await self._events.aclose()
            try:
                self._events = await self.backend.subscribe()
            except BackendError as exc:
                self.state.notice("error", f"cannot follow the node any more: {exc}")
                break
            await self._guarded(self._reload())
        self.state.connected = False
        self.state.notice("error", "lost the connection to the node; /quit and start again")
        self._changed()

    async def _on_event(self, event: dict[str, Any]) -> None:
        refresh = self.state.apply(event)
        self._changed()
        if "status" in refresh:
            self.state.set_status(await self.backend.status())
        if "contacts" in refresh:
            self.state.set_contacts(await self.backend.contacts())
        if "groups" in refresh:
            self.state.set_groups(await self.backend.groups())
        if refresh:
            self._changed()

    # ------------------------------------------------------------ commands

    def submit(self, line: str) -> None:
        """Queue a typed line; they run one after another."""
        self._lines.put_nowait(line)

    async def _run_commands(self) -> None:
        while True:
            line = await self._lines.get()
            await self.execute(line)

    async def execute(self, line: str) -> None:
        try:
            command = parse_command(line)
        except ParseError as exc:
            self.state.notice("error", str(exc))
            self._changed()
            return
        if command is not None:
            await self._guarded(self._run(command))
        self._changed()

    async def _guarded(self, work: Awaitable[None]) -> None:
        """Run `work`; whatever fails is told in one notice line."""
        try:
            await work
        except BackendError as exc:
            self.state.notice("error", str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not kill the UI, and must be seen
            log.debug("command failed", exc_info=True)
            self.state.notice("error", f"internal error: {exc.__class__.__name__}: {exc}")
        self._changed()

    async def _run(self, command: Command) -> None:
        if isinstance(command, SendText):
            await self._send(command.text)
        elif isinstance(command, AddContact):
            contact = await self.backend.add_contact(command.fingerprint, command.name,
                                                     list(command.addrs))
            conv = self.state.upsert_contact(contact)
            if conv is not None:
                self.state.notice("info", f"added {conv.name}")
                await self.switch_to(conv)
        elif isinstance(command, Named):
            await self._run_named(command)
        elif isinstance(command, Plain):
            await self._run_plain(command)
        elif isinstance(command, GroupCommand):
            await self._run_group(command)

    async def _send(self, text: str) -> None:
        conv = self.state.current
        if conv is None:
            self.state.notice("error", "no conversation selected: /to NAME, or /add one")
            return
        if conv.state == "request":
            self.state.notice("error", f"{conv.name} is not a contact yet: /accept {conv.name}")
            return
        result = await self.backend.send(conv.fingerprint, text)
        self.state.apply(result)  # the event may come first or later: applying is idempotent

    def _resolve(self, who: str) -> Conversation:
        conv = self.state.find(who)
        if conv is None:
            raise BackendError("unknown_contact", f"no conversation named {who!r}")
        return conv

    async def _run_named(self, command: Named) -> None:
        if command.command == "to":
            await self.switch_to(self._resolve(command.who))
        elif command.command == "safety":
            self._safety(self._resolve(command.who))
        else:
            # The node knows blocked contacts the list hides: ask it when we don't know the name.
            known = self.state.find(command.who)
            who = known.fingerprint if known is not None else command.who
            await self._change_contact(command.command, who)

    async def _change_contact(self, action: str, who: str) -> None:
        if action == "accept":
            contact = await self.backend.accept(who)
            conv = self.state.upsert_contact(contact)
            if conv is not None:
                self.state.notice("info", f"accepted {conv.name}")
                await self.switch_to(conv)
        elif action == "block":
            contact = await self.backend.block(who)
            self.state.upsert_contact(contact)
            self.state.notice("info", f"blocked {contact.get('name')}")
        elif action == "remove":
            result = await self.backend.remove(who)
            self.state.forget(str(result.get("removed")))
            self.state.notice("info", f"removed {result.get('name')} (the history is kept)")
        await self._load_current()

    def _safety(self, conv: Conversation) -> None:
        try:
            theirs = parse_fingerprint(conv.fingerprint)
            number = safety_number(bytes.fromhex(self.state.me.public_key), theirs)
        except (FingerprintError, IdentityError, ValueError) as exc:
            self.state.notice("error", f"cannot compute the safety number: {exc}")
            return
        groups = number.split()
        self.state.notice("info", f"Safety number with {conv.name} (it must be the same on"
                                  " both screens; compare it in person):")
        for row in range(0, len(groups), 6):
            self.state.notice("info", "  " + "  ".join(groups[row : row + 6]))

    async def _run_plain(self, command: Plain) -> None:
        if command.command == "quit":
            self._on_quit()
        elif command.command == "help":
            for line in help_lines():
                self.state.notice("info", line)
        elif command.command == "id":
            me = self.state.me
            self.state.notice("info", f"You are {me.name}; your fingerprint, for friends to add:")
            self.state.notice("info", f"  {me.fingerprint}")
        elif command.command == "peers":
            self._show_peers(await self.backend.peers())

    async def _run_group(self, command: GroupCommand) -> None:
        if command.action == "create":
            conv = self.state.upsert_group(await self.backend.create_group(command.name))
            if conv is not None:
                self.state.notice("info", f"created {conv.name}: /group invite NAME to add people")
                await self.switch_to(conv)
            return
        if command.action == "list":
            groups = await self.backend.groups()
            self.state.set_groups(groups)
            if not groups:
                self.state.notice("info", "no groups yet: /group create NAME")
            for group in groups:
                self.state.notice("info", f"{group.get('title')}: {group.get('members')} members,"
                                          f" {group.get('online')} online, you are"
                                          f" {group.get('role')}")
            return
        conv = self.state.current
        if conv is None or conv.state != "group":
            self.state.notice("error", "select a group first: /to GROUP")
            return
        await self._on_selected_group(command, conv)

    async def _on_selected_group(self, command: GroupCommand, conv: Conversation) -> None:
        if command.action == "members":
            for member in await self.backend.group_members(conv.fingerprint):
                marks = " (owner)" * bool(member.get("owner")) + " (you)" * bool(member.get("you"))
                online = "online" if member.get("online") else "offline"
                self.state.notice("info", f"{member.get('name')}{marks}: {online}")
            return
        if command.action == "invite":
            group = await self.backend.invite(conv.fingerprint, command.name)
            self.state.notice("info", f"invited {command.name} to {conv.name}")
        elif command.action == "remove":
            group = await self.backend.remove_member(conv.fingerprint, command.name)
            self.state.notice("info", f"removed {command.name} from {conv.name}")
        else:
            group = await self.backend.leave_group(conv.fingerprint)
            self.state.notice("info", f"you left {conv.name} (its history is kept)")
        self.state.upsert_group(group)

    def _show_peers(self, peers: dict[str, Any]) -> None:
        links = peers.get("links") or []
        if not links:
            self.state.notice("info", "No live links.")
        for link in links:
            self.state.notice("info", f"link: {link.get('name')} {link.get('state')}"
                                      f" {link.get('direction')} {link.get('address')}")
        for near in peers.get("nearby") or []:
            label = near.get("name") or "(private)"
            self.state.notice("info", f"nearby: {label} {near.get('fingerprint') or ''}"
                                      f" {' '.join(near.get('addresses') or [])}")
        for request in peers.get("requests") or []:
            self.state.notice("request", f"{request.get('name')} asks to connect:"
                                         f" /accept {request.get('name')}")

    # ------------------------------------------------------------ selection

    async def switch_to(self, conv: Conversation) -> None:
        self.state.select(conv.fingerprint)
        self._changed()
        await self._load_current()

    def switch(self, step: int) -> None:
        """Next or previous conversation (keys); its history loads in the background."""
        if self.state.select_next(step) is not None:
            self._changed()
            self._spawn(self._guarded(self._load_current()), "tui-load")
