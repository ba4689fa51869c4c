"""A group's membership changes in words: the lines `log GROUP` shows (API `changes: true`) and
the `text` of the node's `group_changed` event, one wording for both so the chat screen shows
the same line live and after a restart.

An added member is "invited" until it is seen holding the group (its sync, an envelope it wrote):
then it "joined" (a line of its own, when we saw it). Its leave before that is a declined
invitation, not a member leaving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2pchat.core.identity import fingerprint
from p2pchat.core.messages import GroupOpKind
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.storage.store import Store

if TYPE_CHECKING:  # group_state names its events' lines with change_text
    from p2pchat.node.equivocations import NameOf
    from p2pchat.node.group_state import Group

_TEXT = {"add": "{who} {was} invited", "join": "{who} joined", "remove": "{who} {was} removed",
         "leave": "{who} left", "decline": "{who} declined the invitation",
         "transfer": "{who} now {own} the group", "admin": "{who} {be} now an admin",
         "unadmin": "{who} {be} no longer an admin", "create": "{who} started the group"}


def change_text(change: str, name: str, *, you: bool, by: str | None = None,
                declined: bool = False, stranger: bool = False) -> str:
    """One change as a line: `name` the member it concerns, `by` who invited (an add: "alice
    invited bob", "you invited bob"), `declined` for a leave before the member accepted.
    A `stranger` (a member not a contact) reads "~bob", as on the Members page: else a new
    key under a contact's name reads as that contact (trial 6, B5)."""
    if change == "leave" and declined:
        change = "decline"
    who = "you" if you else "~" + name if stranger else name
    if change == "add" and by is not None:
        return f"{by} invited {who}"
    return _TEXT.get(change, "{who} changed").format(
        who=who, was="were" if you else "was", own="own" if you else "owns",
        be="are" if you else "is")


def change_lines(db: Store, g: Group, limit: int | None,
                 me: bytes | None = None,
                 name_of: NameOf | None = None) -> list[dict[str, Any]]:
    """Joins, leaves, removals and admin changes as lines of the conversation (`log`), in the
    order we applied them; a removed member's last line says it was removed ("you were").
    `name_of(key)`: how an inviter is named (we are "you"); without it an add reads "bob was
    invited"."""
    rows = db.groups.changes(g.conv)
    joins = db.groups.joins(g.conv)
    out: list[dict[str, Any]] = []
    added: dict[bytes, int] = {}  # member -> number of the op that last added it
    contacts: dict[bytes, str | None] = {}  # a contact's name now, as its messages show it
    for number, at, change, member, name, by in rows:
        you = member == me
        if member not in contacts:
            held = db.contacts.get(member)
            contacts[member] = held.name if held is not None \
                and db.contacts.state_of(member) == "contact" else None
        name = contacts[member] or name  # else the name it was shown under then
        declined = False
        if change == "leave":
            add = added[member] if member in added else _added_at(g, member, number)
            declined = add is not None and add not in joins
        inviter = None
        if change == "add" and by is not None and name_of is not None:
            inviter = "you" if by == me else name_of(g, by)
        if change == "add":
            added[member] = number
        stranger = contacts[member] is None
        text = change_text(change, name, you=you, by=inviter, declined=declined,
                           stranger=stranger)
        out.append(_line(g, f"change-{number}", at, change, member, name, you, text,
                         declined=declined))
        if change == "add" and number in joins:
            out.append(_line(g, f"join-{number}", max(joins[number], at), "join", member, name,
                             you, change_text("join", name, you=you, stranger=stranger)))
    out.sort(key=lambda line: line["sent_at"])  # stable: a join after its invitation
    if limit is not None:
        out = out[-limit:] if limit else []
    return out


def _added_at(g: Group, member: bytes, before: int) -> int | None:
    """The op that last added `member` before op `before`, for one added before our own first
    line (a revision-6 member counts such a member joined only once told, protocol 8.17)."""
    for op in reversed(g.state.ops):
        if op.number < before and op.kind == GroupOpKind.ADD and op.subject == member:
            return op.number
    return None


def _line(g: Group, line_id: str, at: int, change: str, member: bytes, name: str, you: bool,
          text: str, declined: bool = False) -> dict[str, Any]:
    line = {"type": "message", "notice": "membership", "id": line_id,
            "conversation": g.conv.hex(), "author": fingerprint(member),
            "author_name": "group", "own": False, "status": None,
            "sent_at": iso_from_ms(at), "group": g.state.title, "change": change,
            "member": fingerprint(member), "member_name": name, "you": you, "text": text}
    if declined:
        line["declined"] = True
    return line
