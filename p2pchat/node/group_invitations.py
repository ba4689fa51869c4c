"""Group invitations wait for the user's yes (docs/protocol.md 8.5, "Consent").

A contact's invitation is checked (core.groups.join) and kept as a pending request, like a
contact request: nothing of the group is created until the user accepts it. Pending invitations
are bounded per inviter and in all, expire, and a declined or expired one frees its slot at once,
so one contact's spam never keeps another's invitation out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2pchat.core import groups as core
from p2pchat.core.errors import ProtocolError
from p2pchat.core.groups import GroupState
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import GroupInvite, decode_record, encode_record
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.events import EventBus
from p2pchat.node.config import CommandError
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")

MAX_INVITATIONS_PER_INVITER = 8  # pending at once from one contact
MAX_INVITATIONS = 64  # pending at once in all
INVITATION_TTL_MS = 14 * 24 * 3600 * 1000  # a pending invitation expires after 14 days


@dataclass
class Pending:
    inviter: bytes
    invite: GroupInvite
    state: GroupState  # the group as the invitation's chain makes it
    received_at: int  # unix ms

    @property
    def conv(self) -> bytes:
        """The group's id."""
        return self.state.group


class Invitations:
    def __init__(self, key: bytes, *, store: Callable[[], Store], events: EventBus,
                 name_of: Callable[[bytes], str]) -> None:
        self._key = key
        self._store = store
        self._events = events
        self._name_of = name_of
        self._pending: dict[bytes, Pending] = {}
        self._refused: set[bytes] = set()  # inviters told off in the log (once each)
        # Invitations the user declined (by group, the adding op's hash): the owner sends an
        # invitation again on every link start until we hold the group, so a re-send of one we
        # declined is answered with our leave, not asked again. Memory only: after a restart
        # the user is asked once more.
        self._declined: dict[bytes, bytes] = {}

    def load(self, *, repair: bool = True) -> None:
        """At start: the pending invitations in the store, each checked again (a bad one is
        dropped from the store unless `repair` is False: a read-only look, `offline.py`)."""
        self._pending.clear()
        for conv, inviter, data, at in self._store().groups.invitations():
            try:
                invite = decode_record(data)
                if not isinstance(invite, GroupInvite):
                    raise ProtocolError("not an invitation")
                state = core.join(invite, self._key, inviter)
            except ProtocolError as exc:
                log.error("a stored invitation does not load: %s", exc)
                if repair:
                    self._store().groups.drop_invitation(conv)
                continue
            self._pending[conv] = Pending(inviter, invite, state, at)

    def offer(self, inviter: bytes, invite: GroupInvite, state: GroupState, now: int) -> bool:
        """A checked invitation from a contact: kept pending, if there is room. True if kept."""
        self.expire(now)
        held = self._pending.get(state.group)
        if held is not None and held.inviter == inviter:
            if held.invite == invite:
                return True  # sent again on a new link: nothing new
            held.invite, held.state = invite, state  # a later chain: keep the newest
            self._store().groups.put_invitation(state.group, inviter, encode_record(invite))
            return True
        mine = sum(1 for p in self._pending.values() if p.inviter == inviter)
        if held is not None or mine >= MAX_INVITATIONS_PER_INVITER \
                or len(self._pending) >= MAX_INVITATIONS:
            if inviter not in self._refused:
                self._refused.add(inviter)
                log.warning("refused group invitations from %s: %d pending from them, %d in all"
                            " (accept or decline some)", self._name_of(inviter), mine,
                            len(self._pending))
            return False
        pending = self._pending[state.group] = Pending(inviter, invite, state, now)
        self._store().groups.put_invitation(state.group, inviter, encode_record(invite))
        self._events.emit({"type": "group_invited", **self.view(pending)})
        return True

    def declined(self, invite: GroupInvite) -> bool:
        """Whether we said no to this very invitation (its head op) already."""
        return self._declined.get(invite.ops[0].group) == core.op_hash(invite.ops[-1])

    def decline(self, pending: Pending) -> None:
        """Say no: the invitation goes, remembered so a copy of it is answered again."""
        if len(self._declined) >= MAX_INVITATIONS * 4:
            self._declined.pop(next(iter(self._declined)))
        self._declined[pending.conv] = core.op_hash(pending.invite.ops[-1])
        self.drop(pending.conv, "declined")

    def expire(self, now: int) -> None:
        """Drop the invitations older than their time to live."""
        for conv, pending in list(self._pending.items()):
            if now - pending.received_at >= INVITATION_TTL_MS:
                log.info("an invitation to %s expired", pending.state.title)
                self.drop(conv, "expired")

    def drop(self, conv: bytes, why: str) -> None:
        """Drop the pending invitation to `conv` (accepted, superseded), telling the screen why."""
        pending = self._pending.pop(conv, None)
        self._store().groups.drop_invitation(conv)
        if pending is not None:
            self._refused.discard(pending.inviter)  # room again: a new refusal is news
            self._events.emit({"type": "group_invitation_closed", "group": conv.hex(),
                               "title": pending.state.title, "reason": why})

    def find(self, which: str) -> Pending | None:
        """A pending invitation by group id or title (None if none; ambiguous titles refused)."""
        try:
            found = self._pending.get(bytes.fromhex(which))
        except ValueError:
            found = None
        if found is not None:
            return found
        fold = which.strip().lstrip("#").casefold()
        named = [p for p in self._pending.values() if p.state.title.casefold() == fold]
        if len(named) > 1:
            raise CommandError("ambiguous_group",
                               f"several invitations to groups called {which!r}: use the id")
        return named[0] if named else None

    def get(self, which: str) -> Pending:
        """The pending invitation named by `which`, or a clean `CommandError`."""
        pending = self.find(which)
        if pending is None:
            raise CommandError("unknown_invitation", f"no pending invitation to {which!r}:"
                                                     " see 'group list'")
        return pending

    def pending(self) -> list[Pending]:
        """Every invitation waiting for a yes or no."""
        return list(self._pending.values())

    def view(self, pending: Pending) -> dict[str, Any]:
        """How a pending invitation looks in the group list (role "invited")."""
        state = pending.state
        return {
            "group": pending.conv.hex(),
            "title": state.title,
            "role": "invited",
            "owner": fingerprint(state.owner),
            "owner_name": self._name_of(state.owner),
            "members": len(state.members),
            "online": 0,
            "epoch": state.epoch,
            "has_key": False,
            "invited_by": fingerprint(pending.inviter),
            "invited_by_name": self._name_of(pending.inviter),
            "expires_at": iso_from_ms(pending.received_at + INVITATION_TTL_MS),
            "since": iso_from_ms(pending.received_at),
        }
