"""Contacts the user removed: their 1:1 conversation is kept, titled with the name we last gave
them (so `log @NAME` finds it), and their node, which may still have us as a contact, asks to
connect again on its next link without them doing anything (protocol.md 7.1: a side that has
the other as a contact and hears `knows_you` false sends one ContactRequest). Such a request
comes from the key we knew, not a new one under a known name: it is kept (bounded as every
request) under our name for them and marked `after_removal`, so a screen keeps it quiet
(issue 23, trial B3/B4: a fresh "asks to connect" at once, under their own name).

A 1:1 conversation exists only for a key that was a contact (added or accepted: node/trust.py;
only contacts write to one), so "a request whose conversation we hold" is one after a removal:
nothing more is stored to know it.
"""

from __future__ import annotations

from p2pchat.storage.store import Contact, Conversation, Store


def remove_keeping_name(db: Store, contact: Contact) -> None:
    """A contact goes; its kept history keeps its name, for `log @NAME` (trial 6, B8)."""
    db.contacts.remove(contact.key)
    db.announced.forget(contact.key)
    conv = db.conversations.for_peer(contact.key)
    if conv is not None:
        db.conversations.set_title(conv.id, contact.name)
        db.conversations.came_by(conv.id, contact.created_at)


def since(db: Store, contact: Contact) -> int:
    """When the conversation with `contact` came to be (unix ms): a removed contact's, added
    again (or asking again, or unblocked), is the same conversation and keeps its time, so
    the screens' list numbers stay put across restarts (trial 14b, B4)."""
    conv = kept_conversation(db, contact.key)
    return contact.created_at if conv is None else min(contact.created_at, conv.created_at)


def kept_conversation(db: Store, key: bytes) -> Conversation | None:
    """The 1:1 conversation kept with `key` (a removed contact's, or anyone's we ever had)."""
    conv = db.conversations.for_peer(key)
    return conv if conv is not None and conv.kind == "dm" else None


def after_removal(db: Store, contact: Contact) -> bool:
    """A request from a key whose contact we removed: we still hold its conversation."""
    return contact.state == "request" and kept_conversation(db, contact.key) is not None


def kept_name(db: Store, key: bytes) -> str | None:
    """The name we last gave `key` as a contact (its kept conversation's title), unless
    another contact has that name now."""
    conv = kept_conversation(db, key)
    if conv is None or not conv.title:
        return None
    holder = db.contacts.by_name(conv.title)
    return conv.title if holder is None or holder.key == key else None
