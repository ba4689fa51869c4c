"""Runs what is typed and what the node reports against the backend and the view-model.

No terminal here either: the app hands over input lines and redraws when told to. Commands run
one at a time, in the order typed, so two quick messages are sent in order; a failing command
becomes a notice line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from p2pchat.core.error_words import in_words
from p2pchat.core.typed_name import unquoted
from p2pchat.tui.backend import BackendError, ChatBackend, EventStream
from p2pchat.tui.commands import (
    COMMANDS,
    IRC_COMMANDS,
    AddContact,
    AddNearby,
    Command,
    Named,
    ParseError,
    Plain,
    SendText,
    help_lines,
    masked,
)
from p2pchat.tui.commands import parse as parse_command
from p2pchat.tui.contact_commands import MAX_NEARBY, ContactCommands
from p2pchat.tui.contact_news import heard_from, sent_news
from p2pchat.tui.contact_only import ContactOnly
from p2pchat.tui.conversation import AmbiguousName, Conversation, by_activity, first_open
from p2pchat.tui.file_command import file_command
from p2pchat.tui.group_commands import GroupCommands
from p2pchat.tui.held_lines import AfterSwitchRefused, hold_behind, refused
from p2pchat.tui.kept_history import KeptHistory
from p2pchat.tui.network_commands import NetworkCommands
from p2pchat.tui.news import NICK, RECONNECTED, node_gone, port_news, requests_again
from p2pchat.tui.notice_ageing import PASSING, age_notices, answers_pass, user_acted
from p2pchat.tui.notice_rows import said_lines
from p2pchat.tui.open_page import follow_open_page
from p2pchat.tui.question import QuestionGate
from p2pchat.tui.reach_watch import ReachWatch
from p2pchat.tui.refusals import node_stopped, unsendable
from p2pchat.tui.search_command import SearchCommands
from p2pchat.tui.state import ChatState

log = logging.getLogger("p2pchat.tui")
# A line refused for a name it does not know is not put back in the input, where the next
# line typed would run on from it (trial 12: a passphrase typed next went out in a notice, a
# "y" was lost): Up recalls it, as in a shell or weechat (trial 11: "I had to retype it").
UP_BRINGS_IT_BACK = " (Up brings the line back)"
# A refusal that offers the command as it works ("carol is now called 'Carol S': /group create
# team bob "Carol S"") puts it in the input: one name corrected, nothing retyped (trial 14a, B17).
OFFERED = " (the corrected line is in the input: Enter runs it)"
HISTORY_LIMIT = 500  # messages read per conversation when it is opened
MAX_RESUBSCRIBES = 100  # a node that keeps lagging us is not worth looping on forever
MAX_ACTIVITY_READS = 500  # conversations whose newest message is read at start
ERROR_LIFETIME = 20.0  # seconds an error notice stays once something else is typed
SUPERSEDED_AFTER = 15.0  # seconds a command's information stays once another is typed
AGEING_PERIOD = 10.0  # seconds between looks at which notices are no news any more
RECONNECT_ATTEMPTS = 600  # about ten minutes of waiting for a restarted node
RECONNECT_DELAY = 1.0
NODE_GONE = ("disconnected", "no_node")  # BackendError codes: the node is not there
__all__ = ["PASSING", "Controller", "in_chat_words"]  # PASSING: tui/notice_ageing.py


def _after(refused: BackendError, offer: Callable[[str], bool]) -> str:
    """What a refusal adds: its corrected line is in the input (put there by `offer`, when
    nothing was typed since), or Up recalls a line refused for a name it does not know."""
    if refused.corrected and offer(refused.corrected):
        return OFFERED
    return UP_BRINGS_IT_BACK if refused.code == "unknown_contact" else ""


class Controller:
    def __init__(self, backend: ChatBackend, *, on_change: Callable[[], None] = lambda: None,
                 on_quit: Callable[[], None] = lambda: None) -> None:
        self.backend = backend
        self.state = ChatState(mode=backend.mode)
        self.on_change = on_change
        self.on_quit = on_quit
        # How to ask the user yes or no before something hard to undo; None: don't ask.
        self.ask: Callable[[str, Callable[[], None]], None] | None = None
        # A line that left the input and could not run (the node went meanwhile): back to
        # the input, with why (the screen sets it); without a screen, quoted in the notice.
        self.hand_back: Callable[[str, str], None] = self.quote_unsent
        self.offer: Callable[[str], bool] = lambda line: False  # tui/refusals.py, the screen's
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self.running = ""  # the typed line being run, if any
        self.switch_refused = AfterSwitchRefused(lambda: self.state.clock())  # (B6)
        self.gate = QuestionGate(self._lines)  # closed while a question waits (tui/question.py)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: EventStream | None = None
        self.ready = asyncio.Event()  # set once the first load is done
        self.kept = KeptHistory(self.state, backend)  # of removed contacts (/msg, /search)
        # The command handlers by concern, each built with what it needs (`handlers` joins them).
        self.contacts = ContactCommands(
            self.state, backend, ask=lambda: self.ask, spawn_guarded=self.spawn_guarded,
            switch_to=self.switch_to, load_current=self._load_current,
            load_nearby=self._load_nearby, on_removed=self.kept.note_removed,
            changed=self._changed)
        self.contact_only = ContactOnly(self.state, self.contacts)  # /verify bob: the contact
        self.groups = GroupCommands(self.state, backend, ask=lambda: self.ask,
                                    spawn_guarded=self.spawn_guarded, switch_to=self.switch_to)
        self.networks = NetworkCommands(self.state, backend)
        self.search = SearchCommands(self.state, backend, self.kept, switch_to=self.switch_to,
                                     history_limit=HISTORY_LIMIT,
                                     max_conversations=MAX_ACTIVITY_READS)
        self.reach = ReachWatch(self.state, backend, on_change=self._changed)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe first, then read: an event in between is applied twice, never lost.

        The events are followed even when the first read fails: a node that stopped meanwhile
        ends the stream, and the reconnection reads everything again."""
        self._events = await self.backend.subscribe()
        try:
            await self._reload()
            if self.backend.mode == "attached":  # a node that ran before this screen:
                self.reach.opened(self.state.relays)  # what it did then is no news here
        except BackendError as exc:
            self.state.notice("error", in_chat_words(str(exc)))
        self._spawn(self._run_events(), "tui-events")
        self._spawn(self._run_commands(), "tui-commands")
        self._spawn(self._expire_info(), "tui-expire")
        self._spawn(self.reach.run(), "tui-reach")
        self.ready.set()
        self._changed()

    async def stop(self) -> None:
        """Stop the tasks and close the event stream."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._events is not None:
            with contextlib.suppress(Exception):
                await self._events.aclose()

    async def _expire_info(self) -> None:
        """Informational notices go after a while (tui/notice_ageing.py says when)."""
        while True:
            await asyncio.sleep(AGEING_PERIOD)
            if age_notices(self.state):
                self._changed()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def spawn_guarded(self, work: Callable[[], Awaitable[None]], name: str) -> None:
        """Run `work()` in the background (a question's yes); a failure becomes a notice that
        passes at the next command, as the asking command's own refusals do."""
        async def answered() -> None:
            before = list(self.state.notices)
            await self._guarded(work())
            answers_pass(self.state, before)
        self._spawn(answered(), name)

    def _changed(self) -> None:
        self.on_change()

    async def _reload(self) -> None:
        self.state.set_status(status := await self.backend.status())
        port_news(self.state, status)
        # Fresh: a link event from before a restart must not outvote the node's answer now.
        self.state.set_contacts(await self.backend.contacts(), fresh=True)
        self.state.set_groups(await self.backend.groups())
        self.state.set_unread(unread := await self.backend.unread())
        self.state.transfers.load(await self.backend.files())
        for conv in self.state.conversations.values():
            conv.loaded = False
        await self._load_activity()
        self.state.fix_numbers()
        top = first_open(by_activity(self.state.conversations.values()))  # the latest
        if not self.ready.is_set() and top is not None:
            # The activity is known only now: open the latest conversation, not the first
            # contact read (trial 2, B18), whose unread count that first pick had cleared.
            self.state.select(top.id)
            self.state.set_unread(unread)
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
            # A pending invitation has no log yet: asking for it failed, and that ended the
            # whole load before the open conversation was read ("(loading)" for ever).
            readable = conv.state == "contact" or (conv.kind == "group"
                                                   and conv.state != "invited")
            if readable and not conv.messages:
                try:
                    newest = await self.backend.history(conv.id, 1)
                except BackendError as exc:  # one unreadable log never stops the load
                    log.debug("no activity for %s: %s", conv.id[:7], exc)
                    continue
                if newest:
                    conv.last_activity = max(conv.last_activity, str(newest[-1].get("sent_at")))

    async def _load_current(self) -> None:
        conv = self.state.current
        # A pending group invitation (issue 22) has no history to read yet; a request may (one
        # removed here who asks again: the kept history shows on its page, trial 3, 27).
        if conv is not None and not conv.loaded and conv.state != "invited":
            history = await self.backend.history(conv.id, HISTORY_LIMIT,
                                                 changes=conv.kind == "group")
            self.state.load_history(conv.id, history)
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
            await self.backend.mark_read(conv.id, newest)

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
        node_gone(self.state)
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
            age_notices(self.state)  # "the node stopped" is untrue now (trial 9, B3)
            self.state.notice("info", RECONNECTED, key=f"{PASSING}:reconnected")  # 14b, B11
            requests_again(self.state)  # a pending request stays in sight (trial 12)
            self._changed()
            return True
        return False

    async def _on_event(self, event: Mapping[str, Any]) -> None:
        shown, refresh = self.state.selected, self.state.apply(event)  # shown: before it
        heard_from(self.state, event)  # their reply, or our ✓✓: "the request waits" untrue
        if event.get("type") in ("link_up", "contacts_changed"):  # accepted, or a knock? (B6)
            self.reach.link_came(str(event.get("fingerprint")), event["type"] != "link_up")
        age_notices(self.state)  # what the event ended ("does not answer": linked) goes
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
        if "unread" in refresh:
            self.state.set_unread(await self.backend.unread())
        await follow_open_page(self.state, self.contacts, self.groups, event, refresh)
        self.reach.annotate_page()
        if event.get("type") == "relays_changed":  # at once, not at the watch's next read
            await self.reach.check()
        # A request accepted from the CLI, or the next shown after a forget (trial 14c, B4)
        if ("contacts" in refresh or self.state.selected != shown) \
                and self.state.current is not None and not self.state.current.loaded:
            await self._load_current()
        if refresh:
            self._changed()

    def submit(self, line: str) -> None:
        """Queue a typed line; they run one after another."""
        self._lines.put_nowait(line)

    async def _run_commands(self) -> None:
        while True:
            self.running = await self._lines.get()
            answered = await self.gate.wait()  # a question asked by the line before first
            ran = await self.execute(self.running, answered)  # lines typed after a refused
            # command count on it (the node gone: each line comes back as it runs, saying so)
            self.switch_refused.ran(self.running, ran, self.state.selected)
            if not ran and self.state.connected:
                hold_behind(self.running, self._lines, self.hand_back)
            self.running = ""

    def busy(self) -> bool:
        """A command is queued or running: a line typed now runs after it, maybe in another
        conversation, so it is judged where it runs (trial 6, B1)."""
        return bool(self.running) or not self._lines.empty()

    async def execute(self, line: str, after_answer: bool = False) -> bool:
        # Errors about what was typed a while ago are no news any more.
        """Run one typed line; what fails becomes a notice. False: a command refused."""
        user_acted(self.state)
        age_notices(self.state)
        now = self.state.clock()
        self.state.drop_notices(kind="error", said_before=now - ERROR_LIFETIME)
        # What a command said a while before (/id, say) is superseded by this one; what is
        # still going on (keyed notices) stays.
        self.state.drop_notices(kind="info", said_before=now - SUPERSEDED_AFTER, unkeyed=True)
        self.state.drop_notices(key="" if after_answer else PASSING)  # answers pass (14c B5)
        if not self.state.connected and (why := node_stopped(line)) is not None:
            self.hand_back(line, why)  # typed behind a command, before the node went
            self._changed()
            return True
        before = list(self.state.notices)
        try:
            command = parse_command(line)
        except ParseError as exc:
            self.state.notice("error", str(exc))
            command = None
        if command is not None:
            await self._guarded(self._run(command))
        ran = not refused(line, before, self.state.notices)
        if not isinstance(command, SendText):  # a message not sent stays said a while
            answers_pass(self.state, before)  # a command's refusals are one-off answers
        self._changed()
        return ran

    async def _guarded(self, work: Awaitable[None]) -> None:
        """Run `work`; whatever fails is told in one notice line."""
        try:
            await work
        except BackendError as exc:
            self.state.notice("error", in_chat_words(str(exc)) + _after(exc, self.offer))
        except AmbiguousName as exc:  # a group titled like a contact (issue 22)
            self.state.notice("error", str(exc) + UP_BRINGS_IT_BACK)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not kill the UI, and must be seen
            log.debug("command failed", exc_info=True)
            self.state.notice("error", f"internal error: {in_words(exc)} (a bug)")
        self._changed()

    async def _run(self, command: Command) -> None:
        if isinstance(command, SendText):
            await self._send(command.text)
        elif isinstance(command, AddContact):
            await self.contacts.add(command.fingerprint, command.name, list(command.addrs))
        elif isinstance(command, AddNearby):
            await self.contacts.add_nearby(command.who)
        elif isinstance(command, (Named, Plain)):
            handler = self.handlers().get(command.command)
            if handler is None:
                raise BackendError("unknown_command", f"/{command.command} is not available")
            try:
                await handler(command.who if isinstance(command, Named) else "")
            except AmbiguousName as exc:  # its hint in the command typed (trial 8, B7)
                raise AmbiguousName(str(exc).replace("/msg ", f"/{command.command} ")) from None

    def handlers(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        """Command name -> what it does with its argument: the method `cmd_<name>` of the
        controller or of one of its parts. A new command is one Spec in commands.COMMANDS and
        one such method."""
        found: dict[str, Callable[[str], Awaitable[None]]] = {}
        for part in (self, self.contacts, self.contact_only, self.groups, self.networks,
                     self.search):
            found.update((name[1:], getattr(part, f"cmd_{name[1:]}"))
                         for name in COMMANDS | IRC_COMMANDS if hasattr(part, f"cmd_{name[1:]}"))
        found["contacts"] = self.reach.around(found["contacts"])  # why one is offline
        return found

    async def _send(self, text: str) -> None:
        conv = self.state.current
        why = unsendable(self.state, conv, text)  # a passphrase never leaves (trial 14a, B2)
        if why is not None or conv is None:  # never None without a conversation
            self.state.notice("error", why or "")
            return
        try:
            result = await self.backend.send(conv.id, text)
        except BackendError as exc:
            if exc.code not in NODE_GONE:
                raise
            self.hand_back(text, node_stopped(text) or str(exc))  # went as this line ran
            return
        self.state.apply(result)  # the event may come first or later: applying is idempotent
        sent_news(self.state, conv, result)  # kept for whom, and why (trial 14a, B6)

    def quote_unsent(self, line: str, why: str) -> None:
        """A line that could not run, quoted in the notice with why."""
        shown = masked(line) if len(line) <= 200 else masked(line)[:200] + "…"
        self.state.notice("error", f"{why or 'not run'} (your line: {shown!r})")

    async def cmd_msg(self, rest: str) -> None:
        """/msg NAME [TEXT]: open a conversation, and send TEXT if given."""
        try:
            conv, text = self.contacts.split_name(rest)
        except BackendError:
            if not await self.kept.show(rest):  # a removed contact's kept history
                raise
            return
        await self.switch_to(conv)
        if text:
            await self._send(text)

    async def cmd_nick(self, name: str) -> None:
        """/nick NAME: our own new name ("Carol S" is Carol S)."""
        name = unquoted(name)
        if not name:
            raise BackendError("usage", "usage: /nick NAME")
        result = await self.backend.rename_self(name)
        self.state.set_status(result)
        self.state.drop_notices(key=NICK)  # its event's or the last /nick's: said once (B5)
        told = result.get("told")
        now = f"the {told} linked now see it at once, " if isinstance(told, int) and told else ""
        self.state.notice("info", f"you are now {self.state.me.name}; {now}other contacts on"
                                  " their next link", key=NICK)

    async def cmd_j(self, who: str) -> None:
        """/j NAME: open a conversation."""
        await self.switch_to(self.contacts.resolve(who, irc=True))  # the rest is the name

    async def cmd_names(self, _: str) -> None:
        """/names: a group's members, or the contacts."""
        conv = self.state.current
        if conv is not None and conv.kind == "group":
            await self.groups.cmd_group("members")
        else:
            await self.contacts.cmd_contacts("")

    async def cmd_file(self, rest: str) -> None:
        """/file PATH, or /file accept|decline|cancel ID (tui/file_command.py)."""
        await file_command(self.backend, self.state, rest)

    async def cmd_notices(self, _: str) -> None:
        """/notices: the recent notices in full (the row cuts a long one)."""
        # Newest first: a page opens at its top, and the newest is what is looked for (trial
        # 8, B12: "newest last" opened on the oldest, the newest below the fold).
        self.state.show_page("Recent notices, newest first",
                             said_lines(reversed(self.state.said)))

    async def cmd_help(self, _: str) -> None:
        """/help."""
        self.state.show_page("Help", help_lines())

    async def cmd_quit(self, _: str) -> None:
        """/quit."""
        self.on_quit()

    # ------------------------------------------------------------ selection

    async def switch_to(self, conv: Conversation) -> None:
        """Select `conv` and load its history."""
        self.state.select(conv.id)
        self._changed()
        await self._load_current()

    def _acted(self) -> None:
        self.state.drop_notices(key=PASSING)
        user_acted(self.state)
        age_notices(self.state)

    def switch(self, step: int) -> None:
        """Next or previous conversation (keys); its history loads in the background."""
        self._acted()
        if self.state.select_next(step) is not None:
            self._changed()
            self._spawn(self._guarded(self._load_current()), "tui-load")

    def next_unread(self) -> None:
        """Alt+A: the next conversation with something unread."""
        self._acted()
        if self.state.next_unread() is not None:
            self._changed()
            self._spawn(self._guarded(self._load_current()), "tui-load")
        else:  # an answer to this key only: it goes at the next (round 2, 1)
            self.state.notice("info", "nothing unread", key=f"{PASSING}:unread")
            self._changed()

    def select(self, fingerprint: str) -> None:
        """One conversation by fingerprint (Alt+digit, a click)."""
        self._acted()
        if self.state.select(fingerprint) is not None:
            self._changed()
            self._spawn(self._guarded(self._load_current()), "tui-load")


# The node's errors name CLI commands; inside the chat, the chat's commands do the same.
_CLI_TO_CHAT = (
    ("see 'p2pchat contacts list'", "see /contacts"),
    ("accept them first", "/accept them first"),
    ("unblock them first", "/unblock them first"),
    ("('group transfer GROUP MEMBER')", "with /group transfer MEMBER in the group"),
)


def in_chat_words(message: str) -> str:
    for cli, chat in _CLI_TO_CHAT:
        message = message.replace(cli, chat)
    return message
