"""The UI's view-model: conversations, their messages and unread counts, notices, the status.

Pure: it only applies what the node says (command results and events) and never talks to it,
so every rule here is tested without a terminal. Everything from outside is sanitised on the
way in (see sanitize.py), so nothing kept here can drive the terminal.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from p2pchat.core.timestamps import iso_from_ms
from p2pchat.event_types import (
    ContactRequestEvent,
    DeliveryEvent,
    EquivocationEvent,
    GroupEvent,
    KeyMismatchEvent,
    LinkDownEvent,
    LinkUpEvent,
    MessageEvent,
    PeerRenamedEvent,
    StorageEvent,
)
from p2pchat.tui import contact_news, news
from p2pchat.tui.conversation import (
    Conversation,
    Me,
    Message,
    Notice,
    Page,
    by_arrival,
    find_conversation,
    next_to_visit,
    renamed_line,
)
from p2pchat.tui.files import Transfers
from p2pchat.tui.lookalike import namesakes
from p2pchat.tui.sanitize import clean

# A delivery can overtake the reply to its own send (or refer to history not loaded yet).
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2}
MAX_EARLY_DELIVERIES = 1024
MAX_NOTICES = 200
MAX_SAID = 100  # notices /notices shows in full, however long ago or cut on the row
SAID_AGAIN_AFTER = 60.0  # seconds: a keyed notice said again sooner is listed once
MAX_LINK_STATES = 4096


def _set_state(chat: ChatState, conv: Conversation, contact: Mapping[str, Any]) -> None:
    """`contact`'s state; a request after a removal (their node still has us) stays the
    removed conversation, marked, not a fresh request (issue 23, B4)."""
    state = clean(contact.get("state")) or "contact"
    conv.asks_again = state == "request" and contact.get("after_removal") is True
    state = "removed" if conv.asks_again else state
    if conv.state == "request" != state:
        conv.loaded = False  # accepted: read from the node again (a request's is its kept log)
    if conv.state != state:  # "blocked bob" stayed up after a CLI unblock (trial 3, 18)
        chat.drop_notices(key=f"contact:{conv.id}")
    contact_news.state_news(chat, conv, state)
    conv.state = state


def _met(conv: Conversation, contact: Mapping[str, Any]) -> None:
    """When a link with them last ended (`last_seen`), or that their node never said it has
    us (`asked`, kept by the node): "asked, waiting" as after /add here, on a screen opened
    later too (trial 12, B15: it said "offline" where `contacts add` said "asked, waiting")."""
    if contact.get("asked") is True and not conv.online and not conv.answers \
            and conv.state == "contact":
        conv.answers = "asked"
    conv.last_seen = clean(contact.get("last_seen")) or conv.last_seen
    conv.since = clean(contact.get("since")) or conv.since  # its number (trial 14a, B16)
    if conv.state == "request":  # its time in the list: when it came (trial 13, B13); one
        # told live (its event has no time) came now
        came = clean(contact.get("requested_at")) or conv.last_activity or iso_from_ms(
            time.time_ns() // 1_000_000)
        conv.last_activity = max(conv.last_activity, came)


class ChatState:
    def __init__(self, mode: str = "in-process") -> None:
        self.mode = mode
        self.me = Me()
        self.links = 0
        self.mdns = False
        self.presence = ""
        self.networks: list[str] = []
        self.networks_waiting: list[str] = []  # asking members to admit us
        self.networks_refused: list[str] = []  # nobody asked admitted us (none in it, or wrong)
        self.connected = True
        self.conversations: dict[str, Conversation] = {}
        self.selected: str | None = None
        self.notices: deque[Notice] = deque(maxlen=MAX_NOTICES)
        self.said: deque[tuple[float, str, str]] = deque(maxlen=MAX_SAID)  # (when, kind, text)
        self.page: Page | None = None
        self.nearby: list[dict[str, Any]] = []  # as /nearby numbered them (for /add NUMBER)
        self.nearby_now: list[dict[str, Any]] = []  # kept current: what Tab offers after /add
        self.blocked: list[str] = []  # names, for /unblock completion
        self.starting = False  # the node is still starting behind the first screen
        self.discovering = False  # mDNS is starting behind the screen
        self.node_pid: int | None = None
        self.node_in_chat_screen = False  # the node runs inside another chat screen
        self._lines = 0  # lines added by the screen (add_line), for their ids
        self.search_term = ""  # what /search found is marked in the conversations (Esc ends)
        self.found: list[tuple[str, str]] = []  # (conversation, message id) of each result
        self.jump_to: str | None = None  # a message the pane scrolls to once (/jump)
        self.listen: list[str] = []  # the node's listening addresses, as status gives them
        self.relays: list[dict[str, Any]] = []
        self.told_names: dict[str, str] = {}  # fingerprint -> the nick last told (news.py)
        self.cleared: set[str] = set()  # request notices cleared with Esc: not said again
        self._numbers_fixed = False
        self._places: dict[str, int] = {}  # fingerprint -> place in the list, once fixed
        self._next_place = 0
        self._early_deliveries: dict[str, bool] = {}  # insertion-ordered, bounded
        # The latest link_up/link_down per fingerprint: fresher than a command's reply that
        # was computed before the link came up (an /add's reply can arrive after link_up).
        self._linked: dict[str, bool] = {}
        self.transfers = Transfers()  # files, shown in their conversations (tui/files.py)
        self.clock: Callable[[], float] = time.monotonic  # notices' times (notice_ageing.py)
        self.acted_at = 0.0  # when a line was last typed or a conversation switched to

    # ------------------------------------------------------------ loading

    def set_status(self, status: dict[str, Any]) -> None:
        before = self.me.name
        self.me = Me(clean(status.get("name")), clean(status.get("fingerprint")),
                     clean(status.get("public_key")))
        if before and self.me.name and self.me.name != before:  # /nick: our past messages too
            for conv in self.conversations.values():
                for message in conv.messages:
                    if message.own:
                        message.author_name = self.me.name
        self.links = int(status.get("links") or 0)
        self.mdns = bool(status.get("mdns"))
        self.presence = clean(status.get("presence"))
        networks = [clean(n) for n in status.get("networks") or []]
        if networks != self.networks:
            self.networks = networks
            news.networks_changed(self)
        self.networks_waiting = [clean(n) for n in status.get("networks_waiting") or []]
        self.networks_refused = [clean(n) for n in status.get("networks_refused") or []]
        news.drop_left_networks(self)
        pid = status.get("pid")
        self.node_pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        self.node_in_chat_screen = status.get("in_chat_screen") is True
        self.listen = [clean(a) for a in status.get("listen") or []][:16]
        self.relays = [r for r in status.get("relays") or [] if isinstance(r, dict)][:16]

    def set_unread(self, counts: dict[str, Any]) -> None:
        """The node's unread counts (kept across restarts); the open conversation is read."""
        for conv in self.conversations.values():
            if conv.id != self.selected:
                count = counts.get(conv.id)
                conv.unread = count if isinstance(count, int) and 0 <= count < 10_000 else 0
                if not conv.unread:  # read elsewhere: its "new messages" line goes too
                    conv.first_unread = None

    def set_contacts(self, contacts: list[dict[str, Any]], *, fresh: bool = False) -> None:
        """Replace the list; conversations keep their messages and unread counts. `fresh`: a
        full re-read (start, reconnection), newer than any link event applied before it, so
        whether each contact is online is taken from it."""
        if fresh:
            self._linked.clear()
        before = {fp: conv.state for fp, conv in self.conversations.items()}
        seen = set()  # the node's blocked contacts complete after /unblock (trial 2, B8)
        self.blocked = [clean(c.get("name")) for c in contacts if c.get("state") == "blocked"]
        for contact in contacts:
            conv = self.upsert_contact(contact)
            if conv is not None:
                seen.add(conv.id)
        for fp in [fp for fp, conv in self.conversations.items()
                   if fp not in seen and conv.kind != "group"]:
            self.forget(fp)
        contact_news.requests_news(self, contacts, before, fresh)  # unanswered, or anew
        self._ensure_selection()

    def upsert_contact(self, contact: dict[str, Any]) -> Conversation | None:
        """A contact dict from the node; one blocked while listed stays in its place, marked
        (weechat-like numbers stay put, trial 3, 9); one blocked before is listed the same way,
        marked (round 2, 3: it was missing, so nothing showed it could be unblocked)."""
        fp = clean(contact.get("fingerprint"))
        if not fp:
            return None
        conv = self.conversations.get(fp)
        new = conv is None
        if conv is None:
            conv = self.conversations[fp] = Conversation(fp, clean(contact.get("name")))
        renamed = clean(contact.get("name")) or conv.name
        if renamed != conv.name and not new:  # done: "/rename ... to call them that" goes
            self.drop_notices(key=f"renamed:{fp}")
        if renamed != conv.name or new:  # their past messages carry the new name too
            rename_author(self.conversations, fp, renamed,
                          contact=(clean(contact.get("state")) or "contact") == "contact")
            news.renamed_in_notices(self, fp, renamed, "" if new else conv.name)
            if not new:
                news.renamed_namesake(self, conv.name, renamed)
        conv.name = renamed
        _set_state(self, conv, contact)
        if conv.state != "request":  # answered, from here or the CLI: its notice is stale
            self.drop_notices(key=f"request:{fp}")
        conv.note = clean(contact.get("note"))
        conv.verified = contact.get("verified") is True
        namesake = self.conversations.get(clean(contact.get("same_name_as")))
        conv.impostor_of, conv.lookalike_of = namesakes(conv, namesake, contact)
        conv.awaited = contact.get("awaits_answer") is True  # a link to it is no 1:1 (14a B6)
        conv.online = self._linked.get(fp, bool(contact.get("online"))) and not conv.awaited
        _met(conv, contact)
        self._ensure_selection()
        return conv

    def set_groups(self, groups: list[dict[str, Any]]) -> None:
        """Groups from the node; one we left or were removed from stays, with its history."""
        for group in groups:
            self.upsert_group(group)

    def upsert_group(self, group: Mapping[str, Any]) -> Conversation | None:
        gid = clean(group.get("group"))
        if not gid:
            return None
        conv = self.conversations.get(gid)
        if conv is None:
            conv = self.conversations[gid] = Conversation(gid, clean(group.get("title")),
                                                          state="member", kind="group")
        conv.kind = "group"
        conv.name = clean(group.get("title")) or conv.name
        role = clean(group.get("role")) or conv.state
        if role in ("left", "removed") and conv.state != role:  # however we learn it (a
            # catch-up while the screen was away too): "you joined band" is untrue (session 35)
            self.drop_notices(key=news.group_key(gid, "join", "you"))
        conv.kept_role, conv.state = news.kept_role(conv, role), role
        conv.online, conv.note = bool(group.get("online")), clean(group.get("role"))
        conv.since = clean(group.get("since")) or conv.since  # its number (trial 14a, B16)
        _take_members(conv, group)
        self._ensure_selection()
        return conv

    def add_line(self, conv: Conversation, text: str, line_id: str | None = None,
                 at: str = "", about: Mapping[str, Any] | None = None) -> None:
        """A line of what happened, in the conversation at this time (or `at`, the node's ISO
        time for it; kept for this screen); `line_id`: the id the node's log gives it, so
        reloading the history does not double it; `about`: the group event it tells (its
        `member` is renamed in it as their messages are)."""
        self._lines += 1
        now = at or datetime.now(UTC).isoformat(timespec="milliseconds")
        self._add_message(conv, {**(about or {}), "id": line_id or f"line-{self._lines}",
                                 "text": text, "sent_at": now}, count_unread=False,
                          system=True)

    def set_links(self, links: list[Any]) -> None:
        """Which links go through a relay, from `peers` (events keep it current after)."""
        relayed = {clean(link.get("fingerprint")): clean(link.get("relay"))
                   for link in links if isinstance(link, dict) and link.get("path") == "relay"}
        for conv in self.conversations.values():
            if conv.kind != "group":
                conv.relay = relayed.get(conv.id, "")

    def forget(self, fingerprint: str) -> None:
        contact_news.drop_contact_news(self, fingerprint)
        conv = self.conversations.get(fingerprint)  # a contact removed stays: keep_removed
        if conv is not None and conv.kind != "group":
            news.contact_gone(self, conv)
        if conv is not None and keep_removed(conv, self._numbers_fixed):
            return
        news.drop_about(self, fingerprint, conv is not None and conv.kind == "group")
        gone = self.conversations.pop(fingerprint, None)
        if gone is not None and gone.kind != "group":  # no longer a contact
            rename_author(self.conversations, fingerprint, gone.name, contact=False)
        self._places.pop(fingerprint, None)
        self._linked.pop(fingerprint, None)
        if self.selected == fingerprint:
            self.selected = None
            self._ensure_selection()

    def load_history(self, fingerprint: str, messages: list[dict[str, Any]]) -> None:
        """Merge the node's log with whatever events already brought."""
        conv = self.conversations.get(fingerprint)
        if conv is None:
            return
        for event in messages:
            # A membership change (`log`'s lines with `changes`): shown as it was live.
            self._add_message(conv, event, count_unread=False,
                              system=event.get("notice") == "membership")
        conv.loaded = True

    # ------------------------------------------------------------ events

    def apply(self, event: Mapping[str, Any]) -> set[str]:
        """Apply one node event (or a command's result of the same shape).

        Returns what the caller should re-read from the node: "status" (link counts),
        "contacts" or "groups" (a conversation we did not know of). Each kind is read as its
        type in p2pchat/event_types.py says, every value cleaned (it may come from another
        process, of another version).
        """
        kind = event.get("type")
        refresh: set[str] = set()
        if kind == "message":
            message = cast(MessageEvent, event)
            fp = clean(message.get("conversation"))
            conv = self.conversations.get(fp)
            if conv is None and message.get("group") is not None:
                conv = self.upsert_group({"group": fp, "title": message.get("group")})
                refresh.add("groups")
            if conv is None:
                # From someone not in our list yet: show it now, the contacts read fills in.
                name = message.get("author_name") if not message.get("own") else fp[:7]
                conv = self.conversations[fp] = Conversation(fp, clean(name))
                refresh.add("contacts")
                self._ensure_selection()
            self._add_message(conv, message, count_unread=True)
        elif kind == "delivery":
            delivery = cast(DeliveryEvent, event)
            self._delivered(clean(delivery.get("fingerprint")), clean(delivery.get("id")))
            conv = self.conversations.get(clean(event.get("fingerprint")))
            held = conv.find(clean(event.get("id"))) if conv is not None else None
            if held is not None and (counted := delivered_of(event)) is not None:
                held.delivered = counted
        elif kind == "contact_request":
            news.request_news(self, cast(ContactRequestEvent, event))
        elif kind in ("link_up", "link_down"):
            # Read as a link_up; a link_down shares its fingerprint and adds `online`.
            link_up, link_down = cast(LinkUpEvent, event), cast(LinkDownEvent, event)
            fp = clean(link_up.get("fingerprint"))
            conv = self.conversations.get(fp)
            # A replaced link goes down after its successor came up: the node says if the
            # peer is still linked.
            up = kind == "link_up" or link_down.get("online") is True
            known = conv is not None or bool(link_up.get("contact"))
            if known and (len(self._linked) < MAX_LINK_STATES or fp in self._linked):
                self._linked[fp] = up
            if conv is not None:  # what waited for it, a knock aside; untrue once down
                contact_news.link_news(self, conv, up)
            if conv is not None:
                if conv.online and not up and not conv.answers:  # "offline (last seen HH:MM)"
                    conv.last_seen = datetime.now(UTC).isoformat()
                conv.online = up and not conv.awaited  # a knock, or a group's link (B6)
                if kind == "link_up":
                    conv.relay = clean(link_up.get("relay")) if link_up.get("path") == "relay" \
                        else ""
            refresh.add("status")
        elif kind == "key_mismatch":
            news.key_mismatch(self, cast(KeyMismatchEvent, event))
        elif kind in ("group_joined", "group_changed"):
            news.group_news(self, cast(GroupEvent, event))
        elif kind == "group_updated":  # its counts alone (trial 13c, B4: a stale header)
            self.upsert_group(cast(GroupEvent, event))
        elif kind == "group_invited":  # issue 22: a request, like a contact's
            invited = cast(GroupEvent, event)
            conv = self.upsert_group(invited)
            if conv is not None:
                news.invited_news(self, conv, clean(invited.get("invited_by_name")))
        elif kind in ("group_invitation_closed", "group_forgotten"):  # by the CLI too (trial 6)
            refresh.update(news.invitation_closed(self, event))  # a kept group stays (B2)
        elif kind == "read_changed":  # read in another screen of this node (trial 4, B11)
            refresh.add("unread")
        elif kind == "equivocation":  # issue 22: a member lied, in words a person understands
            lie = cast(EquivocationEvent, event)
            self.notice("warning", f"WARNING in {clean(lie.get('title'))}:"
                                   f" {clean(lie.get('text'))}")
        elif kind == "storage":
            news.storage_news(self, cast(StorageEvent, event))
        elif kind == "nearby_changed":
            refresh.add("nearby")
        elif kind == "self_renamed":  # `p2pchat nick` from the CLI too (trial 11, B13 e)
            refresh.update(news.self_renamed(self, clean(event.get("name"))))
        elif kind in ("file", "file_offer", "file_progress"):
            told = self.transfers.apply(event)
            if told is not None:
                self.notice("request" if kind == "file_offer" else "info", told)
        elif kind in ("contacts_changed", "group_created"):  # renamed... from the CLI too
            refresh.add("contacts" if kind == "contacts_changed" else "groups")
            if kind == "contacts_changed":  # an accept or a block changes who is online
                refresh.add("status")
        elif kind == "networks_changed":  # joined or left here, from the CLI or a script
            refresh.add("status")
            news.admission_news(self, event)
        elif kind in ("admission_guesses", "admission_waiting"):  # ours waits, or theirs
            news.guesses_news(self, event)
        elif kind == "peer_renamed":
            news.nick_news(self, cast(PeerRenamedEvent, event))
        elif kind == "lagged":
            # The controller re-subscribes and re-reads everything.
            self.notice("warning", "fell behind the node's events; reloading")
        return refresh

    def _add_message(self, conv: Conversation, event: Mapping[str, Any], *,
                     count_unread: bool, system: bool = False) -> None:
        message_id = clean(event.get("id"))
        own = bool(event.get("own"))
        status = clean(event.get("status")) if own else None
        if own and self._early_deliveries.pop(message_id, False):
            status = "delivered"
        existing = conv.find(message_id)
        if existing is not None:
            # The same message again (a send's reply and its event, or history and an event):
            # only its status can move, and only forward.
            existing.status = _later(existing.status, status)
            return
        author_name = clean(event.get("author_name"))
        if event.get("author_contact") is False:  # a group member who is not a contact
            author_name = "~" + author_name
        message = Message(
            id=message_id, author=clean(event.get("author")),
            author_name=author_name,
            text=clean(event.get("text"), newlines=True), sent_at=clean(event.get("sent_at")),
            own=own, status=status, system=system,
        )
        if own:
            message.delivered = delivered_of(event)
        if system and event.get("member") and not event.get("you"):  # a membership line
            message.author = clean(event.get("member"))
            message.member_name = clean(event.get("member_name"))
        messages = conv.messages
        index = len(messages)
        while index > 0 and messages[index - 1].sent_at > message.sent_at:
            index -= 1  # usually none: only history merged after live events reorders
        messages.insert(index, message)
        conv.last_activity = max(conv.last_activity, message.sent_at)
        if count_unread and not own and conv.id != self.selected:
            conv.unread += 1
            if conv.first_unread is None:
                conv.first_unread = message.id

    def _delivered(self, fingerprint: str, message_id: str) -> None:
        conv = self.conversations.get(fingerprint)
        message = conv.find(message_id) if conv is not None else None
        if message is not None:
            message.status = "delivered"
            return
        self._early_deliveries[message_id] = True
        while len(self._early_deliveries) > MAX_EARLY_DELIVERIES:
            del self._early_deliveries[next(iter(self._early_deliveries))]

    # ------------------------------------------------------------ selection

    def fix_numbers(self) -> None:
        """From now on each conversation keeps its place (and its Alt+number), as weechat's
        buffers do: those loaded first as they came to be (by_arrival), new ones at the end."""
        self._numbers_fixed = True
        self.order()

    def order(self) -> list[Conversation]:
        """The list as shown: in the order the conversations came to be, in fixed places once
        the first load is done; one that goes away closes its gap."""
        if not self._numbers_fixed:
            return by_arrival(self.conversations.values())
        for conv in by_arrival(self.conversations.values()):
            if conv.id not in self._places:
                self._places[conv.id] = self._next_place
                self._next_place += 1
        return sorted(self.conversations.values(), key=lambda c: self._places[c.id])

    def next_unread(self) -> Conversation | None:
        """Alt+A: the next conversation to visit (conversation.next_to_visit), opened."""
        conv = next_to_visit(self.order(), self.selected)
        return self.select(conv.id) if conv is not None else None

    def select(self, fingerprint: str) -> Conversation | None:
        conv = self.conversations.get(fingerprint)
        if conv is not None:
            if self.selected != fingerprint:
                previous = self.conversations.get(self.selected or "")
                if previous is not None:
                    previous.first_unread = None  # read: its "new messages" line goes
            self.selected = fingerprint
            conv.unread = 0
            self.page = None
        return conv

    @property
    def unread_total(self) -> int:
        return sum(c.unread for c in self.conversations.values())

    def select_next(self, step: int) -> Conversation | None:
        fps = [c.id for c in self.order()]
        if not fps:
            return None
        index = fps.index(self.selected) + step if self.selected in fps else 0
        return self.select(fps[index % len(fps)])

    @property
    def current(self) -> Conversation | None:
        return self.conversations.get(self.selected) if self.selected else None

    def find(self, who: str) -> Conversation | None:
        """By name or fingerprint (core.addressing): `#NAME` a group, `@NAME` a contact."""
        return find_conversation(self.conversations.values(), who)

    def _ensure_selection(self) -> None:
        if self.selected not in self.conversations:
            order = [c for c in self.order() if c.state == "contact"] or self.order()
            self.selected = None
            if order:
                self.select(order[0].id)

    # ------------------------------------------------------------ notices

    def notice(self, kind: str, text: str, key: str = "",
               member: tuple[str, str] = ("", ""), whole: bool = False) -> None:
        """A notice line; with a `key`, only if none about the same thing is shown already;
        `member`: whom a membership notice names (fingerprint, name: news.renamed_in_notices)."""
        if key and any(n.key == key for n in self.notices):
            return
        now = self.clock()
        say_once(self.said, kind, clean(text, newlines=True), keyed=bool(key))
        for part, line in enumerate(clean(text, newlines=True).split("\n")):
            self.notices.append(Notice(kind, line, key, now, part, *member, whole=whole))

    def drop_notices(self, *, key: str = "", kind: str = "", said_before: float = 0.0,
                     mentioning: tuple[str, ...] = (), unkeyed: bool = False) -> None:
        """Notices that are out of date (conversation.Notice.out_of_date says which)."""
        kept = [n for n in self.notices
                if not n.out_of_date(key, kind, said_before, mentioning, unkeyed)]
        if len(kept) != len(self.notices):
            self.notices = deque(kept, maxlen=MAX_NOTICES)

    def clear_notices(self) -> None:
        """Esc: all but an unanswered NEW KEY warning (trial 13c, B16: a stray Esc hid it);
        a request cleared is not said again on a reconnection (contact_news.requests_news)."""
        self.cleared |= {n.key for n in self.notices if n.key.startswith("request:")}
        self.notices = deque((n for n in self.notices if n.kind == "warning"
                              and n.key.startswith("request:")), maxlen=MAX_NOTICES)

    def show_page(self, title: str, lines: list[str], kind: str = "info",
                  source: str = "") -> None:
        self.page = Page(clean(title), [(kind, clean(line)) for line in lines], source)


def keep_removed(conv: Conversation, numbers_fixed: bool) -> bool:
    """Mark a contact (or blocked one) the node no longer lists as removed, read-only in its
    place, number and history until the screen starts again (trial 4, 9: the numbers below
    shifted); False for what goes from the list (requests, groups, anything before the
    first load, when no number was given yet)."""
    if conv.kind == "group" or conv.state not in ("contact", "blocked", "removed") \
            or not numbers_fixed:
        return False
    # Their node still has us though its request is no longer listed (asked again between
    # /remove and the node's list, or dropped from a full inbox): it still does.
    conv.asks_again = conv.asks_again and conv.state == "removed"
    conv.state, conv.online, conv.unread = "removed", False, 0
    return True


def rename_author(conversations: Mapping[str, Conversation], fingerprint: str, name: str, *,
                  contact: bool) -> None:
    """Past messages of `fingerprint` under `name`; in groups "~name" while they are not a
    contact, as the node's newer lines say (a removed contact's old lines said "carol")."""
    for conv in conversations.values():
        shown = "~" + name if conv.kind == "group" and not contact else name
        for message in conv.messages:
            if message.author == fingerprint:
                message.author_name = shown
                if message.system and contact:  # "bob joined" under the name they have now
                    renamed_line(message, name)


def _later(old: str | None, new: str | None) -> str | None:
    if old is None or new is None:
        return old or new
    return new if STATUS_RANK.get(new, -1) > STATUS_RANK.get(old, -1) else old


def delivered_of(event: Mapping[str, Any]) -> tuple[int, int] | None:
    """A group message of ours: how many of the other members hold it, of how many."""
    recipients = event.get("recipients")
    if not isinstance(recipients, int):
        return None
    return len(event.get("delivered_to") or []), recipients


def _take_members(conv: Conversation, group: Mapping[str, Any]) -> None:
    """A group view's counts and members (their fingerprints: Tab's /group invite offers
    the others; trial 6, B16)."""
    for count in ("members", "invited"):
        value = group.get(count)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(conv, count, value)
    if group.get("role") == "invited":  # who asks; its view counts nobody invited (13c, B6)
        conv.invited_by = clean(group.get("invited_by_name")) or conv.invited_by
        conv.invited = 0
    fps = group.get("member_fingerprints")
    if isinstance(fps, list):
        conv.member_fps = frozenset(clean(fp) for fp in fps)


def say_once(said: deque[tuple[float, str, str]], kind: str, text: str, *, keyed: bool) -> None:
    """Into /notices (`said`, oldest first): a keyed notice said again within SAID_AGAIN_AFTER
    seconds is listed once (trial 11: one relay's notice three times in a minute), moved to now,
    so the list reads in the order things last happened (trial 14d, B9: a rename said again
    stayed at its older time, below the rename it undid)."""
    since = time.time() - SAID_AGAIN_AFTER
    again = next((e for e in reversed(said) if e[0] >= since and e[1:] == (kind, text)), None)
    if keyed and again is not None and again[0] >= since:
        said.remove(again)
    said.append((time.time(), kind, text))
