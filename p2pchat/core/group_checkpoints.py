"""Checkpoints, pure (docs/protocol.md 8.14): the state at op N as a record its signer signs, so a
member drops older ops (what it holds is bounded by the membership) and an invitation can start
there (core/groups.py's `invitation` and `join` use these)."""

from __future__ import annotations

import hmac
from dataclasses import replace

from p2pchat.core.group_errors import GroupError, NotOurChain, Unverifiable
from p2pchat.core.groups import (
    MAX_GROUP_ADMINS,
    MAX_GROUP_MEMBERS,
    GroupState,
    Span,
)
from p2pchat.core.identity import Identity, verify_signature
from p2pchat.core.messages import SIG_LEN, GroupCheckpoint, encode_record

__all__ = ["COMPACT_AT", "INVITE_OPS", "KEEP_OPS", "MAX_VOUCHES", "VOUCH_EVERY", "check_vouch",
           "checkpoint", "checkpoint_state", "compact", "root_at", "take", "vouch", "vouch_due"]


# --- checkpoints (8.14) ------------------------------------------------------------------------

KEEP_OPS = 64  # ops a member keeps after a checkpoint: how far behind a peer can catch up
COMPACT_AT = 128  # ops held that make a member take a checkpoint
# Ops an invitation from a checkpoint carries: with a checkpoint of 1,024 members and 2,048
# heads its worst case (about 600 KB) fits one record (MAX_RECORD_LEN, 1 MiB). A chain of at
# most MAX_GROUP_OPS ops from op 1 goes whole (revision 2).
INVITE_OPS = 48
KEEP_EPOCHS = 64  # key commitments a checkpoint keeps (of the last 64 epochs)
# Departed members' spans a checkpoint keeps: those closed in the last 32 epochs (each epoch
# closes at most one), so with 1,024 members' open spans a checkpoint has at most 1,057 span
# rows.
SPAN_EPOCHS = 32
# A manager signs the state at every op whose number is a multiple of this (a *vouch*), so a
# member who was away longer than its peers keep ops catches up from any member (8.14). Below
# KEEP_OPS, so a member still holds the ops after the latest vouch it kept, even if it missed one.
VOUCH_EVERY = 32
MAX_VOUCHES = 8  # vouches a member keeps per group: the highest numbers (several signers each)


def compact(state: GroupState, keep: int = KEEP_OPS) -> GroupState:
    """``state`` with every op but the last ``keep`` dropped: the state at the new base becomes
    the root; spans of departed members and key commitments older than KEEP_EPOCHS go."""
    if len(state.ops) <= keep:
        return state
    base = state.number - keep
    root = root_at(state, base)
    return replace(_pruned(state), ops=state.ops[-keep:], base=base, base_head=root.head,
                   root=root)


def root_at(state: GroupState, n: int) -> GroupState:
    """The state after op ``n`` as a checkpoint's root: no ops, pruned."""
    if n == state.base and state.root is not None:
        return state.root
    head = state.hash_at(n)
    if head is None:
        raise GroupError(f"op {n} is before our checkpoint")
    return _pruned(replace(state.state_at(n), ops=(), base=n, base_head=head, root=None))


def _pruned(state: GroupState) -> GroupState:
    oldest = state.epoch - SPAN_EPOCHS
    spans = {key: kept for key, spans in state.spans.items()
             if (kept := tuple(s for s in spans if s.last is not None and s.last >= oldest)
                 if key not in state.members else spans[-1:])}
    checks = {e: c for e, c in state.key_checks.items() if e >= state.epoch - KEEP_EPOCHS}
    return replace(state, spans=spans, key_checks=checks)


def checkpoint(root: GroupState, identity: Identity) -> GroupCheckpoint:
    """``root`` (a state whose ops were dropped) as a record ``identity`` signs."""
    unsigned = _unsigned(root, identity.public_key)
    return replace(unsigned, sig=identity.sign(unsigned.signing_bytes()))


def _unsigned(root: GroupState, signer: bytes) -> GroupCheckpoint:
    return GroupCheckpoint(
        group=root.group, number=root.number, head=root.head, title=root.title,
        owner=root.owner, admins=tuple(sorted(root.admins)), epoch=root.epoch,
        members=tuple((k, root.members[k], root.joined_at[k]) for k in sorted(root.members)),
        spans=tuple((k, s.first, s.last or 0, s.cut or 0) for k in sorted(root.spans)
                    for s in root.spans[k]),
        key_checks=tuple(sorted(root.key_checks.items())),
        signer=signer, sig=bytes(SIG_LEN))


def checkpoint_state(record: GroupCheckpoint) -> GroupState:
    """The root state a checkpoint describes, after checking its signature and its shape."""
    if not verify_signature(record.signer, record.sig, record.signing_bytes()):
        raise GroupError("checkpoint not signed by its signer")
    members = {key: name for key, name, _ in record.members}
    if record.owner not in members or not set(record.admins) <= set(members) \
            or len(members) > MAX_GROUP_MEMBERS or len(record.admins) > MAX_GROUP_ADMINS:
        raise GroupError("checkpoint: owner and admins must be members, within the limits")
    spans: dict[bytes, tuple[Span, ...]] = {}
    for key, first, last, cut in record.spans:
        span = Span(first) if last == 0 else Span(first, last, cut)
        spans[key] = (*spans.get(key, ()), span)
    if any(key not in spans or spans[key][-1].last is not None for key in members):
        raise GroupError("checkpoint: every member has an open span")
    return GroupState(
        group=record.group, title=record.title, owner=record.owner, epoch=record.epoch,
        members=members, ops=(), spans=spans, key_checks=dict(record.key_checks),
        joined_at={key: joined for key, _, joined in record.members},
        admins=frozenset(record.admins), base=record.number, base_head=record.head, root=None)


# --- vouches: catching up across a checkpoint (8.14) -----------------------------------------


def vouch_due(state: GroupState, me: bytes) -> bool:
    """Whether we sign the state we just reached: a manager, at a multiple of VOUCH_EVERY."""
    return state.number % VOUCH_EVERY == 0 and state.is_manager(me)


def vouch(state: GroupState, identity: Identity) -> GroupCheckpoint:
    """Our signed statement of the state at our head op (we are its owner or an admin)."""
    return checkpoint(root_at(state, state.number), identity)


def take(state: GroupState, record: GroupCheckpoint) -> GroupState:
    """The state a checkpoint ahead of our chain gives, if we may believe it (8.14): signed by
    a key that is the owner or an admin both in our state (as of our last op: a manager we
    know) and in the checkpoint. `Unverifiable` if its signer is not one we know (wait for
    another); `GroupError` for a forged or malformed one. The cheap checks come first."""
    if record.group != state.group:
        raise GroupError("a checkpoint of another group")
    if record.number <= state.number:
        raise NotOurChain(f"a checkpoint at op {record.number}, not ahead of ours")
    if not state.is_manager(record.signer):
        raise Unverifiable(f"a checkpoint at op {record.number} signed by a key that was not "
                           f"the owner or an admin at our op {state.number}")
    new = checkpoint_state(record)  # the signature and the shape
    if not new.is_manager(record.signer):
        raise GroupError("a checkpoint whose signer it does not name owner or admin")
    if new.epoch < state.epoch:
        raise GroupError(f"a checkpoint at epoch {new.epoch}, behind ours ({state.epoch})")
    return new


def check_vouch(state: GroupState, record: GroupCheckpoint) -> None:
    """Whether a checkpoint at an op we hold is a true statement of our chain there, signed by
    its owner or an admin at that op. `NotOurChain` for one at an op of another branch or one
    we no longer hold (nothing to keep, no lie); `GroupError` for a forged one."""
    if record.group != state.group:
        raise GroupError("a checkpoint of another group")
    held = state.hash_at(record.number)
    if held is None or not hmac.compare_digest(held, record.head):
        raise NotOurChain(f"a checkpoint at op {record.number}, not an op of our chain we hold")
    if not verify_signature(record.signer, record.sig, record.signing_bytes()):
        raise GroupError("checkpoint not signed by its signer")  # before the replay below
    root = root_at(state, record.number)
    if not root.is_manager(record.signer):
        raise GroupError(f"a checkpoint not signed by the owner or an admin at op "
                         f"{record.number}")
    expected = replace(_unsigned(root, record.signer), sig=record.sig)
    if encode_record(expected) != encode_record(record):
        raise GroupError(f"a checkpoint that does not match our chain at op {record.number}")
