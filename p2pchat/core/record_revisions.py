"""What a revision-3 peer can take (docs/protocol.md section 12), pure.

Revision 4 lets a group hold 1,024 members, so its records grow past what revision 3 decodes:
a record over 69,632 bytes, a vector of more than 256 authors, more than 100 heads or checkpoint
rows; and a revision-3 member refuses the op that takes a group past 64 members. A node sends
each record to a revision-3 peer in the form that peer decodes (`revision_3_form`), or not at
all, and no op past `revision_3_last_op` of the chain (the peer stops following there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pchat.core.messages import (
    GroupCheckpoint,
    GroupDigest,
    GroupInvite,
    GroupOpKind,
    Record,
    SyncVector,
)
from p2pchat.core.record_fields import (
    REVISION_3_RECORD_LEN,
    REVISION_3_ROWS,
    REVISION_3_VECTOR_AUTHORS,
)

if TYPE_CHECKING:
    from p2pchat.core.groups import GroupState

__all__ = ["REVISION_4", "revision_3_form", "revision_3_last_op"]

REVISION_4 = 4  # the revision that raised these limits
REVISION_3_MEMBERS = 64  # core/groups.py re-exports it; here so this module needs no import cycle


def revision_3_form(record: Record, size: int) -> Record | None:
    """``record`` (``size`` bytes encoded) as a revision-3 peer decodes it: itself, a digest cut
    to its first 100 heads (what revision 3 sent), or None when it cannot go to that peer."""
    if isinstance(record, GroupDigest) and len(record.heads) > REVISION_3_ROWS:
        return GroupDigest(group=record.group, heads=record.heads[:REVISION_3_ROWS])
    if size > REVISION_3_RECORD_LEN:
        return None
    if isinstance(record, SyncVector):
        return record if len(record.vector) <= REVISION_3_VECTOR_AUTHORS else None
    if isinstance(record, GroupInvite):
        return record if _revision_3_invite(record) else None
    if isinstance(record, GroupCheckpoint):
        return record if _revision_3_checkpoint(record) else None
    return record


def _revision_3_checkpoint(cp: GroupCheckpoint) -> bool:
    return (len(cp.members) <= REVISION_3_MEMBERS and len(cp.spans) <= REVISION_3_ROWS
            and len(cp.key_checks) <= REVISION_3_ROWS)


def _revision_3_invite(invite: GroupInvite) -> bool:
    if len(invite.heads) > REVISION_3_ROWS:
        return False
    count = 0
    if invite.checkpoint is not None:
        if not _revision_3_checkpoint(invite.checkpoint):
            return False
        count = len(invite.checkpoint.members)
    for op in invite.ops:
        count += _change(op.kind)
        if count > REVISION_3_MEMBERS:
            return False
    return True


def _change(kind: int) -> int:
    """How an op of ``kind`` changes the number of members."""
    if kind in (GroupOpKind.CREATE, GroupOpKind.ADD):
        return 1
    if kind in (GroupOpKind.REMOVE, GroupOpKind.LEAVE):
        return -1
    return 0


def revision_3_last_op(state: GroupState) -> int:
    """The last op of ``state``'s chain a revision-3 member can apply: the one before the first
    op (of those held) after which the group has more than 64 members. A chain whose checkpoint
    already has more gives ``state.base``: none of its held ops."""
    counts = []  # (op number, members after it), newest first
    count = len(state.members)
    for op in reversed(state.ops):
        counts.append((op.number, count))
        count -= _change(op.kind)
    if state.base and count > REVISION_3_MEMBERS:
        return state.base
    for number, after in reversed(counts):
        if after > REVISION_3_MEMBERS:
            return number - 1
    return state.number
