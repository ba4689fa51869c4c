"""The chat's /group command: create, list, members, invite, remove, leave, and accepting,
declining or forgetting an invitation. One part of the controller (tui/controller.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from typing import Any

from p2pchat.core.contact_words import (
    NOT_LINKED,
    NOT_LINKED_MEMBER,
    OFFLINE,
    contact_presence,
    member_presence,
)
from p2pchat.core.group_words import NotAContact, and_invited, instead, invitees, renamed_as
from p2pchat.core.identity import FingerprintError, parse_fingerprint
from p2pchat.core.text import group_size, membership
from p2pchat.core.typed_name import unquoted
from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.commands import (
    GROUP_ACTIONS_NAME_OR_CURRENT,
    GROUP_ACTIONS_WITH_NAME,
    parse_group,
)
from p2pchat.tui.contact_commands import Ask
from p2pchat.tui.contact_news import replace_notice
from p2pchat.tui.conversation import Conversation, group_label
from p2pchat.tui.news import CREATED, group_key, invitation_closed, member_notice
from p2pchat.tui.notice_ageing import PASSING
from p2pchat.tui.receipts import follow as follow_receipts
from p2pchat.tui.receipts import receipts
from p2pchat.tui.render import local_time
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState


class GroupCommands:
    """/group and its actions (tui/commands.py parses them)."""

    def __init__(self, state: ChatState, backend: ChatBackend, *,
                 ask: Callable[[], Ask | None],
                 spawn_guarded: Callable[[Callable[[], Awaitable[None]], str], None],
                 switch_to: Callable[[Conversation], Awaitable[None]]) -> None:
        self._state = state
        self._backend = backend
        self._ask = ask
        self._spawn_guarded = spawn_guarded
        self._switch_to = switch_to

    async def cmd_group(self, rest: str) -> None:
        """/group ACTION [NAME]: create, list, members, invite, remove, leave, accept, decline,
        forget."""
        action, name = parse_group(rest)
        if action != "create" and action in GROUP_ACTIONS_WITH_NAME:
            # the contact, as /msg @bob (trial 13b, B6); "Carol S" quoted, as /group create
            # takes it and its hints write it (trial 14a, B10)
            name = unquoted(name.strip().removeprefix("@"))
        if action == "create":
            await self._create(name)
            return
        if action == "list":
            groups = await self._backend.groups()
            self._state.set_groups(groups)
            self._state.show_page("Groups", [
                f"  {g.get('title')!s:<20}"
                f" {_size(g)},"
                f" you are {g.get('role')}" + _invitation_hint(g) for g in groups]
                or ["  none yet: /group create NAME"], source="groups")
            return
        if action in GROUP_ACTIONS_NAME_OR_CURRENT:
            await self._group_consent(action, name)
            return
        conv = self._state.current
        if conv is None or conv.kind != "group":
            raise BackendError("usage", "open a group first: /msg GROUP")
        if action == "members":
            lines = []
            members = await self._backend.group_members(conv.id)
            # Out of the group, its links are gone: who is online now is not the snapshot's
            # to say ("~carol: offline" while she was online, trial 12, B8).
            frozen = conv.state in ("removed", "left")
            clashes = name_clashes([self._state.me.name if m.get("you") else str(m.get("name"))
                                    for m in members])
            unlinked = False
            for member in members:
                # one parenthesis, "you" first: "alice (you, owner)" (trial 5, B15)
                tags = [tag for tag, on in (("you", member.get("you")),
                                            ("owner", member.get("owner")),
                                            ("admin", member.get("admin"))) if on]
                if not member.get("you") and str(member.get("name")).casefold() in clashes:
                    # "bob (you)" and "~bob (N6PYCKC)": which is which (trial 6, B5)
                    tags.append(clean(str(member.get("fingerprint", ""))).split("-")[0])
                marks = f" ({', '.join(tags)})" if tags else ""
                # one wording with /contacts and `p2pchat group members` (trial 13, B4)
                online = self._presence(member)
                unlinked = unlinked or online == NOT_LINKED
                unverified = member.get("contact") is False  # ~name: not a contact (issue 24)
                # yours as it is now, after /nick
                shown = self._state.me.name if member.get("you") \
                    else "~" * unverified + str(member.get("name"))
                if frozen and not member.get("invited"):
                    lines.append(f"  {shown}{marks}")
                else:
                    lines.append(f"  {shown}{marks}: {online}")
            invited = sum(1 for m in members if m.get("invited"))
            title = f"Members of {conv.name}"
            if frozen:  # no news reaches us any more: say so
                how = "you were removed" if conv.state == "removed" else "you left"
                title += f" ({how})"  # the rest in the page: the title fits (trial 4, B20)
                lines[:0] = [f"As they were when {how}: no news reaches you since.", ""]
            elif unlinked:
                lines += ["", NOT_LINKED_MEMBER]
            self._state.show_page(f"{title}: {membership(len(members), invited)}", lines,
                                  source=f"members:{conv.id}")  # follows the node (open_page)
            return
        # Keyed as the node's group_changed event is: one notice, whichever comes first.
        label = group_label(self._state.conversations.values(), conv)  # #bob by a contact bob
        if action == "invite":
            try:
                group = await self._backend.invite(conv.id, name)
            except BackendError as exc:  # carol, called "Carol S" here: said so (14a, B17)
                if exc.code == "unknown_contact":
                    await self._now_called("invite", name)
                raise
            member_notice(self._state, conv.id, "add", name, f"invited {name} to {label}",
                          self._member(name))
        elif action == "remove":  # asked first, as /remove and /group leave are (13c, B5)
            ask = self._ask()
            if ask is None:
                await self._remove_now(conv, name)
            else:
                shown = await self._member_to_remove(conv, name)
                ask(f"Remove {shown} from {label}? They get none of its messages after. y/n",
                    lambda: self._spawn_guarded(lambda: self._remove_now(conv, name), "remove"))
            return
        elif action in ("admin", "unadmin", "transfer"):  # the owner's (issue 24)
            group = await self._backend.manage_member(action, conv.id, name)
            # The member's newest news: "admin: bob" stayed beside "unadmin: bob" (session 35)
            member_notice(self._state, conv.id, action, name, f"{action}: {name} in {label}",
                          self._member(name))
        else:  # leave: asked first, as /group forget and /block are (trial 3, B3)
            if conv.state == "owner" and conv.members > 1:  # the node's refusal, before asking
                raise BackendError("owner", f"not left: you own {label}; hand it on first"
                                            " with /group transfer MEMBER (typed here), or"
                                            " /group remove the others")
            ask = self._ask()
            if ask is None:
                await self._leave_now(conv)
            else:
                ask(f"Leave {label}? You get none of its messages after. y/n",
                    lambda: self._spawn_guarded(lambda: self._leave_now(conv), "leave"))
            return
        self._state.upsert_group(group)
        if not conv.loaded and self._state.current is conv:
            await self._switch_to(conv)

    def _presence(self, member: dict[str, Any]) -> str:
        """A member in `/contacts`' words: a contact's from its conversation, as its header
        says it; one who is not a contact, nearby or not linked (never a guessed offline)."""
        fingerprint = clean(member.get("fingerprint"))
        nearby = any(n.get("fingerprint") == fingerprint for n in self._state.nearby_now)
        conv = self._state.conversations.get(fingerprint)
        word = None
        if conv is not None and conv.kind == "dm":
            word = contact_presence({"state": conv.state,
                                     "unanswered": conv.answers == "unanswered",
                                     "awaits_answer": conv.answers == "awaits"},
                                    nearby=nearby, asked=conv.answers == "asked")
            if word == OFFLINE and conv.last_seen:
                word = f"offline (last seen {local_time(conv.last_seen)})"
        return member_presence(member, nearby=nearby, contact=word)

    async def _create(self, rest: str) -> None:
        """/group create NAME [CONTACT...]: the group, then each contact invited, as IRC and
        other tools read it (trial 7, B1: "team bob carol" became one group's name). Every
        word after NAME must be a contact, else nothing is created."""
        title, wanted = await self._create_words(rest)
        conv = self._state.upsert_group(await self._backend.create_group(title))
        if conv is None:
            return
        invited: list[str] = []
        try:
            for contact in wanted:
                self._state.upsert_group(await self._backend.invite(conv.id, contact.id))
                invited.append(contact.name)
        except BackendError as exc:  # the group is there: say what was done, and what not
            self._state.notice("error", f"created {conv.name}{and_invited(invited)}; could not"
                                        f" invite {wanted[len(invited)].name}: {exc}")
        else:
            hint = self._namesake_hint(conv)
            # The namesake hint is untrue once either is renamed (trial 12): it is an answer,
            # gone at the next command, as /rename is.
            self._state.notice("info", f"created {conv.name}{and_invited(invited)}"
                               + ("" if invited else ": /group invite NAME to add people")
                               + hint, key=f"{PASSING}:{CREATED}{conv.id}" if hint
                               else f"{CREATED}{conv.id}")
        # What the node's events say of each invitation is said above, in one sentence.
        self._state.drop_notices(key=f"group:{conv.id}:add")
        await self._switch_to(conv)

    async def _create_words(self, rest: str) -> tuple[str, list[Conversation]]:
        """NAME and the contacts after it; a name with spaces is quoted."""
        try:
            words = shlex.split(rest)
        except ValueError:  # an unclosed quote: the whole of it is the name, as before
            words = [rest]
        if len(words) <= 1:
            return (words[0] if words else rest), []

        def contact(word: str) -> Conversation | None:
            found = self._state.find("@" + word.removeprefix("@"))  # "@bob" too (13b, B6)
            return found if found is not None and found.kind != "group" \
                and found.state == "contact" else None

        try:
            return words[0], invitees(words[1:], contact)
        except NotAContact:
            pass
        # A word no contact is named: one may call itself so (the node keeps what each says)
        now_called = renamed_as(await self._backend.contacts())
        try:
            return words[0], invitees(words[1:], contact, now_called)
        except NotAContact as exc:
            hint = instead("/group create", words, exc, _chat_quote, contact)
            if exc.now_called:  # the line as it works: in the input (trial 14a, B17)
                raise BackendError("usage", f"{exc}: {hint}", corrected=hint) from None
            raise BackendError("usage", f"{exc} ({hint})") from None

    def _namesake_hint(self, conv: Conversation) -> str:
        """A group named as a contact is: how to reach each (trial 6, B11)."""
        namesake = self._state.find("@" + conv.name)
        if namesake is None or namesake.kind == "group":
            return ""
        return (f"; a contact is called {namesake.name} too: /msg #{conv.name} for the group,"
                f" /msg @{namesake.name} for the contact")

    def _member(self, name: str) -> tuple[str, str]:
        """The contact a command's membership notice names, renamed there when they are."""
        contact = self._state.find("@" + name)
        return (contact.id, name) if contact is not None and contact.kind != "group" \
            else ("", "")

    async def _member_to_remove(self, conv: Conversation, name: str) -> str:
        """The member `name` is, as the node finds them (node/group_state.member_key), or the
        node's refusal now, before a question it would refuse after (trial 13, 19)."""
        members = await self._backend.group_members(conv.id)
        if not any(m.get("you") and (m.get("owner") or m.get("admin")) for m in members):
            raise BackendError("not_owner", "only the group's owner or an admin changes who is"
                                            " in it")
        try:
            wanted = parse_fingerprint(name).hex()
        except FingerprintError:
            wanted = ""
        named = [m for m in members if (wanted and _key_of(m) == wanted) or (
            not wanted and str(m.get("name") or "").casefold() == name.strip().casefold())]
        if not named and not wanted:
            await self._now_called("remove", name, members)
        label = group_label(self._state.conversations.values(), conv)
        if len(named) > 1:  # really ambiguous: which one, by fingerprint
            raise BackendError("unknown_member", f"no single member of {label} called"
                                                 f" {name!r}: {len(named)} are; /group remove"
                                                 " FINGERPRINT (/group members lists them)")
        if not named:
            raise BackendError("unknown_member", f"no member called {name!r} in {label}:"
                                                 " /group members lists them")
        if named[0].get("you"):
            raise BackendError("bad_request", "you cannot remove yourself: /group leave")
        return clean(named[0].get("name")) or name

    async def _now_called(self, action: str, name: str,
                          members: list[dict[str, Any]] | None = None) -> None:
        """A contact we renamed (a member, when `members` are given), typed by the name they
        call themselves: said as /group create says it, the corrected line offered (trial
        14a, B10); nothing when no such contact is."""
        called = renamed_as(await self._backend.contacts())(name.strip())
        if called is None or (members is not None and not any(
                str(m.get("name") or "").casefold() == called.casefold() for m in members)):
            return
        line = f"/group {action} {_chat_quote(called)}"
        raise BackendError("unknown_contact" if members is None else "unknown_member",
                           f"{name.strip()} is now called {called!r}: {line}", corrected=line)

    async def _remove_now(self, conv: Conversation, name: str) -> None:
        label = group_label(self._state.conversations.values(), conv)
        group = await self._backend.remove_member(conv.id, name)
        member_notice(self._state, conv.id, "remove", name,  # news.removal_words
                      f"you removed {name} from {label}", self._member(name))
        self._state.upsert_group(group)
        if not conv.loaded and self._state.current is conv:
            await self._switch_to(conv)

    async def _leave_now(self, conv: Conversation) -> None:
        group = await self._backend.leave_group(conv.id)
        label = group_label(self._state.conversations.values(), conv)
        # As the member's newest news: "you joined team: opened it" is untrue now
        member_notice(self._state, conv.id, "leave", "you",
                      f"you left {label} (its history is kept)")
        # No event tells us of our own leave: the node's log line for it ("you left"),
        # with its id, comes from reading the log again (trial 2, 7).
        conv.loaded = False
        self._state.upsert_group(group)
        if self._state.current is conv:
            await self._switch_to(conv)

    async def cmd_receipts(self, rest: str) -> None:
        """/receipts [N]: who has your Nth newest message in the open group, who not yet."""
        await receipts(self._state, self._backend, rest)

    async def follow_receipts(self, source: str) -> None:
        """The open /receipts page again, as receipts come (tui/open_page.py)."""
        await follow_receipts(self._state, self._backend, source)

    async def _group_consent(self, action: str, name: str) -> None:
        """/group accept|decline|forget [NAME]: NAME, or the group open now (issue 22)."""
        conv = self._state.find("#" + name) if name else self._state.current
        if conv is None and name.startswith("#"):  # "#carol", as its list row reads (13c, B6)
            conv = self._state.find(name)
        only = ""
        if not name and action == "accept" and (conv is None or conv.kind != "group"):
            # No group open: the one invitation waiting is the one meant (and is named).
            waiting = [c for c in self._state.conversations.values()
                       if c.kind == "group" and c.state == "invited"]
            if len(waiting) == 1:
                conv, only = waiting[0], " (your only pending invitation)"
        if conv is None or conv.kind != "group":
            raise BackendError("usage", f"/group {action} NAME, or open the group first")
        # "#carol" where a contact is called carol too, as /msg takes it (trial 13c, B11)
        target, title = conv.id, group_label(self._state.conversations.values(), conv)
        if only:
            await self._consent_now(action, target, title, only)
            return
        ask = self._ask()
        if action == "forget" and ask is not None:
            ask(f"Forget {title} and delete all its messages? y/n",
                     lambda: self._spawn_guarded(lambda: self._consent_now(action, target, title),
                                                "forget"))
            return
        await self._consent_now(action, target, title)

    async def _consent_now(self, action: str, target: str, title: str,
                           why: str = "") -> None:
        result = await self._backend.group_consent(action, target)
        if action == "accept":
            self._state.upsert_group(result)
            joined = group_key(target, "join", "you")
            replace_notice(self._state, joined)  # the event's, if first: this one says more
            # Opened, as /accept opens a contact's (trial 5, B2): the next line goes there.
            conv = self._state.conversations.get(target)
            shown = title if conv is None else group_label(self._state.conversations.values(),
                                                          conv)
            self._state.notice("info", f"you joined {shown}{why}: opened it", key=joined)
            if conv is not None:
                await self._switch_to(conv)
            return
        closed = "group_invitation_closed" if action == "decline" else "group_forgotten"
        if invitation_closed(self._state, {"type": closed, "group": target}):
            self._state.set_groups(await self._backend.groups())  # removed, kept (13b, B2)
        now_open = self._state.current  # the next, if the open group went: its history now
        if now_open is not None and not now_open.loaded:  # not "(loading)" (trial 14c, B4)
            await self._switch_to(now_open)
        if action == "decline":  # what became of you there, until invited again
            member_notice(self._state, target, "leave", "you",
                          f"declined the invitation to {title}")
        else:
            self._state.notice("info", f"forgot {title} and its history")


def _key_of(member: dict[str, Any]) -> str:
    """A member's key in hex, "" for a fingerprint that does not parse."""
    try:
        return parse_fingerprint(str(member.get("fingerprint") or "")).hex()
    except FingerprintError:
        return ""


def _size(group: dict[str, Any]) -> str:
    """"3 members, 1 other online", as the CLI's `group` says it (core/text.py); no presence
    in a group you left or were removed from, as its Members page (trial 13b, B13)."""
    gone = group.get("role") in ("left", "removed")
    return group_size(int(group.get("members") or 0), int(group.get("invited") or 0),
                      None if gone else int(group.get("online") or 0))


def _invitation_hint(group: dict[str, Any]) -> str:
    """How to answer an invitation, by the group's name (never its id; round 2, 10)."""
    title = clean(group.get("title"))
    return f": /group accept {title} or /group decline {title}" \
        if group.get("role") == "invited" and title else ""


def _chat_quote(word: str) -> str:
    """A word as /group create reads it back (shlex): quoted when it has spaces or quotes."""
    if word and not any(ch.isspace() or ch in "\"'\\" for ch in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def name_clashes(names: list[str]) -> set[str]:
    """The names (casefolded) more than one listed member goes by."""
    folded = [name.casefold() for name in names]
    return {n for n in folded if folded.count(n) > 1}

