"""Runs what is typed and what the node reports against the backend and the view-model.

No terminal here either: the app hands over input lines and redraws when told to. Commands run
one at a time, in the order typed, so two quick messages are sent in order; a failing command
becomes a notice line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from p2pchat.core.identity import FingerprintError, IdentityError, parse_fingerprint, safety_number
from p2pchat.core.text import counted, hidden_nearby
from p2pchat.tui.backend import BackendError, ChatBackend, EventStream
from p2pchat.tui.commands import (
    COMMANDS,
    GROUP_ACTIONS_NAME_OR_CURRENT,
    IRC_COMMANDS,
    AddContact,
    AddNearby,
    Command,
    Named,
    ParseError,
    Plain,
    SendText,
    help_lines,
    parse_group,
    parse_network,
)
from p2pchat.tui.commands import parse as parse_command
from p2pchat.tui.reach import local_addresses, reachable
from p2pchat.tui.safety import safety_rows
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import AmbiguousName, ChatState, Conversation, group_key

log = logging.getLogger("p2pchat.tui")

HISTORY_LIMIT = 500  # messages read per conversation when it is opened
MAX_RESUBSCRIBES = 100  # a node that keeps lagging us is not worth looping on forever
MAX_NEARBY = 500
MAX_ACTIVITY_READS = 500  # conversations whose newest message is read at start
MAX_FOUND = 200  # /search results shown
ERROR_LIFETIME = 20.0  # seconds an error notice stays once something else is typed
RECONNECT_ATTEMPTS = 600  # about ten minutes of waiting for a restarted node
RECONNECT_DELAY = 1.0


class Controller:
    def __init__(self, backend: ChatBackend, *, on_change: Callable[[], None] = lambda: None,
                 on_quit: Callable[[], None] = lambda: None) -> None:
        self.backend = backend
        self.state = ChatState(mode=backend.mode)
        self.on_change = on_change
        self.on_quit = on_quit
        # How to ask the user yes or no before something hard to undo; None: don't ask.
        self.ask: Callable[[str, Callable[[], None]], None] | None = None
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: EventStream | None = None
        self.ready = asyncio.Event()  # set once the first load is done

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe first, then read: an event in between is applied twice, never lost.

        The events are followed even when the first read fails: a node that stopped meanwhile
        ends the stream, and the reconnection reads everything again."""
        self._events = await self.backend.subscribe()
        try:
            await self._reload()
        except BackendError as exc:
            self.state.notice("error", in_chat_words(str(exc)))
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

    def spawn_guarded(self, work: Callable[[], Awaitable[None]], name: str) -> None:
        """Run `work()` in the background; a failure becomes a notice."""
        self._spawn(self._guarded(work()), name)

    def _changed(self) -> None:
        self.on_change()

    async def _reload(self) -> None:
        self.state.set_status(await self.backend.status())
        # Fresh: a link event from before a restart must not outvote the node's answer now.
        self.state.set_contacts(await self.backend.contacts(), fresh=True)
        self.state.set_groups(await self.backend.groups())
        self.state.set_unread(await self.backend.unread())
        for conv in self.state.conversations.values():
            conv.loaded = False
        await self._load_activity()
        self.state.fix_numbers()
        await self._load_nearby()
        await self._load_current()

    async def _load_nearby(self) -> None:
        peers = await self.backend.peers()
        nearby = peers.get("nearby") or []
        self.state.nearby_now = [n for n in nearby if isinstance(n, dict)][:MAX_NEARBY]
        self.state.set_links((peers.get("links") or [])[:MAX_NEARBY])

    async def _load_activity(self) -> None:
        """Each conversation's newest message, so the list is ordered by last activity."""
        for conv in list(self.state.conversations.values())[:MAX_ACTIVITY_READS]:
            if (conv.state == "contact" or conv.kind == "group") and not conv.messages:
                newest = await self.backend.history(conv.fingerprint, 1)
                if newest:
                    conv.last_activity = max(conv.last_activity, str(newest[-1].get("sent_at")))

    async def _load_current(self) -> None:
        conv = self.state.current
        # A request or a pending group invitation (issue 22) has no history to read yet.
        if conv is not None and not conv.loaded and conv.state not in ("request", "invited"):
            history = await self.backend.history(conv.fingerprint, HISTORY_LIMIT)
            self.state.load_history(conv.fingerprint, history)
            self._changed()
        await self._mark_read()

    async def _mark_read(self) -> None:
        """Tell the node the open conversation is read up to its newest message."""
        conv = self.state.current
        readable = conv is not None and (conv.state == "contact" or conv.kind == "group")
        if conv is None or not readable or not conv.loaded or not conv.messages:
            return
        # Only messages the node knows can be marked read: not the screen's own lines (group
        # changes) nor a notice line in a group's log (an equivocation, protocol 8.12).
        sent = [m for m in conv.messages
                if not m.system and not m.id.startswith("equivocation-")]
        if not sent:
            return
        newest = sent[-1].id
        if newest != conv.read_marked:
            conv.read_marked = newest
            await self.backend.mark_read(conv.fingerprint, newest)

    # ------------------------------------------------------------ events

    async def _run_events(self) -> None:
        for _ in range(MAX_RESUBSCRIBES):
            assert self._events is not None
            lagged = False
            async for event in self._events:
                lagged = event.get("type") == "lagged"
                await self._guarded(self._on_event(event))
            with contextlib.suppress(Exception):
                await self._events.aclose()
            if lagged:
                # The node dropped us for falling behind: a fresh stream, then re-read all.
                try:
                    self._events = await self.backend.subscribe()
                except BackendError as exc:
                    self.state.notice("error", f"cannot follow the node any more: {exc}")
                    break
                await self._guarded(self._reload())
            elif not await self._reconnect():
                break
        self.state.connected = False
        self.state.notice("error", "lost the connection to the node; /quit and start again")
        self._changed()

    async def _reconnect(self) -> bool:
        """The node went away (restarted, say): wait for it to answer again, then re-read."""
        reconnect = getattr(self.backend, "reconnect", None)
        if reconnect is None:
            return False
        self.state.connected = False
        for conv in self.state.conversations.values():
            conv.online = False
        self.state.notice("warning", "the node stopped; reconnecting when it is back")
        self._changed()
        for _ in range(RECONNECT_ATTEMPTS):
            try:
                await reconnect()
                self._events = await self.backend.subscribe()
                await self._reload()
            except BackendError:
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            self.state.connected = True
            self.state.notice("info", "reconnected to the node")
            self._changed()
            return True
        return False

    async def _on_event(self, event: dict[str, Any]) -> None:
        refresh = self.state.apply(event)
        self._changed()
        if event.get("type") == "message" and event.get("conversation") == self.state.selected:
            await self._mark_read()
        if "status" in refresh:
            self.state.set_status(await self.backend.status())
        if "contacts" in refresh:
            self.state.set_contacts(await self.backend.contacts())
        if "nearby" in refresh:
            await self._load_nearby()
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
        # Errors about what was typed a while ago are no news any more.
        self.state.drop_notices(kind="error", said_before=time.monotonic() - ERROR_LIFETIME)
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
            self.state.notice("error", in_chat_words(str(exc)))
        except AmbiguousName as exc:  # a group titled like a contact (issue 22)
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
            await self._add(command.fingerprint, command.name, list(command.addrs))
        elif isinstance(command, AddNearby):
            await self._add_nearby(command.who)
        elif isinstance(command, (Named, Plain)):
            handler = self.handlers().get(command.command)
            if handler is None:
                raise BackendError("unknown_command", f"/{command.command} is not available")
            await handler(command.who if isinstance(command, Named) else "")

    def handlers(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        """Command name -> what it does with its argument: the method `cmd_<name>`. A new
        command is one Spec in commands.COMMANDS and one such method."""
        return {name[1:]: getattr(self, f"cmd_{name[1:]}") for name in COMMANDS | IRC_COMMANDS
                if hasattr(self, f"cmd_{name[1:]}")}

    async def _send(self, text: str) -> None:
        conv = self.state.current
        if conv is None:
            self.state.notice("error", "no conversation open: /msg NAME, or /add someone")
            return
        if conv.state == "request":
            self.state.notice("error", f"{conv.name} is not a contact yet: /accept {conv.name}")
            return
        result = await self.backend.send(conv.fingerprint, text)
        self.state.apply(result)  # the event may come first or later: applying is idempotent

    def _resolve(self, who: str) -> Conversation:
        conv = self.state.find(who)
        if conv is None:
            raise BackendError("unknown_contact", f"no conversation named {who!r}:"
                                                  " /contacts lists them")
        return conv

    def _split_name(self, rest: str) -> tuple[Conversation, str]:
        """NAME then more text, where NAME may have spaces: the longest name that fits."""
        words = rest.split(" ")
        for cut in range(len(words), 0, -1):
            conv = self.state.find(" ".join(words[:cut]))
            if conv is not None:
                return conv, " ".join(words[cut:]).strip()
        raise BackendError("unknown_contact", f"no conversation named {words[0]!r}:"
                                              " /contacts lists them")

    async def _add(self, fingerprint_text: str, name: str, addrs: list[str]) -> None:
        contact = await self.backend.add_contact(fingerprint_text, name, addrs)
        conv = self.state.upsert_contact(contact)
        if conv is not None:
            if conv.online:
                self.state.notice("info", f"added {conv.name}: linked, you can chat")
            else:  # dropped when the link comes up (they had added us, or accept)
                self.state.notice("info", f"added {conv.name}; they see a request until they"
                                          " add you too", key=f"pending:{conv.fingerprint}")
            await self.switch_to(conv)

    async def _add_nearby(self, who: str) -> None:
        if not self.state.nearby and not self.state.nearby_now:
            await self._load_nearby()
        words = who.split()
        chosen: dict[str, Any] | None = None
        if words[0].isdigit():
            index = int(words[0]) - 1
            numbered = self.state.nearby or self.state.nearby_now  # as /nearby showed them
            if 0 <= index < len(numbered):
                chosen = numbered[index]
            name = " ".join(words[1:])
        else:
            wanted = who.casefold()
            chosen = next((n for n in self.state.nearby + self.state.nearby_now
                           if wanted in (str(n.get("name") or "").casefold(),
                                         str(n.get("fingerprint") or "").casefold())), None)
            name = who
        if chosen is None or not chosen.get("fingerprint"):
            raise BackendError("unknown_contact", f"no one called {who!r} is nearby (/nearby"
                                                  " lists who is); or /add FINGERPRINT NAME")
        await self._add(str(chosen["fingerprint"]), name or str(chosen.get("name") or ""), [])

    async def cmd_msg(self, rest: str) -> None:
        conv, text = self._split_name(rest)
        await self.switch_to(conv)
        if text:
            await self._send(text)

    async def _node_knows(self, who: str) -> bool:
        """A name or fingerprint of a contact, request or blocked one the node holds."""
        wanted = who.casefold().replace(" ", "").replace("-", "")
        return any(wanted in (str(c.get("name") or "").casefold().replace(" ", ""),
                              str(c.get("fingerprint") or "").casefold().replace("-", ""))
                   for c in await self.backend.contacts())

    def _known(self, who: str) -> str:
        # The node knows blocked contacts the list hides: ask it when we don't know the name.
        known = self.state.find(who)
        return known.fingerprint if known is not None else who

    async def cmd_accept(self, who: str) -> None:
        contact = await self.backend.accept(self._known(who))
        conv = self.state.upsert_contact(contact)
        if conv is not None:
            self.state.notice("info", f"accepted {conv.name}")
            await self.switch_to(conv)

    async def cmd_block(self, who: str) -> None:
        if self.state.find(who) is None and not await self._node_knows(who):
            raise BackendError("unknown_contact", f"no contact named {who!r}: /contacts"
                                                  " lists them")
        target = self._known(who)
        if self.ask is None:
            await self._block_now(target)
            return
        conv = self.state.find(who)
        shown = f"{conv.name} ({conv.fingerprint[:7]})" if conv is not None else who
        self.ask(f"Block {shown}? No links, messages or requests from them until /unblock."
                 " y/n", lambda: self.spawn_guarded(lambda: self._block_now(target), "block"))

    async def _block_now(self, who: str) -> None:
        contact = await self.backend.block(who)
        self.state.upsert_contact(contact)
        name = contact.get("name")
        self.state.notice("info", f"blocked {name}: no links or requests from them;"
                                  f" /unblock {name} undoes it")
        self._blocked_changed(str(name), add=True)
        await self._load_current()

    async def cmd_unblock(self, who: str) -> None:
        contact = await self.backend.unblock(who)
        self.state.upsert_contact(contact)
        self.state.notice("info", f"unblocked {contact.get('name')}")
        self._blocked_changed(str(contact.get("name")), add=False)

    def _blocked_changed(self, name: str, *, add: bool) -> None:
        names = [n for n in self.state.blocked if n != name]
        self.state.blocked = [*names, name] if add else names

    async def cmd_remove(self, who: str) -> None:
        result = await self.backend.remove(self._known(who))
        self.state.forget(str(result.get("removed")))
        name = result.get("name")
        self.state.notice("info", f"removed {name}; they can ask again: /block {name} refuses"
                                  " them for good. The history is kept: p2pchat log"
                                  f" {result.get('removed')}")
        await self._load_current()

    async def cmd_rename(self, rest: str) -> None:
        conv, new_name = self._split_name(rest)
        if not new_name:
            raise BackendError("usage", "usage: /rename NAME NEWNAME")
        contact = await self.backend.rename(conv.fingerprint, new_name)
        self.state.upsert_contact(contact)
        self.state.notice("info", f"{conv.fingerprint[:7]} is now called {contact.get('name')}")

    async def cmd_addr(self, rest: str) -> None:
        conv, addrs = self._split_name(rest)
        if conv.kind == "group":
            raise BackendError("usage", "usage: /addr NAME HOST:PORT... (a contact's name)")
        contact = await self.backend.set_addrs(conv.fingerprint, addrs.split())
        self.state.upsert_contact(contact)
        where = ", ".join(clean(a) for a in contact.get("addrs") or []) or "wherever" \
            " discovery finds them"
        self.state.notice("info", f"{clean(contact.get('name'))} is reached at {where}")

    async def cmd_nick(self, name: str) -> None:
        if not name:
            raise BackendError("usage", "usage: /nick NAME")
        result = await self.backend.rename_self(name)
        self.state.set_status(result)
        told = result.get("told")
        now = f"the {told} linked now see it at once, " if isinstance(told, int) and told else ""
        self.state.notice("info", f"you are now {self.state.me.name}; {now}other contacts on"
                                  " their next link")

    async def cmd_contacts(self, _: str) -> None:
        contacts = await self.backend.contacts()
        lines = []
        for c in contacts:
            online = "online " if c.get("online") else "offline"
            state = "" if c.get("state") == "contact" else f" [{c.get('state')}]"
            lines.append(f"  {c.get('name')!s:<20} {online} {c.get('fingerprint')}{state}")
        self.state.blocked = [clean(c.get("name")) for c in contacts
                              if c.get("state") == "blocked"][:MAX_NEARBY]
        self.state.show_page("Contacts", lines or ["  none yet: /add, or /nearby"])

    async def cmd_nearby(self, _: str) -> None:
        peers = await self.backend.peers()
        nearby = peers.get("nearby") or []
        self.state.nearby = [n for n in nearby if isinstance(n, dict)][:MAX_NEARBY]
        lines = []
        for number, near in enumerate(self.state.nearby, 1):
            label = near.get("name") or "(private: only contacts recognise them)"
            lines.append(f"  {number}. {label}  {near.get('fingerprint') or ''}")
        if lines:
            lines += ["", "Add someone with /add NUMBER (or /add NAME; Tab completes)."]
        else:
            lines = ["No one is visible on this network right now."]
        self.state.show_page("Nearby", lines + _hidden_nearby(peers))

    async def cmd_search(self, text: str) -> None:
        """TEXT in every conversation, the open one first; /jump N opens result N."""
        if not text:
            raise BackendError("usage", "usage: /search TEXT")
        wanted = text.casefold()
        current = self.state.current
        convs = [c for c in self.state.order() if c.state != "request"]
        convs.sort(key=lambda c: c is not current)  # stable: the open one first
        found: list[tuple[Conversation, Any]] = []
        for conv in convs[:MAX_ACTIVITY_READS]:
            if not conv.loaded:
                self.state.load_history(conv.fingerprint,
                                        await self.backend.history(conv.fingerprint,
                                                                   HISTORY_LIMIT))
            found += [(conv, m) for m in conv.messages
                      if not m.system and wanted in m.text.casefold()]
            if len(found) >= MAX_FOUND:
                break
        found = found[:MAX_FOUND]
        self.state.found = [(conv.fingerprint, m.id) for conv, m in found]
        self.state.search_term = text
        lines = [f"  {n}. [{conv.name}] {m.sent_at[:16].replace('T', ' ')} {m.author_name}:"
                 f" {' '.join(m.text.split())}" for n, (conv, m) in enumerate(found, 1)]
        where = f"{len(convs)} conversation{'s' * (len(convs) != 1)}"
        tail = ["", "/jump N opens result N at that message; Esc ends the marking."]
        self.state.show_page(f"{len(found)} found for {text!r} in {where}",
                             [*lines, *tail] if lines else ["  nothing"])

    async def cmd_j(self, who: str) -> None:
        await self.switch_to(self._resolve(who))  # the whole rest is the name: nothing sent

    async def cmd_names(self, _: str) -> None:
        conv = self.state.current
        if conv is not None and conv.kind == "group":
            await self.cmd_group("members")
        else:
            await self.cmd_contacts("")

    async def cmd_jump(self, number: str) -> None:
        if not number.isdigit() or not 1 <= int(number) <= len(self.state.found):
            raise BackendError("usage", f"/jump N: a result of the last /search (1 to"
                                        f" {len(self.state.found)})" if self.state.found
                               else "/search TEXT first, then /jump N")
        conv_id, message_id = self.state.found[int(number) - 1]
        conv = self.state.conversations.get(conv_id)
        if conv is None:
            raise BackendError("unknown_contact", "that conversation is gone")
        await self.switch_to(conv)
        self.state.jump_to = message_id

    async def cmd_verify(self, rest: str) -> None:
        conv, answer = self._split_name(rest)
        if answer.lower() in ("yes", "no"):
            contact = await self.backend.verify(conv.fingerprint, answer.lower() == "yes")
            self.state.upsert_contact(contact)
            self.state.notice("info", f"{conv.name} is marked verified: a new key under their"
                                      " name will be flagged" if answer.lower() == "yes"
                              else f"{conv.name} is not marked verified any more")
            return
        if answer:
            raise BackendError("usage", f"usage: /verify {conv.name} [yes|no]")
        rows = self._safety_rows(conv)
        me = self.state.me
        lines = [f"Safety number with {conv.name} (it must be the same on both screens;"
                 " compare it in person):", ""] + [f"  {row}" for row in rows]
        lines += ["", f"Your fingerprint: {me.fingerprint}",
                  f"Theirs:           {conv.fingerprint}", "",
                  f"You marked {conv.name} verified." if conv.verified else
                  f"The same on both screens? /verify {conv.name} yes marks them verified.",
                  "", "Your fingerprint as a QR code, for their phone or camera:"]
        lines += qr_lines(me.fingerprint)
        self.state.show_page(f"Verify {conv.name}", lines)

    async def cmd_safety(self, who: str) -> None:
        conv = self._resolve(who)
        rows = self._safety_rows(conv)
        self.state.show_page(f"Safety number with {conv.name}", [
            "It must be the same on both screens; compare it in person:", "",
            *[f"  {row}" for row in rows], "", f"Their fingerprint: {conv.fingerprint}",
            f"/verify {conv.name} also shows your fingerprint as a QR code."])

    def _safety_rows(self, conv: Conversation) -> list[str]:
        try:
            theirs = parse_fingerprint(conv.fingerprint)
            number = safety_number(bytes.fromhex(self.state.me.public_key), theirs)
        except (FingerprintError, IdentityError, ValueError) as exc:
            raise BackendError("bad_key", f"cannot compute the safety number: {exc}") from None
        return safety_rows(number)

    async def cmd_rekey(self, _: str) -> None:
        result = await self.backend.rekey()
        self.state.notice("info", f"new session keys on {result.get('links', 0)} link(s)")

    async def cmd_network(self, rest: str) -> None:
        try:
            command = parse_network(rest)
        except ParseError as exc:
            self.state.notice("error", str(exc))
            return
        result = await self.backend.network(command.action, command.name, command.passphrase)
        found = result.get("check_codes")
        codes: dict[str, Any] = found if isinstance(found, dict) else {}
        names = ", ".join(f"{clean(n)} (check code {clean(codes.get(n))})" if codes.get(n)
                          else clean(n) for n in result.get("networks") or []) or "none"
        waiting = [clean(n) for n in result.get("waiting") or []]
        self.state.notice("info", f"networks: {names}"
                          + (f"; waiting to be admitted: {', '.join(waiting)}" if waiting else ""))
        if command.action == "join" and command.name in (result.get("waiting") or []):
            self.state.notice("info", f"{clean(command.name)}: a member's running node nearby"
                                      " admits you; if none does, check the passphrase")
        elif command.action == "join" and codes.get(command.name):
            self.state.notice("info", "every member sees the same check code; a different one"
                                      " means another network of the same name")
        self.state.set_status(await self.backend.status())

    async def cmd_peers(self, _: str) -> None:
        self._show_peers(await self.backend.peers())

    async def cmd_id(self, _: str) -> None:
        with contextlib.suppress(BackendError):
            self.state.set_status(await self.backend.status())  # the ports as they are now
        me = self.state.me
        self.state.notice("info", f"You are {me.name}; your fingerprint, for friends to add:")
        self.state.notice("info", f"  {me.fingerprint}")
        addrs = reachable(self.state.listen, local_addresses())
        if addrs:
            self.state.notice("info", f"  reachable at {', '.join(addrs[:4])} (for /addr where"
                                      " discovery does not find you)")

    async def cmd_help(self, _: str) -> None:
        self.state.show_page("Help", help_lines())

    async def cmd_quit(self, _: str) -> None:
        self.on_quit()

    async def cmd_group(self, rest: str) -> None:
        action, name = parse_group(rest)
        if action == "create":
            conv = self.state.upsert_group(await self.backend.create_group(name))
            if conv is not None:
                self.state.notice("info", f"created {conv.name}: /group invite NAME to add people")
                await self.switch_to(conv)
            return
        if action == "list":
            groups = await self.backend.groups()
            self.state.set_groups(groups)
            self.state.show_page("Groups", [
                f"  {g.get('title')!s:<20} {counted(int(g.get('members') or 0), 'member')},"
                f" {g.get('online')} online,"
                f" you are {g.get('role')}" for g in groups] or ["  none yet: /group create NAME"])
            return
        if action in GROUP_ACTIONS_NAME_OR_CURRENT:
            await self._group_consent(action, name)
            return
        conv = self.state.current
        if conv is None or conv.kind != "group":
            raise BackendError("usage", "open a group first: /msg GROUP")
        if action == "members":
            lines = []
            for member in await self.backend.group_members(conv.fingerprint):
                marks = " (owner)" * bool(member.get("owner")) \
                    + " (admin)" * bool(member.get("admin")) + " (you)" * bool(member.get("you"))
                online = "online" if member.get("online") else "offline"
                unverified = member.get("contact") is False  # ~name: not a contact (issue 24)
                shown = "~" * unverified + str(member.get("name"))
                lines.append(f"  {shown}{marks}: {online}")
            title = f"Members of {conv.name}"
            if conv.state in ("removed", "left"):  # no news reaches us any more: say so
                how = "you were removed" if conv.state == "removed" else "you left"
                title += f" as they were when {how} (no news since)"
            self.state.show_page(title, lines)
            return
        # Keyed as the node's group_changed event is: one notice, whichever comes first.
        if action == "invite":
            group = await self.backend.invite(conv.fingerprint, name)
            self.state.notice("info", f"invited {name} to {conv.name}",
                              key=group_key(conv.fingerprint, "add", name))
        elif action == "remove":
            group = await self.backend.remove_member(conv.fingerprint, name)
            self.state.notice("info", f"removed {name} from {conv.name}",
                              key=group_key(conv.fingerprint, "remove", name))
        elif action in ("admin", "unadmin", "transfer"):  # the owner's (issue 24)
            group = await self.backend.manage_member(action, conv.fingerprint, name)
            self.state.notice("info", f"{action}: {name} in {conv.name}",
                              key=group_key(conv.fingerprint, action, name))
        else:
            group = await self.backend.leave_group(conv.fingerprint)
            self.state.notice("info", f"you left {conv.name} (its history is kept)",
                              key=group_key(conv.fingerprint, "leave", "you"))
        self.state.upsert_group(group)

    async def _group_consent(self, action: str, name: str) -> None:
        """/group accept|decline|forget [NAME]: NAME, or the group open now (issue 22)."""
        conv = self.state.find("#" + name) if name else self.state.current
        if conv is None or conv.kind != "group":
            raise BackendError("usage", f"/group {action} NAME, or open the group first")
        target, title = conv.fingerprint, conv.name
        if action == "forget" and self.ask is not None:
            self.ask(f"Forget {title} and delete all its messages? y/n",
                     lambda: self.spawn_guarded(lambda: self._consent_now(action, target, title),
                                                "forget"))
            return
        await self._consent_now(action, target, title)

    async def _consent_now(self, action: str, target: str, title: str) -> None:
        result = await self.backend.group_consent(action, target)
        if action == "accept":
            self.state.upsert_group(result)
            self.state.notice("info", f"you joined {title}")
            return
        self.state.forget(target)
        self.state.notice("info", f"declined the invitation to {title}" if action == "decline"
                          else f"forgot {title} and its history")

    def _show_peers(self, peers: dict[str, Any]) -> None:
        lines = []
        links = peers.get("links") or []
        if not links:
            lines.append("No live links.")
        for link in links:
            relay = str(link.get("relay") or "").split("#")[0]
            path = f"via relay {relay}" if link.get("path") == "relay" \
                else f"{link.get('address')}"
            lines.append(f"link: {link.get('name')} {link.get('state')}"
                         f" {link.get('direction')} {path}")
        for near in peers.get("nearby") or []:
            label = near.get("name") or "(private)"
            lines.append(f"nearby: {label} {near.get('fingerprint') or ''}"
                         f" {' '.join(near.get('addresses') or [])}")
        lines += _hidden_nearby(peers)
        for request in peers.get("requests") or []:
            lines.append(f"{request.get('name')} asks to connect: /accept {request.get('name')}")
        self.state.show_page("Peers", lines)

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

    def next_unread(self) -> None:
        """Alt+A: the next conversation with something unread."""
        if self.state.next_unread() is not None:
            self._changed()
            self._spawn(self._guarded(self._load_current()), "tui-load")
        else:
            self.state.notice("info", "nothing unread")
            self._changed()

    def select(self, fingerprint: str) -> None:
        """One conversation by fingerprint (Alt+digit, a click)."""
        if self.state.select(fingerprint) is not None:
            self._changed()
            self._spawn(self._guarded(self._load_current()), "tui-load")


# The node's errors name CLI commands; inside the chat, the chat's commands do the same.
_CLI_TO_CHAT = (
    ("see 'p2pchat contacts list'", "see /contacts"),
    ("accept them first", "/accept them first"),
    ("unblock them first", "/unblock them first"),
)


def in_chat_words(message: str) -> str:
    for cli, chat in _CLI_TO_CHAT:
        message = message.replace(cli, chat)
    return message


def qr_lines(text: str) -> list[str]:
    """`text` as a QR code in half-block characters (two rows per line), or nothing."""
    try:
        import segno
    except ImportError:
        return ["(no QR code: the segno package is missing)"]
    code = segno.make(text, error="m")
    matrix = [list(row) for row in code.matrix]
    border = 2
    size = len(matrix) + 2 * border

    def dark(y: int, x: int) -> bool:
        y, x = y - border, x - border
        return 0 <= y < len(matrix) and 0 <= x < len(matrix) and bool(matrix[y][x])

    lines = []
    for y in range(0, size, 2):
        row = ""
        for x in range(size):
            top, bottom = dark(y, x), dark(y + 1, x)
            row += {(False, False): "█", (True, False): "▄", (False, True): "▀",
                    (True, True): " "}[(top, bottom)]
        lines.append("  " + row)
    return lines


def _hidden_nearby(peers: dict[str, Any]) -> list[str]:
    hidden = peers.get("nearby_hidden")
    return [hidden_nearby(hidden)] if isinstance(hidden, int) and hidden > 0 else []

