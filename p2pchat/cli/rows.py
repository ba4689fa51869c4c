"""List rows of `contacts`, `peers` and `group` that say what the chat screen says: a peer's
own name when it differs from ours for them, a fellow member who is not a contact by the name
they gave (marked ~), a group left as a row rather than an event (trial 5, B8, B9, B13)."""

from __future__ import annotations

import shlex
from typing import Any

from p2pchat.tui.sanitize import clean


def with_their_name(name: str, their_name: object) -> str:
    """"bob (calls themself Bobby)" after a /nick our name for them does not follow (B8)."""
    theirs = clean(their_name) if isinstance(their_name, str) else ""
    return f"{name} (calls themself {theirs})" if theirs and theirs != name else name


def peer_row(link: dict[str, Any]) -> str:
    """A live link as `peers` lists it: a group member not a contact as "~carol (4DUVTAL)
    group member", as the chat's Members page marks them, not a bare fingerprint (B9)."""
    path = link["address"] if link.get("relay") is None else f"via relay {link['relay']}"
    state = str(link["state"])
    name = clean(link["name"])
    if state == "group" and link.get("contact") != "contact":
        state = "group member"
        theirs = link.get("their_name")
        if isinstance(theirs, str) and theirs:
            name = f"~{clean(theirs)} ({clean(str(link['fingerprint']).split('-')[0])})"
    else:
        name = with_their_name(name, link.get("their_name"))
    return clean(f"{name:<20} {state:<8} {link['direction']:<8} {path}")


def left_group_row(group: dict[str, Any], *, said: bool = False) -> str:
    """A group left or removed from, as a row like the others (its history kept, and how to
    read or drop it), not the sentence `group leave` prints (`said`) (B13)."""
    title = clean(group["title"])
    if said:
        how = "You left" if group["role"] == "left" else "You were removed from"
        # The name form, as the group list's row says it (trial 9: the id here, '#title' there).
        return (f"{how} {title}  {group['group']}  (its history is kept:"
                f" p2pchat log {shlex.quote('#' + title)})")
    how = "left" if group["role"] == "left" else "removed"
    return (f"{title:<20} {how}  (history kept: p2pchat log {shlex.quote('#' + title)};"
            f" p2pchat group forget {shlex.quote(title)})")


def member_rows(members: list[dict[str, Any]], contacts: list[dict[str, Any]],
                nearby: set[str] | None) -> list[str]:
    """`group members`' rows, each member in `contacts`' words (core/contact_words.py): a
    contact as its own row says it, one who is not a contact "nearby" or "not linked", never
    a guessed "offline" (trial 13, B4: said of running nodes we had no link to)."""
    from p2pchat.core.contact_words import contact_presence, member_presence

    seen = nearby or set()
    own = {c["fingerprint"]: contact_presence(c, nearby=c["fingerprint"] in seen)
           for c in contacts if c.get("state") == "contact"}
    words = [member_presence({**m, "invited": False}, nearby=m["fingerprint"] in seen,
                             contact=own.get(m["fingerprint"])) for m in members]
    column = max(map(len, words), default=0)
    rows = []
    for m, word in zip(members, words, strict=True):
        marks = " (owner)" * m["owner"] + " (admin)" * m.get("admin", False) \
            + " (you)" * m["you"] \
            + " (caught lying: signed two versions of a message)" * m.get("equivocated", False)
        name = clean(m["name"]) if m.get("contact", True) else "~" + clean(m["name"])
        marks += " (invited, not joined yet)" * m.get("invited", False) \
            + " (not a contact: unverified)" * (not m.get("contact", True))
        rows.append(f"{name:<20} {word:<{column}} {m['fingerprint']}{marks}")
    return rows
