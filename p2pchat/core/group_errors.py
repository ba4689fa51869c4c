"""Group errors, pure: what a group record can be refused for (core/groups.py re-exports them)."""

from __future__ import annotations

from p2pchat.core.errors import ProtocolError

__all__ = ["ForkBelow", "GroupError", "MissingKey", "NotOurChain", "OpGap", "OpReplay",
           "UnknownEpoch", "Unverifiable"]


class GroupError(ProtocolError):
    """A group record that must be refused (bad signature, not a member, wrong chain, ...)."""


class OpGap(GroupError):
    """Ops are missing before this one: fetch them (send our head op to the sender), then apply."""


class OpReplay(GroupError):
    """An op at or below our number: ``same`` when it is our own copy (a harmless duplicate)."""

    def __init__(self, message: str, same: bool) -> None:
        super().__init__(message)
        self.same = same


class UnknownEpoch(GroupError):
    """An envelope or key of an epoch whose op we have not applied yet: drop it, sync ops first."""


class ForkBelow(GroupError):
    """An op at our number that does not chain to our op before it: the branches parted earlier
    (send the peer our op before this one, protocol 8.13)."""


class MissingKey(GroupError):
    """An authorised envelope whose epoch key we do not hold (ask with GroupKeyRequest)."""


class Unverifiable(GroupError):
    """A checkpoint ahead of our chain signed by a key that was not the owner or an admin when
    we last followed the chain: it may be genuine, but we cannot tell (protocol 8.14). Wait."""


class NotOurChain(GroupError):
    """A checkpoint at an op of another branch, or outside the ops we hold: not a lie, nothing
    to keep (forks and gaps are the op exchange's, protocol 8.13)."""
