"""Why a contact seems offline, and how the relay is doing, said where the user looks
(notes/s33/trial8.md B2, B5, B6, B13, B15): the node knows (`contacts.list`'s `unanswered`,
`awaits_answer` and `address_stale`, `status`'s `relays`), the screen showed "offline" for ever.

The watch reads both every PERIOD seconds (the node sends no event when a dial fails) and keeps
each contact's reason in `Conversation.unreachable`, which the conversation's header and the
/contacts page show; a notice says it once, when the reason appears or changes, and goes when
the contact links (no stream of notices: one keyed notice per contact)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from p2pchat.core.contact_words import chats, no_longer_knows, unanswered
from p2pchat.tui.contact_news import request_answered, request_delivered
from p2pchat.tui.notice_ageing import REACH, linked_now
from p2pchat.tui.sanitize import clean

if TYPE_CHECKING:
    from p2pchat.tui.backend import ChatBackend
    from p2pchat.tui.conversation import Conversation
    from p2pchat.tui.state import ChatState

PERIOD = 5.0  # seconds between reads of the node
# After a link came up to a contact we asked: a knock has gone by then, an accepted link stays
SETTLE = 1.0
FRESH = 10.0  # seconds after "they see a request" when the node is read every SETTLE
KEY = REACH  # the notice key prefix: one notice per contact
MAX_RELAYS = 16
MAX_TOLD = 64  # relays found nearby already said on this screen (not said again)
MAX_ASKED = 4096  # contacts whose request this screen said (ReachWatch._asked)


def reason(contact: dict[str, Any], conv: Conversation, was_linked: bool,
           asked_here: bool = False, networks: Sequence[str] = (),
           waiting: Sequence[str] = ()) -> str:
    """Why the node cannot link to `contact`, in words with the fix; "" when it can, or
    when it does not know better than "offline". `was_linked`: they knew us once;
    `asked_here`: this screen just said "they see a request until they add you too";
    `networks`, `waiting`: the networks we are in, and wait to be admitted to."""
    awaits = contact.get("awaits_answer") is True  # online too while we knock (trial 11)
    if (contact.get("online") and not awaits) or contact.get("state") != "contact":
        return ""
    name = conv.name
    if contact.get("unanswered") is True:
        return unanswered(name, networks, waiting)  # one wording with `contacts` (B3)
    if contact.get("awaits_answer") is True:
        if was_linked:  # they knew us, and now their node takes us for a stranger
            return no_longer_knows(f"{name}'s")  # no "they see a request" (14b, B10)
        if asked_here:  # a new request: "they see a request until they add you too" says it
            return ""
        return (f"{name}'s node has your request and has not added you: not yet, or they"
                " removed you")
    addrs = [clean(a) for a in contact.get("addrs") or [] if isinstance(a, str)]
    if addrs and contact.get("address_stale") is True:  # silent long, or seen elsewhere
        return (f"last known at {addrs[0]} does not answer: if they moved,"
                f" /addr {name} HOST:PORT")
    return ""


def relay_words(relays: list[dict[str, Any]]) -> tuple[str, str]:
    """The status line's words for the relays (long, short): "via relay HOST:PORT" when one
    carries a link, or when one the user chose is attached (they chose it: they see it
    attached); "relay HOST:PORT unreachable" when none of those is and one the user chose does
    not answer; ("", "") without one. A relay found nearby (mDNS) that carries no link is not
    ours to report, attached or not: someone else's, on hand (/peers says so), it comes and
    goes (trial 11: "relay down", and "via relay ..." while every link was direct)."""
    carrying = [r for r in relays if r.get("state") == "attached"
                and (_links(r) or r.get("found_by") != "mdns")]
    if carrying:
        busiest = max(carrying, key=lambda r: _links(r) > 0)  # the first with a link
        return f"via relay {_label(busiest)}", "relay"
    chosen = [r for r in relays if r.get("found_by") != "mdns"]
    if not chosen:
        return "", ""
    if any(r.get("last_error") for r in chosen):
        return f"relay {_label(chosen[0])} unreachable", "relay down"
    return f"connecting to relay {_label(chosen[0])}", "relay..."


def _found(relay: dict[str, Any], *, carrying: bool = True) -> bool:
    """A relay found nearby (mDNS) we are attached to; `carrying`: with a link through it."""
    return relay.get("found_by") == "mdns" and relay.get("state") == "attached" \
        and (_links(relay) > 0 or not carrying)


def _links(relay: dict[str, Any]) -> int:
    links = relay.get("links")
    return links if isinstance(links, int) else 0


def _label(relay: dict[str, Any]) -> str:
    return clean(relay.get("relay")).split("#")[0]


def relay_lines(relays: list[dict[str, Any]]) -> list[str]:
    """/peers' lines for the relays: how each is, and why one is not attached."""
    out = []
    for r in relays:
        label = clean(r.get("relay")).split("#")[0]
        if r.get("state") == "attached" and r.get("found_by") == "mdns" and not _links(r):
            out.append(f"relay {label} (found nearby): on hand, no link through it")
        elif r.get("state") == "attached":
            out.append(f"relay {label}: attached, {_links(r)} link(s) through it")
        elif r.get("found_by") == "mdns":  # someone else's, maybe gone: not a warning
            out.append(f"relay {label} (found nearby): not answering, not used until it does")
        elif r.get("last_error"):
            out.append(f"relay {label} unreachable ({clean(r.get('last_error'))}): contacts"
                       " reached only through it are offline until it answers")
        else:
            out.append(f"relay {label}: connecting")
    return out


class ReachWatch:
    def __init__(self, state: ChatState, backend: ChatBackend, *,
                 on_change: Callable[[], None], period: float = PERIOD) -> None:
        self._state = state
        self._backend = backend
        self._on_change = on_change
        self.period = period
        self._linked: set[str] = set()  # contacts seen linked by this screen: removed us?
        self._found: set[str] = set()  # relays found by mDNS attached at the last read
        self._told: set[str] = set()  # of those, said once a link went through (MAX_TOLD)
        self._down = ""  # "relay ... unreachable" as said last (not said again after Esc)
        # Contacts whose "they see a request" this screen said: cleared with Esc, it is not
        # said again in other words ("has your request and has not added you") while the
        # request waits (trial 14b, B6); they go when the request is answered or gone
        self._asked: set[str] = set()
        self._networks: tuple[list[str], list[str]] = ([], [])  # in, and waiting to join
        import asyncio  # here, not at the top: importing this module stays cheap

        self._soon = asyncio.Event()  # set: read the node SETTLE from now

    def opened(self, relays: list[dict[str, Any]]) -> None:
        """The relays of a node that ran before this screen, as it opened: one found nearby
        that carried a link already was said then (by the screen open then; the node's log
        says it too), and is in /peers: not news on a screen opened later (trial 12, B12:
        each chat opened on a running node said it again). A screen that runs its node says
        what that node's links go through, from its start."""
        carrying = {_label(r) for r in relays if _found(r)}
        self._told |= set(sorted(carrying)[:MAX_TOLD - len(self._told)])
        self._found |= {_label(r) for r in relays if _found(r, carrying=False)}

    def link_came(self, fingerprint: str, changed: bool = False) -> None:
        """A link came up: for a contact we asked, read the node SETTLE later rather than a
        period later, so "they see a request" goes at once when they accepted (a knock, a link
        their node closes at once, changes nothing then). `changed`: the contact changed
        (`contacts_changed`: its node said whether it has us, say), whoever it is: why it is
        not linked is said then, not a period later (trial 14a, B6)."""
        conv = self._state.conversations.get(fingerprint)
        if conv is not None and (conv.answers or changed):
            self._soon.set()

    async def run(self) -> None:
        # Here, not at the top: importing this module stays cheap (render reads it).
        import asyncio

        from p2pchat.tui.backend import BackendError
        from p2pchat.waits import woken

        while True:  # the start read everything: the first look is a period later
            await woken(self._soon, self.wait())  # not wait_for: p2pchat/waits.py says why
            if self._soon.is_set():
                self._soon.clear()
                await asyncio.sleep(min(SETTLE, self.period))  # never later than the period
            with contextlib.suppress(BackendError):  # the node went: the controller says
                await self.check()

    def wait(self) -> float:
        """Until the next read: SETTLE while "they see a request" is new (a node closed to
        strangers refuses the first dial at once: the claim stayed ~35 s, trial 13b, B3),
        else the period."""
        now = self._state.clock()
        fresh = any(n.key.startswith("pending:") and now - n.at < FRESH
                    for n in self._state.notices)
        return min(SETTLE, self.period) if fresh else self.period

    async def check(self) -> None:
        """Read the node once; say what changed."""
        status = await self._backend.status()
        relays = [r for r in status.get("relays") or [] if isinstance(r, dict)][:MAX_RELAYS]
        # A notice said or dropped is a change to draw even when the relays are as the screen
        # had them: a link's event re-reads the status first, and "relay ... unreachable"
        # stayed drawn until Esc after the relay came back (issue 23, point 18).
        notices = list(self._state.notices)
        changed = relays != self._state.relays
        self._state.relays = relays
        # The networks as the node has them now: a join or leave changes why (trial 13c, B3)
        self._networks = ([clean(n) for n in status.get("networks") or []],
                          [clean(n) for n in status.get("networks_waiting") or []])
        self._relay_news(relays)
        for contact in await self._backend.contacts():
            changed = self._take(contact) or changed
        changed = self.annotate_page() or changed or list(self._state.notices) != notices
        if changed:
            self._on_change()

    def _relay_news(self, relays: list[dict[str, Any]]) -> None:
        """One notice when the relays that carried us are all unreachable (one the user
        chose among them); it goes when one is attached again. Said once per outage: a
        notice cleared with Esc stays cleared (trial 11: it came back at the next read)."""
        words = relay_words(relays)[0]
        down = words if words.endswith("unreachable") else ""
        if down != self._down:
            self._state.drop_notices(key=KEY + "relay")
            if down:
                self._state.notice("warning", f"{down}: contacts reached only through it are"
                                   " offline until it answers (/peers says why)",
                                   key=KEY + "relay")
            self._down = down
        self._found_news(relays)

    def _found_news(self, relays: list[dict[str, Any]]) -> None:
        """A relay another person advertises on the LAN, once it carries a link of ours:
        said once per relay, with how to stop it (notes/s33/trial9.md B17: only the node's
        log said it). Attached with no link through it, it is no news: /peers lists it
        (trial13a B12: four strangers' relays, four notices in four minutes). The notice
        goes when we are no longer attached to it, and is not said again when a link goes
        through it again (trial 11: other people's relays coming and going)."""
        attached = {_label(r) for r in relays if _found(r, carrying=False)}
        for label in self._found - attached:
            self._state.drop_notices(key=f"{KEY}found:{label}")
        for label in sorted({_label(r) for r in relays if _found(r)} - self._told):
            if len(self._told) >= MAX_TOLD:
                break
            self._told.add(label)
            self._state.notice("info", f"a link goes through relay {label}, found nearby (not"
                               " one you chose): 'p2pchat settings found-relays off' (or"
                               " --no-found-relays) turns that off", key=f"{KEY}found:{label}")
        self._found = attached

    def _take(self, contact: dict[str, Any]) -> bool:
        fp = clean(contact.get("fingerprint"))
        conv = self._state.conversations.get(fp)
        if conv is None or conv.kind == "group":
            return False
        # Their node has our request (`awaits_answer`): a link now is our knock, which it
        # closes at once (trial 11), not a link to chat on.
        awaits = contact.get("awaits_answer") is True
        linked = chats(contact)
        moved = awaits != conv.awaited or (awaits and conv.online)  # not "online" (14a, B6)
        if awaits != conv.awaited:  # their node said whether it has us: as a re-read would
            conv.online = linked
        conv.awaited, conv.online = awaits, conv.online and not awaits
        moved = (awaits and request_delivered(self._state, conv)) or moved  # B18
        if (conv.online and not conv.answers and not awaits) or linked:
            self._linked.add(fp)
        if linked:  # a link event missed or taken for a knock: "the link comes up" is untrue
            linked_now(self._state, fp)
        answers = "" if linked or contact.get("state") != "contact" else \
            "awaits" if awaits else \
            "unanswered" if contact.get("unanswered") is True else ""
        # Their node said it has us, the link gone since (the node's `asked`): asked no more
        accepted = conv.answers == "asked" and contact.get("asked") is False
        if not answers and conv.answers in ("asked", "awaits") and not linked \
                and contact.get("state") == "contact" and not accepted:  # their node not met:
            answers = conv.answers  # still asked (its first knock is no link either)
        if answers != conv.answers:
            if conv.answers in ("asked", "awaits") and (linked or accepted):  # they accepted
                request_answered(self._state, conv, linked=linked)  # said so (14b, B7)
            conv.answers, changed_answers = answers, True
            if answers not in ("asked", "awaits"):
                self._asked.discard(fp)
        else:
            changed_answers = False
        seen = clean(contact.get("last_seen"))
        changed = (bool(seen) and seen != conv.last_seen) or changed_answers or moved
        conv.last_seen = seen or conv.last_seen
        # A last link's end is one with them (a knock on a node that has our request leaves
        # none): they knew us (trial 11); or they wrote, or held what we wrote; or the node
        # says their node once said it has us (`asked` false, kept: trial 12, B15)
        knew_us = fp in self._linked or bool(conv.last_seen) or contact.get("asked") is False \
            or any((not m.own and not m.system) or m.status == "delivered"
                   for m in conv.messages)
        if any(n.key == f"pending:{fp}" for n in self._state.notices) \
                and len(self._asked) < MAX_ASKED:
            self._asked.add(fp)
        asked = fp in self._asked
        why = reason(contact, conv, knew_us, asked, *self._networks)
        if why == conv.unreachable:
            return changed
        conv.unreachable = why
        self._state.drop_notices(key=KEY + fp)
        # A quiet address is said in the header and on /contacts only: no notice pops up for
        # a contact who went away (trial 9, B7).
        if why and (contact.get("unanswered") is True or contact.get("awaits_answer") is True):
            self._state.drop_notices(key=f"pending:{fp}")  # "they see a request": untrue
            self._state.notice("warning", why, key=KEY + fp)
        return True

    def annotate_page(self) -> bool:
        """Under each unreachable contact's row of an open /contacts page, why."""
        page = self._state.page
        if page is None or page.source != "contacts":
            return False
        reasons = {c.id: c.unreachable for c in self._state.conversations.values()
                   if c.unreachable and not c.online}
        out: list[tuple[str, str]] = []
        for kind, text in page.lines:
            if text.startswith("      "):  # ours, from the last time: said again below
                continue
            out.append((kind, text))
            why = next((w for fp, w in reasons.items() if fp and fp in text), "")
            if why:
                out.append(("warning", "      " + why))
        if out == page.lines:
            return False
        page.lines = out
        return True

    def around(self, command: Callable[[str], Awaitable[None]]
               ) -> Callable[[str], Awaitable[None]]:
        """`command` (the /contacts page), then the reasons under its rows."""
        async def annotated(rest: str) -> None:
            await command(rest)
            self.annotate_page()
        return annotated
