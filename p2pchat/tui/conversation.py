"""What the screen holds for each conversation (its messages), and its notices and pages:
plain records that tui/state.py's ChatState fills from what the node says."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from p2pchat.core.typed_name import unquoted
from p2pchat.tui.commands import masked


@dataclass
class Message:
    id: str
    author: str  # fingerprint
    author_name: str
    text: str
    sent_at: str  # ISO 8601 UTC, as the node gives it; sorts in time order
    own: bool
    status: str | None = None  # own messages: queued, sent or delivered
    system: bool = False  # a line the screen adds (who joined a group): not from the node
    # A group message of ours: how many of the other members are known to hold it, of how many.
    delivered: tuple[int, int] | None = None
    # A group's membership line: the name its text gives the member (`author`), so a /rename
    # renames it there too (notes/s32/trial4.md 20).
    member_name: str = ""


def renamed_line(message: Message, name: str) -> None:
    """A membership line about `message.author` under their new `name`: the member is named
    first ("bob joined") or last ("you invited bob") in the node's wording."""
    old = message.member_name
    if not old or old == name:
        return
    if message.text.startswith(old + " "):
        message.text = name + message.text[len(old):]
    elif message.text.endswith(" " + old):
        message.text = message.text[:-len(old)] + name
    else:
        return
    message.member_name = name


@dataclass
class Conversation:
    id: str  # what the conversation is with: the peer's fingerprint, or the group's id
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
    relay: str = ""  # the relay our link to them goes through; "" for a direct link
    verified: bool = False  # safety numbers compared in person (the node keeps it)
    impostor_of: str = ""  # a request: the VERIFIED contact whose name it asks under
    # A request that asked under a contact's name (not verified), whatever it is called now
    lookalike_of: str = ""
    members: int = 0  # a group's: everyone in it, the invited included (the API's `members`)
    invited: int = 0  # a group's: of those, added but not seen to accept yet
    member_fps: frozenset[str] = frozenset()  # a group's members' fingerprints, the invited too
    # A contact's: why the node cannot link to them, when it knows (tui/reach_watch.py)
    unreachable: str = ""
    # A contact's node answers without linking (contacts.list's `awaits_answer`: it has our
    # request; `unanswered`: it closes us unanswered): it runs, so never "offline" (trial 11)
    answers: str = ""  # "awaits", "unanswered"; "asked": asked here, their node not met yet
    # The node's `awaits_answer` as last read: their node has our request, so a link to it
    # (a knock, or a group's link to a node that removed us) is not "online" (trial 14a, B6)
    awaited: bool = False
    last_seen: str = ""  # a contact's: when a link with them last ended (ISO), "" unknown
    # Removed, and their node still has us as a contact: it asks again by itself (the node's
    # `after_removal` request), shown quietly in the removed conversation (issue 23, B4).
    asks_again: bool = False
    # A group's role ("removed", "left") under an invitation to it again: what declining or
    # letting the invitation expire leaves, with its history (trial 13b, B2)
    kept_role: str = ""
    joined_clock: float | None = None  # a group's: ChatState.clock when "you joined" came
    invited_by: str = ""  # a pending invitation's: who asks (`invited_by_name`)
    since: str = ""  # ISO: when it came to be for the node (the API's `since`), "" unknown

    def find(self, message_id: str) -> Message | None:
        return next((m for m in self.messages if m.id == message_id), None)


def next_to_visit(order: list[Conversation], selected: str | None) -> Conversation | None:
    """Alt+A, as weechat's hotlist: a conversation with unread messages first, the one waiting
    longest first (its first unread message, else its newest); then a request or invitation,
    the next after the open one in list order (trial 6, B15: a request came first)."""
    unread = [c for c in order if c.unread and c.id != selected]
    if unread:
        return min(unread, key=_unread_since)
    ids = [c.id for c in order]
    start = ids.index(selected) + 1 if selected in ids else 0
    return next((c for c in order[start:] + order[:start]
                 if c.state in ("request", "invited") and c.id != selected), None)


def _unread_since(conv: Conversation) -> str:
    first = conv.find(conv.first_unread) if conv.first_unread else None
    return first.sent_at if first is not None else conv.last_activity


class AmbiguousName(ValueError):
    """A typed name that is both a contact's and a group's: the message says how to pick."""


@dataclass(frozen=True)
class Notice:
    kind: str  # info, error, warning or request: picks the colour
    text: str
    key: str = ""  # what it is about: one notice per key, dropped when it is out of date
    at: float = 0.0  # time.monotonic() when it was said: old errors go
    part: int = 0  # its line in what was said at once: 0 starts a notice (shown from there)
    # A membership notice ("carol joined (team)"): the member's fingerprint and the name the
    # text gives them, so a /rename renames it there too (notes/s32/trial7.md 18, B3).
    member: str = ""
    member_name: str = ""
    # Shown whole in the notice row when it is the newest, past the row's usual rows: /id,
    # whose address was cut at 80 columns (notes/s33/trial9.md B9).
    whole: bool = False
    # Said in answer to a command ("left club; networks: none"): it goes after two minutes or
    # once another command runs a while later, keyed or not (notes/s34/trial12.md, B7b)
    answer: bool = False
    # Gone from the notice row, displaced by newer notices: it never comes back there, only
    # /notices keeps it (notes/s36/trial14c.md B7). The row's memory, set in place by
    # notice_rows.displaced so the notice keeps its identity (notice_ageing.answers_pass).
    displaced: bool = field(default=False, compare=False)

    def renamed(self, fingerprint: str, name: str) -> Notice:
        """This notice with `fingerprint`'s name as it is now: the first whole-word mention
        of the old one ("removed carol from carol" names the member first)."""
        old = self.member_name
        if self.member != fingerprint or not old or old == name:
            return self
        # A notice about that contact alone names only them ("accepted bob (CVZVPAH): opened
        # bob (CVZVPAH)'s conversation", trial13a 20): every mention
        every = self.key == f"contact:{fingerprint}"
        text, count = re.subn(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _: name, self.text,
                              count=0 if every else 1)
        return replace(self, text=text, member_name=name) if count else self

    def out_of_date(self, key: str, kind: str, said_before: float, mentioning: tuple[str, ...],
                    unkeyed: bool) -> bool:
        """About `key` ("KEY:more" is about KEY too), or of `kind` said before `said_before`
        (a monotonic time; errors about what was typed long ago; with `unkeyed`, only those
        about nothing still going on, and a command's answers), or `mentioning` all those words."""
        return bool((key and (self.key == key or self.key.startswith(f"{key}:")))
                    or (mentioning and all(word in self.text for word in mentioning))
                    or (kind and self.kind == kind and self.at < said_before
                        and not (unkeyed and self.key and not self.answer)))


@dataclass
class Page:
    """Long output (help, contacts, nearby, search results) shown in the main pane."""

    title: str
    lines: list[tuple[str, str]]  # (kind, text): kind picks the colour, as for notices
    source: str = ""  # what it shows, when it follows changes while open ("contacts")


@dataclass
class Me:
    name: str = ""
    fingerprint: str = ""
    public_key: str = ""  # hex


def find_conversation(conversations: Iterable[Conversation], who: str) -> Conversation | None:
    """ChatState.find's rule, on any conversations."""
    convs = list(conversations)
    wanted = unquoted(who).casefold()  # "Carol S" is Carol S (core/typed_name.py)
    only = {"#": "group", "@": "dm"}.get(wanted[:1]) if len(wanted) > 1 else None
    if only is not None:
        wanted = wanted[1:]
    named = [conv for conv in convs if conv.name.casefold() == wanted and only in (None, conv.kind)]
    if len({conv.kind for conv in named}) > 1:  # a removed contact's history yields
        named = [conv for conv in named if conv.state != "removed" or conv.kind == "group"]
    if len({conv.kind for conv in named}) > 1:
        raise AmbiguousName(f"{masked(who.strip())!r} is ambiguous, a contact and a group:"
                            f" /msg #{wanted} for the group, /msg @{wanted} (or the"
                            " fingerprint) for the contact")
    if named:
        return named[0]
    squeezed = "".join(ch for ch in wanted if ch not in " -")
    for conv in convs:
        if squeezed and conv.id.replace("-", "").casefold() == squeezed:
            return conv
    return None


def group_label(conversations: Iterable[Conversation], conv: Conversation) -> str:
    """How a notice names a group: `#NAME` where a contact has its name too, as /msg takes it
    (trial 8, B17: "you joined bob" read as the contact bob); else its name."""
    wanted = conv.name.casefold()
    namesake = any(c.kind != "group" and c.name.casefold() == wanted for c in conversations)
    return f"#{conv.name}" if conv.kind == "group" and namesake else conv.name


def conversation_label(conversations: Iterable[Conversation], conv: Conversation) -> str:
    """How a question or notice names any conversation, as /msg takes it: `#NAME` for a group
    and `@NAME` for a contact where both have the name, else the name (trial 14a, B15: "You
    have unsent text for bob" of a draft in the group bob; B9: /search labelled both "[bob]")."""
    if conv.kind == "group":
        return group_label(conversations, conv)
    wanted = conv.name.casefold()
    namesake = any(c.kind == "group" and c.name.casefold() == wanted for c in conversations)
    return f"@{conv.name}" if namesake else conv.name


def invitation_words(conversations: Iterable[Conversation], conv: Conversation) -> str:
    """What a pending invitation is and how to answer it, said at once where it opens (trial
    13c, B6: "No messages with carol yet (loading)." for an invitation to a group carol). The
    commands take a group's name; its id where two groups have it."""
    convs = list(conversations)
    wanted = conv.name.casefold()
    twins = sum(1 for c in convs if c.kind == "group" and c.name.casefold() == wanted)
    typed = conv.id if twins > 1 else conv.name
    size = f" ({conv.members} member{'s' * (conv.members != 1)})" if conv.members else ""
    return (f"{conv.invited_by or 'A member'} invites you to {group_label(convs, conv)}{size}:"
            f" /group accept {typed} or /group decline {typed}")


def by_activity(conversations: Iterable[Conversation]) -> list[Conversation]:
    """By last activity, newest first, then by name. A request's activity is when it came
    (`requested_at`): an old one no longer tops the list each time the screen opens, above
    conversations active since (trial 13, B13); its mark, notice and Alt+A still find it."""
    by_name = sorted(conversations, key=lambda c: (c.name.casefold(), c.id))
    return sorted(by_name, key=lambda c: c.last_activity, reverse=True)


def by_arrival(conversations: Iterable[Conversation]) -> list[Conversation]:
    """In the order they came to be for the node (`since`: a contact added or its request
    come, a group created or its invitation come; ties by kind and id), so every screen of
    one home numbers its list alike (trial 14a, B16: Alt+1 opened a different conversation in
    each); those of unknown `since` after them, by activity."""
    return sorted(by_activity(conversations),
                  key=lambda c: (not c.since, c.since, c.kind, c.id) if c.since else (True,))


def first_open(order: list[Conversation]) -> Conversation | None:
    """The conversation a chat opens on: the top of the list, past requests and invitations
    (they have no history to show)."""
    return next((c for c in order if c.state not in ("request", "invited")),
                order[0] if order else None)

