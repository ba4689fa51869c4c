"""Equivocation in the node: finding an author's two signed versions of one envelope, keeping them
as evidence, telling the user, and passing the evidence on (docs/protocol.md 8.12).

Composed into the groups part (node/group_state.py builds it): `check_copy` on every copy of an
envelope we already hold, `on_digest` on every member's GroupDigest, `digest` for our own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from p2pchat.core import groups as core
from p2pchat.core.equivocation import digest, is_equivocation, mismatches
from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import (
    Envelope,
    GroupDigest,
    SyncRequest,
    decode_record,
    decode_text,
    encode_record,
    envelope_hash,
)
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.event_types import EquivocationEvent, MessageEvent
from p2pchat.events import EventBus
from p2pchat.node.backlog import Backlog
from p2pchat.node.conversations import Conversations, now_ms
from p2pchat.node.outbox import Outbox
from p2pchat.node.peer_state import PeerLink
from p2pchat.storage.store import Store

if TYPE_CHECKING:
    from p2pchat.node.group_state import Group as GroupLike

log = logging.getLogger("p2pchat.node")

NOTICE_NAME = "warning"  # who the line in a conversation's log is from


class Equivocations:
    def __init__(
        self,
        *,
        store: Callable[[], Store],
        outbox: Outbox,
        sender: Backlog,  # named so until the group part (issue 29, other branch) passes backlog=
        conversations: Conversations,
        events: EventBus,
        name_of: Callable[[Any, bytes], str],
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._backlog = sender
        self._conversations = conversations
        self._events = events
        self._name_of = name_of
        self._marked: dict[bytes, set[bytes]] = {}  # group -> authors caught, from the store

    def marked(self, conv: bytes) -> set[bytes]:
        """Authors caught equivocating in the group."""
        authors = self._marked.get(conv)
        if authors is None:
            authors = self._marked[conv] = {a for a, *_ in self._store().groups.equivocations(conv)}
        return authors

    def forget(self, conv: bytes) -> None:
        """The group is gone (forgotten) or the store was rolled back: read it again."""
        self._marked.pop(conv, None)

    def digest(self, conv: bytes) -> GroupDigest:
        """Our heads of every author's log in `conv`, hashed, to compare with a member's."""
        conv_log = self._conversations.log_of(conv)
        return digest(conv, {author: conv_log.head(author) for author in conv_log.vector()})

    def check_copy(self, g: GroupLike, env: Envelope, linked: Mapping[bytes, PeerLink]) -> None:
        """`env` is at or below our head of its author: a copy, or proof of a lie."""
        if env.author in self.marked(g.conv):
            return  # proven already: one proof per author is enough
        mine = self._id_at(g.conv, env.author, env.seq)
        if mine is None or mine == envelope_hash(env):
            return
        held = self._store().conversations.envelopes(g.conv, env.author, env.seq, env.seq)
        if held and is_equivocation(held[0], env):
            self._found(g, held[0], env, linked)

    def on_digest(self, g: GroupLike, link: PeerLink, record: GroupDigest) -> None:
        """A member's heads: where its id differs from ours at the same seq, each side sends
        the other its version (an explicit request, and ours served), so both hold the pair
        within this round."""
        marked = self.marked(g.conv)
        ours = {author: self._id_at(g.conv, author, seq) for author, seq, _ in record.heads
                if author not in marked}  # proven already: the peer's asking serves it
        for author, seq in mismatches(record, ours):
            self._outbox.queue(link, SyncRequest(conv=g.conv, author=author, first=seq,
                                                 last=seq))
            self._backlog.serve(link, g.conv, author, seq, seq, asked=True)

    def _id_at(self, conv: bytes, author: bytes, seq: int) -> bytes | None:
        head, head_id = self._conversations.log_of(conv).head(author)
        if seq > head:
            return None
        if seq == head:
            return head_id
        found = self._store().conversations.hashes(conv, author, seq, seq)
        return found[0] if found else None

    def _found(self, g: GroupLike, held: Envelope, other: Envelope,
               linked: Mapping[bytes, PeerLink]) -> None:
        db = self._store()
        if not db.groups.put_equivocation(g.conv, held.author, held.seq, encode_record(held),
                                   encode_record(other)):
            return  # known already
        self.marked(g.conv).add(held.author)
        self._outbox.schedule_flush()
        name = self._name_of(g, held.author)
        log.warning("%s equivocated in %s: two different signed messages at seq %d",
                    name, g.state.title, held.seq)
        # The evidence travels: members holding either version find the pair themselves.
        for link in linked.values():
            self._outbox.queue(link, held)
            self._outbox.queue(link, other)
        self._events.emit(equivocation_event(g, held, other, iso_from_ms(now_ms()),
                                             self._name_of))

    def notices(self, g: GroupLike) -> list[dict[str, Any]]:
        """The equivocations kept as evidence in group `g`, as log lines."""
        return notices(self._store(), g, self._name_of)


NameOf = Callable[[Any, bytes], str]


def equivocation_event(g: GroupLike, first: Envelope, second: Envelope, when: str,
                       name_of: NameOf) -> EquivocationEvent:
    """The `equivocation` event: the author, and both versions (ids, texts if we can read
    them, and the signed records themselves, hex, for anyone to check)."""
    name = name_of(g, first.author)
    versions = [_version(g, env) for env in (first, second)]
    return {
        "type": "equivocation",
        "group": g.conv.hex(),
        "title": g.state.title,
        "author": fingerprint(first.author),
        "author_name": name,
        "seq": first.seq,
        "found_at": when,
        "versions": versions,
        "text": notice_text(name, first.seq, versions),
    }


def _version(g: GroupLike, env: Envelope) -> dict[str, Any]:
    text: str | None
    try:
        text = decode_text(core.open_group_envelope(g.state, g.keys, env))
    except ProtocolError:
        text = None
    return {"id": envelope_hash(env).hex()[:32], "lamport": env.lamport,
            "sent_at": iso_from_ms(env.sent_at), "text": text,
            "record": encode_record(env).hex()}


def notices(db: Store, g: GroupLike, name_of: NameOf) -> list[dict[str, Any]]:
    """One line per proven equivocation, for the group's log (`p2pchat log GROUP`)."""
    out: list[dict[str, Any]] = []
    for author, seq, first, second, found in db.groups.equivocations(g.conv):
        try:
            a, b = decode_record(first), decode_record(second)
        except ProtocolError:
            continue
        if not isinstance(a, Envelope) or not isinstance(b, Envelope):
            continue
        event = equivocation_event(g, a, b, iso_from_ms(found), name_of)
        line: MessageEvent = {
            "type": "message", "notice": "equivocation",
            "id": f"equivocation-{author.hex()[:16]}-{seq}",
            "conversation": g.conv.hex(), "author": fingerprint(author),
            "author_name": NOTICE_NAME, "own": False, "status": None,
            "sent_at": event["found_at"], "group": g.state.title,
            "text": event["text"], "equivocation": event}
        out.append(cast(dict[str, Any], line))  # as the log's other lines
    return out


def notice_text(name: str, seq: int, versions: list[dict[str, Any]]) -> str:
    shown = " and ".join(f"\u201c{v['text']}\u201d" if v["text"] is not None else "(unreadable)"
                         for v in versions)
    return (f"{name} sent different members different versions of the same message"
            f" (#{seq}): {shown}. Both are signed by {name}: they told people different things.")
