"""Group gossip, pure: which member links get a group's envelopes pushed (one Plumtree tree per
author) and where an applied op goes. Split from core/groups.py, which re-exports both."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from p2pchat.core.messages import GroupOp, GroupPrune

if TYPE_CHECKING:
    from p2pchat.core.groups import GroupState

__all__ = ["GroupGossip", "op_targets"]


class GroupGossip:
    """Which of our member links get a group's new envelopes pushed (Plumtree, one tree per
    author).

    Every link starts eager for every author. An envelope that arrives again on an eager link
    shows that link is redundant for that author's envelopes: we stop pushing them on it and tell
    the peer (GroupPrune) to do the same. For a fixed author the first copy always arrives along
    a link nobody prunes, so the eager links left form a spanning tree of that author's pushes.
    Pruned links still swap vectors, and a SyncRequest on one (either way) makes it eager again,
    so when a tree breaks, the pull that repairs it also regrows it. Bounded: at most
    MAX_GROUP_OPS authors times the links we hold."""

    def __init__(self, group: bytes) -> None:
        self.group = group
        self._lazy: set[tuple[bytes, bytes]] = set()  # (author, peer)
        # Per peer: the highest op number it has shown us or we sent it, so a stale op (a
        # replay, or ops we pushed coming back) never makes us push the same ops again.
        self._ops_known: dict[bytes, int] = {}

    def push_targets(
        self, state: GroupState, links: Iterable[bytes], came_from: bytes | None, author: bytes
    ) -> list[bytes]:
        """Where to push an envelope of ``author`` we just accepted (or wrote): eager links to
        current members, except where it came from and its author."""
        return sorted(
            peer
            for peer in links
            if peer in state.members
            and peer not in (came_from, author)
            and (author, peer) not in self._lazy
        )

    def on_duplicate(self, peer: bytes, author: bytes) -> GroupPrune | None:
        """An envelope of ``author`` we already held came from ``peer``: the prune to send back,
        once."""
        if (author, peer) in self._lazy:
            return None
        self._lazy.add((author, peer))
        return GroupPrune(group=self.group, author=author)

    def on_prune(self, peer: bytes, author: bytes) -> None:
        self._lazy.add((author, peer))

    def on_request(self, peer: bytes, author: bytes) -> None:
        """A SyncRequest for ``author``'s log went to or came from ``peer``: push to it again."""
        self._lazy.discard((author, peer))

    def regrow(self) -> None:
        """A member went (removed or left): the trees that ran through it are broken, and the
        members it fed may have pruned everyone else. Every link is eager again; duplicates
        prune it back to a tree (Plumtree's graft on a lost neighbour)."""
        self._lazy.clear()

    def forget(self, peer: bytes) -> None:
        """The link closed: a new one starts eager and knows nothing of the peer's ops."""
        self._lazy = {entry for entry in self._lazy if entry[1] != peer}
        self._ops_known.pop(peer, None)

    def is_eager(self, peer: bytes, author: bytes) -> bool:
        return (author, peer) not in self._lazy

    def saw_op(self, peer: bytes, number: int) -> None:
        """``peer`` sent us op ``number`` (applied or not): it holds at least that far."""
        self._ops_known[peer] = max(self._ops_known.get(peer, 0), number)

    def ops_behind(self, state: GroupState, peer: bytes, number: int) -> tuple[GroupOp, ...]:
        """``peer`` sent our own op ``number`` (its head, on link start or after an OpGap): the
        ops that follow it, to send in order; nothing if we already sent or saw them."""
        if number < self._ops_known.get(peer, 0):
            return ()
        self._ops_known[peer] = state.number
        return state.ops_after(number) or ()  # dropped at a checkpoint: nothing to send

    def serving(self, peer: bytes, number: int, head: int) -> bool:
        """Whether to catch ``peer`` up from op ``number`` (below our checkpoint) to ``head``:
        not if we already did from there or it showed us it holds more (protocol 8.14)."""
        if number < self._ops_known.get(peer, 0):
            return False
        self._ops_known[peer] = head
        return True


def op_targets(
    before: GroupState, after: GroupState, links: Iterable[bytes], came_from: bytes | None
) -> list[bytes]:
    """Where to forward an op we just applied: every member linked, before or after it (so a
    removed member learns it is out), except where it came from. Ops are rare: plain flooding."""
    return sorted(
        peer
        for peer in links
        if (peer in before.members or peer in after.members) and peer != came_from
    )
