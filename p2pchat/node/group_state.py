"""Group chat in the node: `GroupBook`, the groups we are in and what is looked up in them.

The book holds each group's state (rebuilt from the stored op chain, with its keys and pending
records), finds a group or a member by what the user typed, names members, tells which linked
peers are members, keeps the dialer after members who are not contacts, and builds the views
the other group parts show. It sends nothing: `GroupLinks` (node/group_links.py) greets
members, `GroupRecords` (node/group_records.py) handles what they send, and `Groups`
(node/groups.py) composes them with the commands. docs/protocol.md section 8 is the contract.
"""


from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from p2pchat.core import group_checkpoints as checkpoints
from p2pchat.core import groups as core
from p2pchat.core.errors import ProtocolError
from p2pchat.core.groups import (
    GroupError,
    GroupGossip,
    GroupState,
)
from p2pchat.core.identity import (
    FingerprintError,
    Identity,
    fingerprint,
    parse_fingerprint,
    short_fingerprint,
)
from p2pchat.core.messages import (
    MAX_GROUP_OPS,
    Envelope,
    GroupCheckpoint,
    GroupDigest,
    GroupHolders,
    GroupInvite,
    GroupJoins,
    GroupKey,
    GroupKeyRequest,
    GroupLeave,
    GroupLostKey,
    GroupOp,
    GroupOpKind,
    GroupPrune,
    Record,
    decode_record,
)
from p2pchat.core.record_revisions import revision_3_form, revision_3_last_op
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.net.link import Link
from p2pchat.node.config import CommandError
from p2pchat.node.group_lines import change_text
from p2pchat.node.links import LinkTable
from p2pchat.node.views import Views
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

GROUP_RECORDS = (GroupInvite, GroupOp, GroupKey, GroupKeyRequest, GroupLeave, GroupPrune,
                 GroupDigest, GroupLostKey, GroupCheckpoint, GroupHolders, GroupJoins)
MAX_HEARD = MAX_GROUP_OPS  # members whose last vector we keep to pass on (protocol 8.15)
MAX_LOST = 16  # lost-branch keys held per group (protocol 8.13)
DIAL_PER_GROUP = 3  # members who are not contacts we keep trying to link with, per group
MAX_UNREAD = 4096  # envelopes held for a key we lack, per group, shown when it arrives
MAX_EARLY = 256  # envelopes of an epoch whose op has not arrived yet, per group
MAX_GROUPS = 256  # groups a node is in (left ones do not count): accepting more is refused
NO_KEY_YET = "(waiting for the group's key)"
CHANGES = {GroupOpKind.CREATE: "create", GroupOpKind.ADD: "add", GroupOpKind.REMOVE: "remove",
            GroupOpKind.LEAVE: "leave", GroupOpKind.TRANSFER: "transfer",
            GroupOpKind.ADMIN: "admin", GroupOpKind.UNADMIN: "unadmin"}


@dataclass
class Group:
    state: GroupState
    keys: dict[int, bytes]
    gossip: GroupGossip
    left: bool = False
    leaves: dict[bytes, GroupLeave] = field(default_factory=dict)  # pending, one per member
    # Owner: invitations not handed over yet, as made when the member was added.
    invites: dict[bytes, GroupInvite] = field(default_factory=dict)
    unread: set[tuple[bytes, int]] = field(default_factory=set)  # (author, seq) without a key
    key_asked: set[int] = field(default_factory=set)  # epochs asked for since the last tick
    # Members who asked us for a key we did not hold yet: answered when it arrives, so a new
    # key spreads one round trip per hop rather than one tick per hop.
    key_waiters: dict[int, set[bytes]] = field(default_factory=dict)
    # Envelopes that overtook the op starting their epoch (forwarding does not wait for our
    # commit, ops do): taken again once an op applies, instead of waiting for anti-entropy.
    early: list[tuple[Link, bytes, Envelope]] = field(default_factory=list)
    # Keys of epochs a lost fork branch started (protocol 8.13), by epoch: what was written on
    # that branch still opens. Memory only: after a restart those envelopes show as unreadable.
    stale_keys: dict[int, list[bytes]] = field(default_factory=dict)
    lost: dict[bytes, GroupLostKey] = field(default_factory=dict)  # by op hash, to pass on
    # How far each fellow member holds our own log, from its vectors (`delivered_to`).
    receipts: dict[bytes, int] = field(default_factory=dict)
    # The last vector each fellow member sent us itself (the MAX_HEARD latest members), memory
    # only: what we tell a member of how far the others hold ITS log (GroupHolders, 8.16).
    heard: dict[bytes, dict[bytes, int]] = field(default_factory=dict)
    # Checkpoints signed by the owner or an admin that match our chain (protocol 8.14), by
    # (number, signer), the MAX_VOUCHES highest: what we hand a member who was away longer
    # than we keep ops. Memory, and our stored checkpoint once we start our chain at one.
    vouches: dict[tuple[int, bytes], GroupCheckpoint] = field(default_factory=dict)
    # Why we could not catch up from a checkpoint we were offered (None: we could, or were
    # not offered one): shown in the group's view until the chain moves on.
    stuck: str | None = None
    # Members seen holding the group (their sync, an envelope they wrote): they accepted. The
    # others were invited and have not (to our knowledge) said yes yet.
    joined: set[bytes] = field(default_factory=set)
    # Of those added before us, the ones we saw accept (or a member told us of), memory only:
    # the rest we only took as joined when we accepted, which we must not tell anyone (trial
    # 12, B6: a member passed on a pending invitee as joined, and its decline read as
    # "bob joined" / "bob left" on the inviter's screen).
    seen: set[bytes] = field(default_factory=set)

    def invited(self) -> list[bytes]:
        """Members added but not seen to accept yet (in the chain, so counted in `members`)."""
        return sorted(k for k in self.state.members if k not in self.joined)

    def recipients(self, epoch: int, me: bytes) -> list[bytes]:
        """Who a message of ours sealed in `epoch` was for: that epoch's members but us, fixed
        whoever joins, leaves or is removed later (departed members' spans older than a
        checkpoint keeps are gone, protocol 8.14: their old messages count fewer)."""
        return sorted(k for k in self.state.spans if k != me and self.state.member_at(k, epoch))

    def hear(self, member: bytes, vector: dict[bytes, int]) -> None:
        """`member`'s own vector, kept to pass on (the latest MAX_HEARD members)."""
        self.heard.pop(member, None)
        self.heard[member] = {a: s for a, s in vector.items() if self.state.is_member(a)}
        while len(self.heard) > MAX_HEARD:
            del self.heard[next(iter(self.heard))]

    def holders_for(self, reader: bytes, me: bytes) -> GroupHolders | None:
        """What we heard others hold of `reader`'s log (None: nothing to tell)."""
        held = sorted((m, v[reader]) for m, v in self.heard.items()
                      if m not in (reader, me) and v.get(reader, 0) >= 1
                      and self.state.is_member(m))
        return GroupHolders(group=self.conv, held=tuple(held)) if held else None

    def joins_for(self, reader: bytes, me: bytes) -> GroupJoins | None:
        """Who we saw accept that `reader` cannot have seen itself (protocol 8.17): members
        added after it (it takes those added before it as joined), but it and us, the latest
        added when there are more than a record holds. Not those we only took as joined
        (added before us, never seen to accept): we cannot tell."""
        start = self.state.joined_at.get(reader, 0)
        ours = self.state.joined_at.get(me, 0)
        seen = sorted((self.state.joined_at[k], k) for k in self.joined
                      if k not in (reader, me) and self.state.joined_at.get(k, 0) > start
                      and (self.state.joined_at.get(k, 0) > ours or k in self.seen))
        members = sorted(k for _, k in seen[-MAX_GROUP_OPS:])
        return GroupJoins(group=self.conv, members=tuple(members)) if members else None

    def all_joins_for(self, reader: bytes, me: bytes) -> list[GroupJoins]:
        """Every member we saw accept (or were told of) but `reader` and us, added before it
        too, in records of at most MAX_GROUP_OPS (protocol 8.17, revision 6): what a member
        that counts only what it is told needs on accepting, and on link start."""
        ours = self.state.joined_at.get(me, 0)
        told = sorted(k for k in self.joined if k not in (reader, me)
                      and (self.state.joined_at.get(k, 0) > ours or k in self.seen))
        return [GroupJoins(group=self.conv, members=tuple(told[i:i + MAX_GROUP_OPS]))
                for i in range(0, len(told), MAX_GROUP_OPS)]

    def delivered_to(self, seq: int, recipients: Iterable[bytes]) -> list[bytes]:
        """Which of `recipients` are known to hold our envelope `seq` (never more than them)."""
        return sorted(k for k in recipients if self.receipts.get(k, 0) >= seq)

    @property
    def conv(self) -> bytes:
        """The group's id."""
        return self.state.group


def stored_groups(db: Store) -> dict[bytes, Group]:
    """Every group in the store, its state rebuilt from its op chain, with its keys and pending
    records. A group whose chain does not load is logged and left out (the others still do)."""
    groups = {}
    for conv, left in db.groups.list_all():
        vouches: dict[tuple[int, bytes], GroupCheckpoint] = {}
        try:
            ops = [decode_record(data) for data in db.groups.ops(conv)]
            base = db.groups.base(conv)
            if base is not None:  # the chain starts at a checkpoint (8.14)
                cp = decode_record(base)
                if not isinstance(cp, GroupCheckpoint):
                    raise StoreError("a stored checkpoint is not one")
                state = checkpoints.checkpoint_state(cp)
                if state.is_manager(cp.signer):  # a manager's: ours to hand on (8.14)
                    vouches = {(cp.number, cp.signer): cp}
            else:
                state, ops = core.genesis(_op(ops[0])), ops[1:]
            for op in ops:
                state = core.apply_op(state, _op(op))
            leaves = [decode_record(data) for data in db.groups.leaves(conv)]
        except (StoreError, ProtocolError, IndexError) as exc:
            log.error("group %s cannot be loaded: %s", conv.hex()[:8], exc)
            continue
        invites = {member: decode_record(data)
                   for member, data in db.groups.invites(conv).items()}
        group = Group(state, db.groups.epoch_keys(conv), GroupGossip(conv), left=left,
                      invites={member: invite for member, invite in invites.items()
                               if isinstance(invite, GroupInvite)})
        group.leaves = {leave.member: leave for leave in leaves if isinstance(leave, GroupLeave)}
        group.receipts = db.groups.receipts(conv)
        group.vouches = vouches
        joins = db.groups.joins(conv)
        group.joined = {k for k, number in state.joined_at.items() if number in joins}
        groups[conv] = group
    return groups


def find_group(groups: dict[bytes, Group], which: str) -> Group:
    """A group by its id (hex) or its title (case-insensitive; one not left wins a tie);
    `#TITLE` is the title too (how a group is told from a contact of that name)."""
    which = which.strip()
    if which.startswith("#") and len(which) > 1:
        which = which[1:]
    try:
        g = groups.get(bytes.fromhex(which))
    except ValueError:
        g = None
    if g is not None:
        return g
    fold = which.strip().casefold()
    found = [g for g in groups.values() if g.state.title.casefold() == fold]
    active = [g for g in found if not g.left] or found
    if len(active) > 1:
        raise CommandError("ambiguous_group",
                           f"several groups are called {which!r}: use the group id")
    if not active:
        raise CommandError("unknown_group", f"no group called {which!r}: see 'group list'")
    return active[0]


class GroupBook:
    """The groups we are in, by id: their state, lookups, member names and views."""

    def __init__(
        self,
        identity: Identity,
        name: str,
        *,
        store: Callable[[], Store],
        views: Views,
        links: LinkTable,
        contact_state: Callable[[bytes], str | None],
        release_held: Callable[[Envelope], None],
    ) -> None:
        self._key = identity.public_key
        self._name = name
        self._store = store
        self._views = views
        self._links = links
        self._contact_state = contact_state
        self._release_held = release_held  # gives back the gap budget an early envelope held
        self._groups: dict[bytes, Group] = {}
        self._dialing: set[bytes] = set()  # non-contact members we asked the dialer for

    # ------------------------------------------------------------ state

    def load(self) -> None:
        """At start: every group's state from its stored op chain, keys and pending records."""
        self._groups.update(stored_groups(self._store()))
        self.dial_members()

    def clear(self) -> None:
        """A commit failed: drop every group (and what its early envelopes held) before
        loading again from what the store really holds."""
        for g in self._groups.values():
            for _, _, env in g.early:
                self._release_held(env)
        self._groups.clear()

    def get(self, conv: bytes) -> Group | None:
        """The group with this id, if we hold it (left or not)."""
        return self._groups.get(conv)

    def older(self, record: Record, size: int) -> Record | None:
        """``record`` (``size`` bytes) as a revision-3 peer decodes it, or None: records over
        revision 3's limits, and ops past the one that took the group past 64 members, go only
        to revision-4 peers (protocol 8.10, 12)."""
        if isinstance(record, GroupOp):
            g = self._groups.get(record.group)
            if g is not None and record.number > revision_3_last_op(g.state):
                return None
        return revision_3_form(record, size)

    def all(self) -> list[Group]:
        """Every group we hold, left ones too."""
        return list(self._groups.values())

    def add(self, g: Group) -> Group:
        """Hold a new group (created, or joined)."""
        self._groups[g.conv] = g
        return g

    def drop(self, conv: bytes) -> None:
        """Forget a group (its store rows are the caller's)."""
        del self._groups[conv]

    def is_group_peer(self, key: bytes) -> bool:
        """Whether `key` may hold a group-only link: a current member of a group we are in."""
        return any(self.active(g) and g.state.is_member(key) for g in self._groups.values())

    def active(self, g: Group) -> bool:
        """Whether we are in `g` now (not left, not removed)."""
        return not g.left and g.state.is_member(self._key)

    def count_active(self) -> int:
        """How many groups we are in now."""
        return sum(1 for g in self._groups.values() if self.active(g))

    def member_group(self, conv: bytes, key: bytes) -> Group | None:
        """The group, if we are in it and `key` is a current member (records from anyone else
        are ignored: protocol 8.9)."""
        g = self._groups.get(conv)
        if g is None or not self.active(g) or not g.state.is_member(key):
            return None
        return g

    def linked(self) -> dict[bytes, Link]:
        """Every live, authenticated link that is not a stranger's, by peer."""
        return {key: link for key, link in self._links.by_peer.items()
                if not link.closed and link.peer.up and not link.peer.stranger}

    def linked_members(self, g: Group) -> dict[bytes, Link]:
        """The live links to current members of `g`."""
        return {key: link for key, link in self.linked().items() if g.state.is_member(key)}

    # ------------------------------------------------------------ links

    def close_unshared(self) -> None:
        """Group-only links whose peer no longer shares a group with us end (protocol 8.9)."""
        for key, link in list(self.linked().items()):
            if link.peer.group_only and not self.is_group_peer(key) \
                    and self._contact_state(key) != "contact":  # added as a contact since
                link.close("no longer in a shared group")

    def dial_members(self) -> None:
        """Keep the dialer after a few members per group who are not contacts (contacts are
        dialled anyway). Which few is a hash of both keys, so members pick different ones."""
        wanted: set[bytes] = set()
        for g in self._groups.values():
            if not self.active(g):
                continue
            others = [k for k in g.state.members
                      if k != self._key and self._contact_state(k) is None]
            others.sort(key=lambda k: hashlib.blake2b(self._key + k, digest_size=8).digest())
            wanted.update(others[:DIAL_PER_GROUP])
        for key in wanted - self._dialing:
            self._links.dialer.want(key)
        for key in self._dialing - wanted:
            if self._contact_state(key) is None:
                self._links.dialer.forget(key)
        self._dialing = wanted

    def relink_strangers(self, g: Group) -> None:
        """Members who linked while we were still deciding to join `g` got a stranger's link:
        those links start over, as members'."""
        for peer, link in list(self._links.by_peer.items()):
            if link.peer.stranger and g.state.is_member(peer) and not link.closed:
                link.close("joined a group with them: linking again as members")

    def wake_dialer(self) -> None:
        """Membership changed: dial the members we now want, at once."""
        self.dial_members()
        self._links.dialer.wake_all()

    # ------------------------------------------------------------ views

    def view(self, g: Group) -> dict[str, Any]:
        """How a group looks from outside (docs/api.md)."""
        linked = self.linked()
        conv = self._store().conversations.get(g.conv)
        return group_view(g, self._key, self.member_name(g, g.state.owner),
                          sum(1 for k in g.state.members if k in linked),
                          conv.created_at if conv is not None else None)

    def change_event(self, g: Group, op: GroupOp | None, member: bytes, *,
                     by: bytes | None = None, declined: bool = False) -> dict[str, Any]:
        """The `group_changed` event for an op now in the chain (None: `member` accepted its
        invitation, change "join"), with its line in words as `log` shows it."""
        change = CHANGES[op.kind] if op is not None else "join"
        name, you = self.member_name(g, member), member == self._key
        by_name = None if by is None else "you" if by == self._key else self.member_name(g, by)
        event = {"type": "group_changed", **self.view(g), "change": change,
                 "member": fingerprint(member), "member_name": name, "you": you,
                 "member_contact": self.is_contact(member),  # else "~name" (trial 5, B9)
                 "number": op.number if op is not None else g.state.joined_at.get(member, 0),
                 "text": change_text(change, name, you=you, by=by_name, declined=declined,
                                     stranger=not self.is_contact(member))}
        if by is not None:
            event["by"], event["by_name"] = fingerprint(by), by_name
        if declined:
            event["declined"] = True
        return event

    def member_name(self, g: Group, key: bytes) -> str:
        """A member's name, the one for the chat, `log` and `group members` (`member_name`)."""
        return member_name(self._store(), g, key, self._key, self._name)

    def is_contact(self, key: bytes) -> bool:
        """Whether the user knows `key` as a contact (or it is us): anyone else in a group is
        shown by the name it was added under, marked unverified (`~name`)."""
        return key == self._key or self._contact_state(key) == "contact"

    def label(self, g: Group, event: dict[str, Any], author: bytes) -> dict[str, Any]:
        """A group message event with its author named as `member_name` does, and whether
        that author is a contact (`author_contact`; screens mark the others unverified)."""
        event["author_name"] = self.member_name(g, author)
        event["author_contact"] = self.is_contact(author)
        return event

    # ------------------------------------------------------------ lookups

    def ids(self) -> list[bytes]:
        """Every group we hold, left ones too (their history stays)."""
        return list(self._groups)

    def names(self, which: str) -> bool:
        """Whether `which` names one of our groups (by title or id)."""
        try:
            self.find(which)
        except CommandError:
            return False
        return True

    def find(self, which: str) -> Group:
        """A group by id or title (`find_group`), or a clean `CommandError`."""
        return find_group(self._groups, which)

    def owned(self, which: str) -> Group:
        """A group we own and are in, or a clean `CommandError`."""
        g = self.find(which)
        if not self.active(g) or g.state.owner != self._key:
            raise CommandError("not_owner", "only the group's owner does that")
        return g

    def managed(self, which: str) -> Group:
        """A group we own or are an admin of, or a clean `CommandError`."""
        g = self.find(which)
        if not self.active(g) or not g.state.is_manager(self._key):
            raise CommandError("not_owner",
                               "only the group's owner or an admin changes who is in it")
        return g

    def member_key(self, g: Group, who: str) -> bytes:
        """A current member by fingerprint or by name, or a clean `CommandError`."""
        try:
            key = parse_fingerprint(who)
        except FingerprintError:
            fold = who.strip().casefold()
            named = [k for k in g.state.members if self.member_name(g, k).casefold() == fold]
            if len(named) > 1:  # "single" only where it is so (trial 14a, B10)
                raise CommandError("unknown_member", f"no single member called {who!r}:"
                                                     f" {len(named)} are; give the fingerprint"
                                   ) from None
            if not named:
                raise CommandError("unknown_member", f"no member called {who!r}") from None
            key = named[0]
        if key not in g.state.members:
            raise CommandError("unknown_member", "not a member of this group")
        return key


# A bare GroupCheckpoint (a vouch, protocol 8.14) is a new use of a revision-3 record: a
# revision-3 peer that predates it ignores it, a revision-2 peer would close on code 43.
VOUCH_REVISION = GroupCheckpoint.REVISION
# From revision 6 a member tells a peer every join it saw, not only those of members added after
# the peer, and one that accepts from such an inviter counts only what it is told (8.17).
ALL_JOINS_REVISION = 6


def fits(link: Link, record: Record) -> bool:
    """Whether `link`'s peer can decode `record`: ops of revision-3 kinds (admin, unadmin), and
    invitations holding one, go only to peers that announced revision 3 (protocol 12)."""
    if isinstance(record, GroupCheckpoint):
        return link.session.peer_revision >= VOUCH_REVISION
    if link.session.peer_revision >= 3:
        return True
    if isinstance(record, GroupOp):  # past op 100: a revision-2 peer refuses the record
        return record.kind not in GroupOpKind.REVISION_3 and record.number <= MAX_GROUP_OPS
    if isinstance(record, GroupInvite):
        return record.checkpoint is None and all(
            op.kind not in GroupOpKind.REVISION_3 and op.number <= MAX_GROUP_OPS
            for op in record.ops)
    return not isinstance(record, GroupLostKey)


def head_record(g: Group) -> GroupOp | GroupCheckpoint | None:
    """What tells a member where our chain stands (protocol 8.8, 8.14): our head op, or, when
    we hold no op after our checkpoint (we just caught up from one), a manager's checkpoint at
    it."""
    if g.state.ops:
        return g.state.ops[-1]
    return next((v for v in g.vouches.values() if v.number == g.state.base), None)


def group_view(g: Group, me: bytes, owner_name: str, online: int,
               since: int | None = None) -> dict[str, Any]:
    """How a group looks from outside (docs/api.md), to a node or read from the store;
    `since` (unix ms): when it came to be for us (created, or its invitation came)."""
    role = "left" if g.left else "removed" if not g.state.is_member(me) \
        else "owner" if g.state.owner == me \
        else "admin" if me in g.state.admins else "member"
    return {
        "group": g.conv.hex(),
        "title": g.state.title,
        "role": role,
        "owner": fingerprint(g.state.owner),
        "owner_name": owner_name,
        "admins": sorted(fingerprint(k) for k in g.state.admins),
        "members": len(g.state.members),
        # who is in it (the invited included): the chat's Tab offers others (trial 6, B16)
        "member_fingerprints": sorted(fingerprint(k) for k in g.state.members),
        "invited": sum(1 for k in g.invited() if k != me),
        "online": online,
        "epoch": g.state.epoch,
        "has_key": g.state.epoch in g.keys,
        "behind": g.stuck,  # why we could not catch up (protocol 8.14), else None
        # the screens number their lists by it, alike in every screen (trial 14a, B16)
        **({"since": iso_from_ms(since)} if since is not None else {}),
    }


def member_name(db: Store, g: Group, key: bytes, me: bytes, my_name: str) -> str:
    """The one name a group member goes by, wherever it is shown (the chat, `log`, `group
    members`, with or without the node): ours; a contact's; for anyone else listed (a request),
    the name they gave themselves, with their short fingerprint where a contact has that name;
    else the one they were added under; else their short fingerprint. Screens mark a member who
    is not a contact `~name` (trial 9, B4: the chat said "~bob (K55H6V5)" and `log` "~mal",
    the inviter's name for her, for one member)."""
    if key == me:
        return my_name
    listed = db.contacts.get(key)
    if listed is not None:
        return listed.name
    return added_name(g, key) or short_fingerprint(key)


def added_name(g: Group, key: bytes) -> str | None:
    """The name the member was added under (its latest add), if it ever was one."""
    name = g.state.members.get(key)
    if name:
        return name
    for op in reversed(g.state.ops):
        if op.subject == key and op.kind in (GroupOpKind.CREATE, GroupOpKind.ADD):
            return op.name
    return None


def checked_change(make: Callable[[], core.Change]) -> core.Change:
    """A change from the core, its limits turned into a clean `CommandError`."""
    try:
        return make()
    except GroupError as exc:
        raise CommandError("group_limit", str(exc)) from None


def _op(record: Record) -> GroupOp:
    if not isinstance(record, GroupOp):
        raise StoreError("a stored group op is not an op")
    return record


def after_flush(fn: Callable[[], None]) -> None:
    """Run `fn` after the outbox's flush of this turn (scheduled earlier, so it runs first)."""
    asyncio.get_running_loop().call_soon(fn)
