"""The UI's view-model: conversations, their messages and unread counts, notices, the status.

Pure: it only applies what the node says (command results and events) and never talks to it,
so every rule here is tested without a terminal. Everything from outside is sanitised on the
way in (see sanitize.py), so nothing kept here can drive the terminal.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from p2pchat.tui.files import Transfers
from p2pchat.tui.sanitize import clean

# A delivery can overtake the reply to its own send (or refer to history not loaded yet).
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2}
MAX_EARLY_DELIVERIES = 1024
MAX_NOTICES = 200
MAX_LINK_STATES = 4096


@dataclass
class Message:
    id: str
    author: str  # fingerprint
    author_name: str
    text: str
    sent_at: str  # ISO 8601 UTC, as the node gives it; sorts in time order
    own: bool
    status: str | None = None  # own messages: queued, sent or delivered


@dataclass
class Conversation:
    fingerprint: str  # the peer's; the conversation's id for other kinds (a group's id)
    name: str
    state: str = "contact"  # contact, request or blocked; a group's: your role in it
    kind: str = "dm"  # dm or group: what render.row_mark and the commands tell apart
    online: bool = False
    unread: int = 0
    note: str = ""
    loaded: bool = False  # history fetched from the node
    messages: list[Message] = field(default_factory=list)
    last_activity: str = ""  # ISO time of the newest message: the list is ordered by it
    first_unread: str | None = None  # the id the "new messages" line sits above
    read_marked: str = ""  # the newest id the node was told we read

    def find(self, message_id: str) -> Message | None:
        return next((m for m in self.messages if m.id == message_id), None)


@dataclass(frozen=True)
class Notice:
    kind: str  # info, error, warning or request: picks the colour
    text: str


@dataclass
class Page:
    """Long output (help, contacts, nearby, search results) shown in the main pane."""

    title: str
    lines: list[tuple[str, str]]  # (kind, text): kind picks the colour, as for notices


@dataclass
class Me:
    name: str = ""
    fingerprint: str = ""
    public_key: str = ""  # hex


class ChatState:
    def __init__(self, mode: str = "in-process") -> None:
        self.mode = mode
        self.me = Me()
        self.links = 0
        self.mdns = False
        self.presence = ""
        self.networks: list[str] = []
        self.connected = True
        self.conversations: dict[str, Conversation] = {}
        self.selected: str | None = None
        self.notices: deque[Notice] = deque(maxlen=MAX_NOTICES)
        self.page: Page | None = None
        self.nearby: list[dict[str, Any]] = []  # as /nearby numbered them (for /add NUMBER)
        self.nearby_now: list[dict[str, Any]] = []  # kept current: what Tab offers after /add
        self.blocked: list[str] = []  # names, for /unblock completion
        self.starting = False  # the node is still starting behind the first screen
        self._early_deliveries: dict[str, bool] = {}  # insertion-ordered, bounded
        # The latest link_up/link_down per fingerprint: fresher than a command's reply that
        # was computed before the link came up (an /add's reply can arrive after link_up).
        self._linked: dict[str, bool] = {}
        self.transfers = Transfers()  # files, shown in their conversations (tui/files.py)

    # ------------------------------------------------------------ loading

    def set_status(self, status: dict[str, Any]) -> None:
        self.me = Me(clean(status.get("name")), clean(status.get("fingerprint")),
                     clean(status.get("public_key")))
        self.links = int(status.get("links") or 0)
        self.mdns = bool(status.get("mdns"))
        self.presence = clean(status.get("presence"))
        self.networks = [clean(n) for n in status.get("networks") or []]

    def set_unread(self, counts: dict[str, Any]) -> None:
        """The node's unread counts (kept across restarts); the open conversation is read."""
        for conv in self.conversations.values():
            if conv.fingerprint != self.selected:
                count = counts.get(conv.fingerprint)
                conv.unread = count if isinstance(count, int) and 0 <= count < 10_000 else 0

    def set_contacts(self, contacts: list[dict[str, Any]]) -> None:
        """Replace the list; conversations keep their messages and unread counts."""
        seen = set()
        for contact in contacts:
            conv = self.upsert_contact(contact)
            if conv is not None:
                seen.add(conv.fingerprint)
        for fp in [fp for fp, conv in self.conversations.items()
                   if fp not in seen and conv.kind != "group"]:
            self.forget(fp)
        self._ensure_selection()

    def upsert_contact(self, contact: dict[str, Any]) -> Conversation | None:
        """A contact dict from the node; blocked ones leave the list."""
        fp = clean(contact.get("fingerprint"))
        if not fp:
            return None
        if contact.get("state") == "blocked":
            self.forget(fp)
            return None
        conv = self.conversations.get(fp)
        if conv is None:
            conv = self.conversations[fp] = Conversation(fp, clean(contact.get("name")))
        conv.name = clean(contact.get("name")) or conv.name
        conv.state = clean(contact.get("state")) or "contact"
        conv.note = clean(contact.get("note"))
        conv.online = self._linked.get(fp, bool(contact.get("online")))
        self._ensure_selection()
        return conv

    def set_groups(self, groups: list[dict[str, Any]]) -> None:
        """Groups from the node; one we left or were removed from stays, with its history."""
        for group in groups:
            self.upsert_group(group)

    def upsert_group(self, group: dict[str, Any]) -> Conversation | None:
        gid = clean(group.get("group"))
        if not gid:
            return None
        conv = self.conversations.get(gid)
        if conv is None:
            conv = self.conversations[gid] = Conversation(gid, clean(group.get("title")),
                                                          state="member", kind="group")
        conv.kind = "group"
        conv.name = clean(group.get("title")) or conv.name
        conv.state = clean(group.get("role")) or conv.state
        conv.online = bool(group.get("online"))
        conv.note = clean(group.get("role"))
        self._ensure_selection()
        return conv

    def _group_event(self, event: dict[str, Any]) -> None:
        """Joined, or someone came or went: the side panel, and one line saying so."""
        conv = self.upsert_group(event)
        if conv is None:
            return
        if event.get("type") == "group_joined":
            self.notice("info", f"{clean(event.get('by_name'))} added you to the group"
                                f" {conv.name} (/msg {conv.name})")
            return
        who = "you" if event.get("you") else clean(event.get("member_name"))
        change = {"add": "joined", "remove": "were removed from" if who == "you"
                  else "was removed from", "leave": "left",
                  "transfer": "now own" if who == "you" else "now owns"}
        self.notice("info", f"{who} {change.get(clean(event.get('change')), 'changed in')}"
                            f" {conv.name}")

    def forget(self, fingerprint: str) -> None:
        self.conversations.pop(fingerprint, None)
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
            self._add_message(conv, event, count_unread=False)
        conv.loaded = True

    # ------------------------------------------------------------ events

    def apply(self, event: dict[str, Any]) -> set[str]:
        """Apply one node event (or a command's result of the same shape).

        Returns what the caller should re-read from the node: "status" (link counts),
        "contacts" or "groups" (a conversation we did not know of).
        """
        kind = event.get("type")
        refresh: set[str] = set()
        if kind == "message":
            fp = clean(event.get("conversation"))
            conv = self.conversations.get(fp)
            if conv is None and event.get("group") is not None:
                conv = self.upsert_group({"group": fp, "title": event.get("group")})
                refresh.add("groups")
            if conv is None:
                # From someone not in our list yet: show it now, the contacts read fills in.
                name = event.get("author_name") if not event.get("own") else fp[:7]
                conv = self.conversations[fp] = Conversation(fp, clean(name))
                refresh.add("contacts")
                self._ensure_selection()
            self._add_message(conv, event, count_unread=True)
        elif kind == "delivery":
            self._delivered(clean(event.get("fingerprint")), clean(event.get("id")))
        elif kind == "contact_request":
            fp = clean(event.get("fingerprint"))
            name = clean(event.get("name")) or fp[:7]
            self.upsert_contact({"fingerprint": fp, "name": name, "state": "request",
                                 "note": event.get("note") or "", "online": False})
            note = clean(event.get("note"))
            self.notice("request", f"{name} ({fp[:7]}) asks to connect"
                                   f"{': ' + note if note else ''} (/accept {name},"
                                   f" /block {name}, or /verify {name} first)")
        elif kind in ("link_up", "link_down"):
            fp = clean(event.get("fingerprint"))
            conv = self.conversations.get(fp)
            known = conv is not None or bool(event.get("contact"))
            if known and (len(self._linked) < MAX_LINK_STATES or fp in self._linked):
                self._linked[fp] = kind == "link_up"
            if conv is not None:
                conv.online = kind == "link_up"
            refresh.add("status")
        elif kind == "key_mismatch":
            self.notice("warning",
                        f"WARNING: the peer at {clean(event.get('address'))} presented key"
                        f" {clean(event.get('presented'))}, not the one pinned for"
                        f" {clean(event.get('name'))}. Refused: someone may be impersonating"
                        " them. Compare safety numbers in person (/safety NAME).")
        elif kind in ("group_joined", "group_changed"):
            self._group_event(event)
        elif kind == "storage":
            if event.get("state") == "ok":
                self.notice("info", "storage works again; missed messages are being fetched")
            else:
                self.notice("warning", f"cannot save to disk: {clean(event.get('error'))}."
                                       " Nothing unsaved is acknowledged; retrying.")
        elif kind == "nearby_changed":
            refresh.add("nearby")
        elif kind in ("file", "file_offer", "file_progress"):
            told = self.transfers.apply(event)
            if told is not None:
                self.notice("request" if kind == "file_offer" else "info", told)
        elif kind == "lagged":
            # The controller re-subscribes and re-reads everything.
            self.notice("warning", "fell behind the node's events; reloading")
        return refresh

    def _add_message(self, conv: Conversation, event: dict[str, Any], *,
                     count_unread: bool) -> None:
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
        message = Message(
            id=message_id, author=clean(event.get("author")),
            author_name=clean(event.get("author_name")),
            text=clean(event.get("text"), newlines=True), sent_at=clean(event.get("sent_at")),
            own=own, status=status,
        )
        messages = conv.messages
        index = len(messages)
        while index > 0 and messages[index - 1].sent_at > message.sent_at:
            index -= 1  # usually none: only history merged after live events reorders
        messages.insert(index, message)
        conv.last_activity = max(conv.last_activity, message.sent_at)
        if count_unread and not own and conv.fingerprint != self.selected:
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

    def order(self) -> list[Conversation]:
        """Requests first (they wait for an answer), then by last activity, then by name."""
        by_name = sorted(self.conversations.values(),
                         key=lambda c: (c.name.casefold(), c.fingerprint))
        by_activity = sorted(by_name, key=lambda c: c.last_activity, reverse=True)
        return sorted(by_activity, key=lambda c: c.state != "request")

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
        order = self.order()
        if not order:
            return None
        fps = [c.fingerprint for c in order]
        index = fps.index(self.selected) + step if self.selected in fps else 0
        return self.select(fps[index % len(fps)])

    @property
    def current(self) -> Conversation | None:
        return self.conversations.get(self.selected) if self.selected else None

    def find(self, who: str) -> Conversation | None:
        """By name (case-insensitive), else by fingerprint (dashes and case don't matter)."""
        wanted = who.strip().casefold()
        for conv in self.conversations.values():
            if conv.name.casefold() == wanted:
                return conv
        squeezed = "".join(ch for ch in wanted if ch not in " -")
        for conv in self.conversations.values():
            if squeezed and conv.fingerprint.replace("-", "").casefold() == squeezed:
                return conv
        return None

    def _ensure_selection(self) -> None:
        if self.selected not in self.conversations:
            order = [c for c in self.order() if c.state == "contact"] or self.order()
            self.selected = None
            if order:
                self.select(order[0].fingerprint)

    # ------------------------------------------------------------ notices

    def notice(self, kind: str, text: str) -> None:
        for line in clean(text, newlines=True).split("\n"):
            self.notices.append(Notice(kind, line))

    def clear_notices(self) -> None:
        self.notices.clear()

    def show_page(self, title: str, lines: list[str], kind: str = "info") -> None:
        self.page = Page(clean(title), [(kind, clean(line)) for line in lines])


def _later(old: str | None, new: str | None) -> str | None:
    if old is None or new is None:
        return old or new
    return new if STATUS_RANK.get(new, -1) > STATUS_RANK.get(old, -1) else old
