"""The chat's commands about people: adding, accepting, blocking, renaming, verifying contacts,
and who is nearby. One part of the controller (tui/controller.py), built with what it needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from p2pchat.core.contact_words import contact_presence, look_alike, outside, still_has_you
from p2pchat.core.identity import FingerprintError, IdentityError, parse_fingerprint, safety_number
from p2pchat.core.typed_name import first_quoted, unquoted
from p2pchat.event_types import ContactRequestEvent
from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.commands import masked
from p2pchat.tui.contact_news import asked_news, removed_key
from p2pchat.tui.conversation import Conversation, find_conversation
from p2pchat.tui.lookalike import YOU
from p2pchat.tui.network_commands import hidden_nearby_lines
from p2pchat.tui.news import request_news, requests_again
from p2pchat.tui.notice_ageing import LINK_WAIT, LINKED, LINKED_KEY
from p2pchat.tui.qr import qr_lines
from p2pchat.tui.render import asking_key, still_asking
from p2pchat.tui.safety import SAFETY_NOTE, safety_rows
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState

MAX_NEARBY = 500

Ask = Callable[[str, Callable[[], None]], None]  # a yes/no question, and what a yes does


class ContactCommands:
    """/accept, /block, /unblock, /remove, /rename, /addr, /contacts, /nearby, /verify,
    /safety, and adding someone (by fingerprint or from /nearby)."""

    def __init__(self, state: ChatState, backend: ChatBackend, *,
                 ask: Callable[[], Ask | None],
                 spawn_guarded: Callable[[Callable[[], Awaitable[None]], str], None],
                 switch_to: Callable[[Conversation], Awaitable[None]],
                 load_current: Callable[[], Awaitable[None]],
                 load_nearby: Callable[[], Awaitable[None]],
                 on_removed: Callable[[str, str], None] = lambda key, name: None,
                 changed: Callable[[], None] = lambda: None) -> None:
        self._state = state
        self._changed = changed  # drawn now, before the command's answer
        self._backend = backend
        self._ask = ask
        self._spawn_guarded = spawn_guarded
        self._switch_to = switch_to
        self._load_current = load_current
        self._load_nearby = load_nearby
        self._on_removed = on_removed  # (fingerprint, name): its history stays readable

    def resolve(self, who: str, irc: bool = False) -> Conversation:
        """The conversation typed as `who`; an error naming /contacts if there is none (`irc`:
        /j's, naming the first word only: IRC's `/join class KEY`, s36 hunt1 F5)."""
        conv = self._state.find(who)
        if conv is None:
            said = f"{who.split()[0]!r} (/j takes a name only)" if irc and len(who.split()) > 1 \
                else repr(masked(who))
            raise BackendError("unknown_contact", f"no conversation named {said}:"
                                                  " /contacts lists them")
        return conv

    def split_name(self, rest: str) -> tuple[Conversation, str]:
        """NAME then more text, where NAME may have spaces: the longest name that fits, or
        the name in quotes ("Carol S" hi)."""
        quoted = first_quoted(rest)
        named = self._state.find(quoted[0]) if quoted is not None else None
        if quoted is not None and named is not None:
            return named, quoted[1]
        words = rest.split(" ")
        for cut in range(len(words), 0, -1):
            conv = self._state.find(" ".join(words[:cut]))
            if conv is not None:
                return conv, " ".join(words[cut:]).strip()
        raise BackendError("unknown_contact", f"no conversation named {words[0]!r}:"
                                              " /contacts lists them")

    async def add(self, fingerprint_text: str, name: str, addrs: list[str]) -> None:
        """Add a contact and open its conversation."""
        name = unquoted(name)  # "Carol S" is Carol S, as everywhere a name is typed
        contact = await self._backend.add_contact(fingerprint_text, name, addrs)
        conv = self._state.upsert_contact(contact)
        if conv is not None:
            if contact.get("they_asked"):  # their request was waiting: mutual (trial 7, 18)
                if conv.online:
                    self._state.notice("info", f"added {conv.name}; they had added you too, so"
                                               f" {LINKED}", key=f"{LINKED_KEY}{conv.id}")
                else:  # untrue once linked, a moment later when they are online: it goes then
                    self._state.notice("info", f"added {conv.name}; they had added you too, so"
                                       f" {LINK_WAIT}", key=f"linking:{conv.id}")
            elif conv.online:
                self._state.notice("info", f"added {conv.name}: linked, you can chat",
                                   key=f"{LINKED_KEY}{conv.id}")
            else:  # dropped when the link comes up (they had added us, or accept)
                asked_news(self._state, conv, contact)
            await self._switch_to(conv)

    async def add_nearby(self, who: str) -> None:
        """Add someone /nearby shows, by number or name."""
        who = unquoted(who)  # /add "Carol S": the name, not its quotes
        removed = self._contact(who)
        if removed is not None and removed.state == "removed":  # /add NAME, as the hint says
            await self.add(removed.id, removed.name, [])
            return
        if not self._state.nearby and not self._state.nearby_now:
            await self._load_nearby()
        words = who.split()
        chosen: dict[str, Any] | None = None
        if words[0].isdigit():
            index = int(words[0]) - 1
            numbered = self._state.nearby or self._state.nearby_now  # as /nearby showed them
            if 0 <= index < len(numbered):
                chosen = numbered[index]
            name = " ".join(words[1:])
        else:
            wanted = who.casefold()
            matches = {str(n.get("fingerprint")): n for n in self._state.nearby
                       + self._state.nearby_now if n.get("fingerprint")
                       and wanted in (str(n.get("name") or "").casefold(),
                                      str(n.get("fingerprint") or "").casefold())}
            if len(matches) > 1:  # anyone can pick any name: never guess (trial 13, B2)
                raise BackendError("ambiguous", self._several_nearby(who, list(matches)))
            chosen = next(iter(matches.values()), None)
            name = who
        if chosen is None or not chosen.get("fingerprint"):
            raise BackendError("unknown_contact", f"no one called {who!r} is nearby (/nearby"
                                                  " lists who is); or /add FINGERPRINT NAME")
        await self.add(str(chosen["fingerprint"]), name or str(chosen.get("name") or ""), [])

    def _several_nearby(self, who: str, fingerprints: list[str]) -> str:
        """Which of the nodes nearby called `who` to add: by their /nearby numbers."""
        numbered = [str(n.get("fingerprint")) for n in self._state.nearby or self._state.nearby_now]
        numbers = [str(numbered.index(f) + 1) for f in fingerprints if f in numbered]
        count = {2: "two", 3: "three"}.get(len(fingerprints), str(len(fingerprints)))
        how = (" or ".join(f"/add {n}" for n in numbers) + " (numbers from /nearby), or"
               if len(numbers) == len(fingerprints) else "/nearby numbers them: /add NUMBER, or")
        return (f"{count} people nearby are called {clean(who)}: {how} /add FINGERPRINT"
                " (compare it with theirs)")

    async def _node_knows(self, who: str) -> bool:
        """A name or fingerprint of a contact, request or blocked one the node holds."""
        wanted = who.casefold().replace(" ", "").replace("-", "")
        return any(wanted in (str(c.get("name") or "").casefold().replace(" ", ""),
                              str(c.get("fingerprint") or "").casefold().replace("-", ""))
                   for c in await self._backend.contacts())

    def _known(self, who: str) -> str:
        # The node knows blocked contacts the list hides: ask it when we don't know the name.
        known = self._contact(who)
        return known.id if known is not None else who

    def _contact(self, who: str) -> Conversation | None:
        """Only contacts are meant: a group of the same name is no ambiguity (trial 4, B7)."""
        return find_conversation((c for c in self._state.conversations.values()
                                  if c.kind != "group"), who)

    async def cmd_accept(self, who: str) -> None:
        """/accept NAME: accept a contact request; a new key under a verified contact's name
        only after a yes (trial 5, B5: the CLI wants --anyway)."""
        who = unquoted(who)  # /accept "Carol S" (the node is asked by name when unknown here)
        target = self._known(who)
        conv = self._contact(who)
        asking = [c.name for c in self._state.conversations.values() if c.state == "request"
                  and c.name.casefold().startswith(f"{who.strip().casefold()} (")]
        if conv is not None and conv.state == "contact" and asking:  # trial 8, B11
            raise BackendError("exists", f"{conv.name!r} is already a contact; the request is"
                                         f" from {asking[0]!r}: /accept {asking[0]}")
        if conv is not None and conv.state == "request" and conv.impostor_of:
            question = impostor_question(conv.name, conv.impostor_of)
            ask = self._ask()
            if ask is None:  # nobody to ask: not on our own
                raise BackendError("new_key", question.replace(" y/n", ""))
            # A yes is the node's `anyway`: it refuses such an accept otherwise.
            ask(question, lambda: self._spawn_guarded(
                lambda: self._accept_now(target, anyway=True), "accept"))
            return
        await self._accept_now(target)

    async def _accept_now(self, target: str, *, anyway: bool = False) -> None:
        contact = await (self._backend.accept(target, anyway=True) if anyway
                         else self._backend.accept(target))
        conv = self._state.upsert_contact(contact)
        if conv is not None:  # opened, and said: the next line goes there (trial 5, B2)
            key = f"contact:{conv.id}"  # renamed with them (conversation.Notice.renamed)
            self._state.drop_notices(key=key)
            self._state.notice("info", f"accepted {conv.name}{_by_your_name(contact, self._state)}:"
                                       f" opened {conv.name}'s conversation",
                               key=key, member=(conv.id, conv.name))
            await self._switch_to(conv)

    async def cmd_block(self, who: str) -> None:
        """/block NAME: block, after a yes when the screen can ask."""
        if self._contact(who) is None and not _is_fingerprint(who) \
                and not await self._node_knows(who):
            raise BackendError("unknown_contact", f"no contact named {who!r}: /contacts"
                                                  " lists them")
        target = self._known(who)
        ask = self._ask()
        if ask is None:
            await self._block_now(target)
            return
        conv = self._contact(who)
        shown = f"{conv.name} ({conv.id[:7]})" if conv is not None else who
        if conv is not None and conv.name.endswith(f"({conv.id[:7]})"):
            shown = conv.name  # a request under a known name carries the suffix already
        ask(f"Block {shown}? No links, messages or requests from them until /unblock."
                 " y/n", lambda: self._spawn_guarded(lambda: self._block_now(target), "block"))

    async def _block_now(self, who: str) -> None:
        contact = await self._backend.block(who)
        self._state.upsert_contact(contact)
        name = contact.get("name")
        self._state.notice("info", f"blocked {name}: no links or requests from them;"
                                  f" /unblock {name} undoes it",
                           key=f"contact:{clean(contact.get('fingerprint'))}")
        self._blocked_changed(str(name), add=True)
        await self._load_current()

    async def cmd_unblock(self, who: str) -> None:
        """/unblock NAME."""
        conv = self._contact(who)
        if conv is not None and conv.state in ("contact", "request"):  # trial 14c, B9
            raise BackendError("not_blocked", not_blocked(conv))
        contact = await self._backend.unblock(who)
        conv = self._state.upsert_contact(contact)
        asks = contact.get("state") == "request"  # never a contact unasked (trial 4, B1)
        # A request again is said as a request, until answered (the NEW KEY warning too,
        # trial 12): "unblocked dave: a request again, /accept dave to chat" went after two
        # minutes as a command's answer while dave still asked (session 35)
        told = asks and conv is not None and not conv.asks_again
        again = ": a request again" if told else \
            f": a request again, /accept {contact.get('name')} to chat" if asks else ""
        self._state.notice("info", f"unblocked {contact.get('name')}{again}",
                           key=f"contact:{clean(contact.get('fingerprint'))}")
        if told:  # the newest, after "unblocked": a re-read may have said it first (B10)
            request_news(self._state, cast(ContactRequestEvent, contact))
            requests_again(self._state)
        self._blocked_changed(str(contact.get("name")), add=False)

    def _blocked_changed(self, name: str, *, add: bool) -> None:
        names = [n for n in self._state.blocked if n != name]
        self._state.blocked = [*names, name] if add else names

    async def cmd_remove(self, who: str) -> None:
        """/remove NAME: the history is kept; after a yes when the screen can ask, as /block
        (notes/s35/trial13c.md B5: a "y" typed for a question that never came went out)."""
        conv = self._contact(who)
        if conv is None and not _is_fingerprint(who) and not await self._node_knows(who):
            raise BackendError("unknown_contact", f"no contact named {who!r}: /contacts"
                                                  " lists them")
        target = self._known(who)
        ask = self._ask()
        if ask is None or (conv is not None and conv.state == "removed"):  # the node says
            await self._remove_now(target)
            return
        shown = conv.name if conv is not None else who
        verified = f" You VERIFIED {shown} (safety numbers compared)." \
            if conv is not None and conv.verified else ""
        ask(f"Remove {shown}?{verified} No more links or messages with them; the history is"
            " kept, and they may ask again. y/n",
            lambda: self._spawn_guarded(lambda: self._remove_now(target), "remove"))

    async def _remove_now(self, target: str) -> None:
        result = await self._backend.remove(target)
        self._state.forget(str(result.get("removed")))
        name = clean(result.get("name"))
        self._on_removed(clean(result.get("removed")), name)
        # The name as /msg finds it: "@carol" when a group is called carol too (trial 4, B7).
        found = self._state.find(name)
        shown = name if found is not None and found.id == result.get("removed") else f"@{name}"
        if found is not None and result.get("they_have_you") is True:
            found.asks_again = True  # their node asks again by itself, at once (issue 23, B4)
        then = still_asking(name, shown) if result.get("they_have_you") is True else \
            f"They can ask again: /block {result.get('removed')} refuses them for good"
        # Keyed: one answer per removal (the pane's line waits until it has gone), untrue when
        # they are a contact again (contact_news.state_news)
        key = asking_key(clean(result.get("removed"))) if result.get("they_have_you") is True \
            else removed_key(clean(result.get("removed")))
        self._state.drop_notices(key=key)
        self._state.notice("info", f"removed {name}; the history is kept: /msg {shown} shows it"
                                   f"\n{then}", key=key)
        await self._load_current()

    async def cmd_rename(self, rest: str) -> None:
        """/rename NAME NEWNAME."""
        conv, new_name = self.split_name(rest)
        new_name = unquoted(new_name)  # "Carol S" is Carol S (trial 11: the quotes were kept)
        if not new_name:
            raise BackendError("usage", "usage: /rename NAME NEWNAME")
        old_name = conv.name
        contact = await self._backend.rename(conv.id, new_name)
        self._state.upsert_contact(contact)
        tag = "" if conv.id[:7] in old_name else f" ({conv.id[:7]})"  # once (trial 4, B6)
        self._newest(f"named:{conv.id}",
                     f"{old_name}{tag} is now called {clean(contact.get('name'))}")

    def _newest(self, key: str, text: str) -> None:
        """A command's answer about one contact that replaces its last: "bob is now called
        Bobby" stayed beside "Bobby is now called bob" after renaming them back, "bob is
        reached at" one address beside another, "marked verified" beside "not marked verified
        any more" (session 35)."""
        self._state.drop_notices(key=key)
        self._state.notice("info", text, key=key)

    async def cmd_addr(self, rest: str) -> None:
        """/addr NAME HOST:PORT...: where a contact is dialled."""
        conv, addrs = self.split_name(rest)
        if conv.kind == "group":
            raise BackendError("usage", "usage: /addr NAME HOST:PORT... (a contact's name)")
        contact = await self._backend.set_addrs(conv.id, addrs.split())
        self._state.upsert_contact(contact)
        where = ", ".join(clean(a) for a in contact.get("addrs") or []) or "wherever" \
            " discovery finds them"
        self._newest(f"addrs:{conv.id}", f"{clean(contact.get('name'))} is reached at {where}")

    async def cmd_contacts(self, _: str) -> None:
        """/contacts: every contact and its state."""
        contacts = await self._backend.contacts()
        # As `p2pchat contacts` says it, from the same reads (trial 12, B10: "offline" here
        # while the CLI said "nearby")
        try:
            nearby = (await self._backend.peers()).get("nearby")
        except BackendError:  # who is nearby is a detail: the list still shows
            nearby = []
        seen = {str(n.get("fingerprint")) for n in nearby or [] if isinstance(n, dict)}
        words = [self._presence(c, seen) for c in contacts]
        column = max(map(len, words), default=0)
        lines = []
        for c, word in zip(contacts, words, strict=True):
            online = f"{word:<{column}}"
            state = "" if c.get("state") == "contact" else f" [{c.get('state')}]"
            known = self._state.conversations.get(clean(c.get("fingerprint")))
            if known is not None and known.impostor_of:
                state += f" WARNING: a new key under the name of {known.impostor_of}"
            elif known is not None and known.lookalike_of and c.get("state") == "request":
                state += " (not you: another key)" if known.lookalike_of == YOU \
                    else f" (not your contact {known.lookalike_of}: another key)"
            marks = " (verified)" * (c.get("verified") is True)
            lines.append(f"  {c.get('name')!s:<20} {online} {c.get('fingerprint')}{state}"
                         f"{marks}")
            if c.get("state") == "request" and c.get("after_removal") is True:  # as the CLI
                # four spaces: six are the reach watch's reasons, said again on each draw
                lines.append(f"    {still_has_you('/add ' + clean(c.get('name')))}")
        self._state.blocked = [clean(c.get("name")) for c in contacts
                              if c.get("state") == "blocked"][:MAX_NEARBY]
        self._state.show_page("Contacts", lines or ["  none yet: /add, or /nearby"],
                              source="contacts")

    def _presence(self, contact: dict[str, Any], nearby: set[str]) -> str:
        fingerprint = clean(contact.get("fingerprint"))
        known = self._state.conversations.get(fingerprint)
        return contact_presence(contact, nearby=fingerprint in nearby,
                                asked=known is not None and known.answers == "asked")

    async def cmd_nearby(self, _: str) -> None:
        """/nearby: who discovery sees, numbered for /add."""
        if self._state.page is None or self._state.page.source != "nearby":
            # The first answer can take seconds (a node starting): an empty pane meanwhile
            # said nothing (trial 11, B13 d)
            self._state.show_page("Nearby", ["looking for people nearby…"], source="nearby")
            self._changed()
        peers = await self._backend.peers()
        nearby = peers.get("nearby") or []
        self._state.nearby = [n for n in nearby if isinstance(n, dict)][:MAX_NEARBY]
        lines = []
        for number, near in enumerate(self._state.nearby, 1):
            label = near.get("name") or "(private: only contacts recognise them)"
            lines.append(f"  {number}. {label}{self._known_as(near)}"
                         f"  {near.get('fingerprint') or ''}")
        if lines:
            lines += ["", "Add someone with /add NUMBER (or /add NAME; Tab completes)."]
        elif self._state.mdns or self._state.discovering or self._state.starting:
            # the first /nearby, seconds after the start, said nothing
            lines = ["Nobody nearby yet (still looking…): people appear here as discovery hears"
                     " them."]
        else:
            lines = ["Nobody nearby: discovery is off here, so only"
                     " contacts with an address (/addr) are reached."]
        # source: the page follows the node's nearby_changed while it is open (controller)
        self._state.show_page("Nearby", lines + hidden_nearby_lines(peers), source="nearby")

    def _known_as(self, near: dict[str, Any]) -> str:
        """Who of those nearby we know, and how (trial 9, B13: `/add 1` said "already a
        contact"): " (contact)", " (asks to connect)", " (blocked)"."""
        conv = self._state.conversations.get(clean(near.get("fingerprint")))
        state = conv.state if conv is not None and conv.kind == "dm" \
            else "contact" if near.get("contact") else ""
        namesake = conv.impostor_of or conv.lookalike_of if conv is not None else ""
        if state == "request" and namesake:  # the node's flag, whatever it is called now (14c)
            return (" (asks to connect) (not you: another key)" if namesake == YOU else
                    f" (asks to connect) (not your contact {namesake}: another key)") \
                + outside(near, self._state.networks)
        return ({"contact": " (contact)", "request": " (asks to connect)",
                 "blocked": " (blocked)"}.get(state) or look_alike(  # a stranger: our name? B15
            clean(near.get("name")), self._state.me.name,
            (c.name for c in self._state.conversations.values()
             if c.kind == "dm" and c.state == "contact"))) + outside(near, self._state.networks)

    async def cmd_verify(self, rest: str) -> None:
        """/verify NAME [yes|no]: the safety number and our QR code, or the mark."""
        conv, answer = self.split_name(rest)
        if answer.lower() in ("yes", "no"):
            contact = await self._backend.verify(conv.id, answer.lower() == "yes")
            self._state.upsert_contact(contact)
            page = self._state.page
            if page is not None and page.title in (f"Verify {conv.name}",
                                                   f"Safety number with {conv.name}"):
                self._state.page = None  # done with it: the notice says so (round 2, 4)
            self._newest(f"verified:{conv.id}", f"{conv.name} is marked verified: a new key"
                         " under their name will be flagged" if answer.lower() == "yes"
                         else f"{conv.name} is not marked verified any more")
            return
        if answer:
            raise BackendError("usage", f"usage: /verify {conv.name} [yes|no]")
        rows = self._safety_rows(conv)
        me = self._state.me
        lines = [f"Safety number with {conv.name} (it must be the same on both screens;"
                 " compare it in person):", ""] + [f"  {row}" for row in rows] + [SAFETY_NOTE]
        lines += ["", f"Your fingerprint: {me.fingerprint}",
                  f"Theirs:           {conv.id}", "",
                  f"You marked {conv.name} verified." if conv.verified else
                  f"The same on both screens? /verify {conv.name} yes marks them verified.",
                  "", "Your fingerprint as a QR code, for their phone or camera:"]
        lines += qr_lines(me.fingerprint)
        self._state.show_page(f"Verify {conv.name}", lines)

    async def cmd_safety(self, who: str) -> None:
        """/safety NAME: the safety number to compare in person."""
        conv = self.resolve(who)
        rows = self._safety_rows(conv)
        self._state.show_page(f"Safety number with {conv.name}", [
            "It must be the same on both screens; compare it in person:", "",
            *[f"  {row}" for row in rows], SAFETY_NOTE, "", f"Their fingerprint: {conv.id}",
            f"/verify {conv.name} also shows your fingerprint as a QR code."])

    def _safety_rows(self, conv: Conversation) -> list[str]:
        try:
            theirs = parse_fingerprint(conv.id)
            number = safety_number(bytes.fromhex(self._state.me.public_key), theirs)
        except (FingerprintError, IdentityError, ValueError) as exc:
            raise BackendError("bad_key", f"cannot compute the safety number: {exc}") from None
        return safety_rows(number, bytes.fromhex(self._state.me.public_key), conv.name)


def _is_fingerprint(text: str) -> bool:
    """A whole fingerprint: /block takes one of a key no longer held (a removed contact)."""
    from p2pchat.core.identity import FingerprintError, parse_fingerprint

    try:
        parse_fingerprint(text)
    except FingerprintError:
        return False
    return True


def impostor_question(name: str, verified: str) -> str:
    """Accepting a new key under the name of a contact you verified (Signal's "safety number
    changed"): asked, with how to check first."""
    return f"{name} is a NEW KEY, not the {verified} you verified: accept anyway? y/n" \
        f" (compare safety numbers first: /verify {name})"


def _by_your_name(contact: Mapping[str, Any], state: ChatState) -> str:
    """An accepted request that calls itself by our own name says so (trial 14b, B5: bob
    accepted a "bob" without a word): the name it asked under or the one it calls itself."""
    mine = state.me.name.casefold()
    name = clean(contact.get("name"))
    short = name.rsplit(" (", 1)[0] if name.endswith(")") else name
    theirs = (short, clean(contact.get("their_name")), clean(contact.get("announced_name")))
    return "; they call themselves by your name" if mine and mine in \
        (n.casefold() for n in theirs if n) else ""


def not_blocked(conv: Conversation) -> str:
    """Why /unblock does nothing: what they are instead (trial 14c, B9: "'bob' is already a
    contact" read as a refusal to add)."""
    if conv.state == "request":
        shown = conv.name if conv.name.endswith(f"({conv.id[:7]})") \
            else f"{conv.name} ({conv.id[:7]})"
        return f"{shown} is not blocked: a request; /accept to add them"
    return f"{conv.name} is not blocked: a contact, {'linked' if conv.online else 'not linked'}"
