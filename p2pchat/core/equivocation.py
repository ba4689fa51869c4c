"""Equivocation: an author who signed two different envelopes for one place in its log.

Each author's log is a hash chain, so two different envelopes at the same (group, author, seq),
both signed by the author, prove that it told members different things: nobody else can sign
for it, and an honest author writes each seq once. The pair is the evidence; any member can check
it alone, so members learn of it without trusting each other. Members find pairs by comparing
the envelope ids at each author's head (``GroupDigest``, each anti-entropy round) and by
comparing every copy they receive of an envelope they hold. docs/protocol.md section 8.12.
"""

from __future__ import annotations

from p2pchat.core.identity import verify_signature
from p2pchat.core.messages import SIG_LEN, Envelope, GroupDigest, envelope_hash
from p2pchat.core.record_fields import MAX_GROUP_ROWS

__all__ = ["digest", "is_equivocation", "mismatches"]


def is_equivocation(first: Envelope, second: Envelope) -> bool:
    """Whether two envelopes prove their author equivocated: same group, author and seq,
    different ids, and both signed by the author."""
    if (first.conv, first.author, first.seq) != (second.conv, second.author, second.seq):
        return False
    if envelope_hash(first) == envelope_hash(second):
        return False
    return all(len(env.sig) == SIG_LEN
               and verify_signature(env.author, env.sig, env.signing_bytes())
               for env in (first, second))


def digest(group: bytes, heads: dict[bytes, tuple[int, bytes]]) -> GroupDigest:
    """Our heads (author -> (seq, id)), as a GroupDigest (at most MAX_GROUP_ROWS authors, as
    many as a vector holds; past that the lowest keys: the most recent authors first would be a
    guess). A revision-3 peer gets the first 100 (`core/record_revisions.py`)."""
    listed = sorted((a, seq, h) for a, (seq, h) in heads.items() if seq > 0)[:MAX_GROUP_ROWS]
    return GroupDigest(group=group, heads=tuple(listed))


def mismatches(theirs: GroupDigest, ours_at: dict[bytes, bytes | None]
               ) -> list[tuple[bytes, int]]:
    """(author, seq) where the peer's id differs from ours; ``ours_at`` maps each author to
    our id at the peer's seq (None: we hold nothing there to compare)."""
    out = []
    for author, seq, their_id in theirs.heads:
        mine = ours_at.get(author)
        if mine is not None and mine != their_id:
            out.append((author, seq))
    return out
