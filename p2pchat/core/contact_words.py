"""How a contact is, in one word, from what the node says of it (`contacts.list`, docs/api.md)
and whether discovery sees its node: one rule for `p2pchat contacts`, the chat screen's
`/contacts` (`/names`) and its header, which add their details after the word (trial 12, B10:
the screen said "offline" where the CLI said "nearby" at the same moment; B15: `contacts add`
said "offline" of someone just asked)."""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ONLINE = "online"
ASKING = "asking"  # a request: their node asks us
ASKED = "asked, waiting"  # their node has our request (`awaits_answer`)
# Asked, and their node has not said it has the request: it waits in ours until their node is
# reached, as the header says (asked_header; trial 14b, B13: the list said "asked, waiting")
NOT_DELIVERED = "asked, not delivered"
NOT_LINKED = "not linked"  # their node closes our connection unanswered
NEARBY = "nearby"  # discovery sees their node, no link: "offline" would say they are away
OFFLINE = "offline"
WIDEST = max(len(w) for w in (ONLINE, ASKING, ASKED, NOT_DELIVERED, NOT_LINKED, NEARBY,
                               OFFLINE))


def contact_presence(contact: Mapping[str, Any], *, nearby: bool = False,
                     asked: bool = False) -> str:
    """`contact` as contacts.list gives it; `nearby`: discovery sees its node now; `asked`: we
    asked just now, before our node met theirs (its `awaits_answer` comes at the first knock).
    A knock our node makes on a node that has our request is `online` with `awaits_answer`:
    no link to chat on, so it is "asked, waiting" (docs/api.md); a contact whose node never
    said it has us (its `asked`, kept by the node across restarts: trial 12, B15) and has not
    said it has our request either is "asked, not delivered", unless its node closes us
    unanswered, which says more; one whose node had us (`asked` false) and
    takes us for a stranger now is "not linked" too: they removed us (`forgotten`)."""
    awaits = contact.get("awaits_answer") is True
    if chats(contact):
        return ONLINE
    if contact.get("state") == "contact":
        if awaits and contact.get("asked") is False:  # their node had us, and forgot us:
            return NOT_LINKED  # "no longer knows you", as the header says (trial 13b, B7)
        if awaits:
            return ASKED
        if contact.get("unanswered") is True:
            return NOT_LINKED
        if asked or contact.get("asked") is True:
            return NOT_DELIVERED  # their node not met, or met and not asked (`awaits`: above)
    if nearby:  # a requester too: seen here, "[request]" says the rest (trial 1, B14)
        return NEARBY
    return ASKING if contact.get("state") == "request" else OFFLINE


def chats(contact: Mapping[str, Any]) -> bool:
    """Linked as contacts, to chat on: a link, and their node has us. A link to a node that has
    our request (`awaits_answer`) is our knock, or a group's link to a node that removed us:
    no 1:1 link. The chat screen's "online" (its header, list and count) is this, as
    `p2pchat contacts` says it (trial 14a, B6: the screen said "online" beside "not linked")."""
    return bool(contact.get("online")) and contact.get("awaits_answer") is not True


SEES_REQUEST = "they see a request until they add you too"
NOT_REACHED = "the request waits here until"  # the start of `request_waits`


def request_waits(name: str, addr: str, *, somewhere: bool) -> str:
    """Our request to `name`, not delivered: their node has not answered (no `awaits_answer`,
    not linked), so it has not seen it; our node sends it when it reaches theirs (trial 14a,
    B18: "they see a request" was said of a node never reached). `addr`: the command that
    sets their address, with the name as it takes it; `somewhere`: an address was typed, or
    discovery sees their node, so it is being dialled; else nothing says where it runs. The
    chat's /add answer and `p2pchat contacts add` say it in these words."""
    head = f"{NOT_REACHED} {name}'s node is reached"
    if somewhere:
        return f"{head} (it is being dialled); they see it then"
    return (f"{head}: not found nearby and no address: {addr} HOST:PORT if you know where it"
            " runs, or both use the same relay")


def asked_header(name: str, delivered: bool) -> str:
    """A contact asked and not linked, in the chat's header: waiting for them once their node
    has the request (`awaits_answer`), else waiting for their node (trial 14a, B18)."""
    if delivered:
        return f"asked, waiting for {name} to accept"
    return f"asked: your request waits here until {name}'s node is reached"


INVITED = "invited, not joined yet"  # a group member added who has not said yes yet


def member_presence(member: Mapping[str, Any], *, nearby: bool = False,
                    contact: str | None = None) -> str:
    """A group member (`groups.members`, docs/api.md) in the words above: invited; online
    (linked, or us); a contact as `contacts` says it (`contact`: that word, when known); one who
    is not a contact: nearby when discovery sees its node, else "not linked". Our node links
    to only a few members who are not contacts, where it learns an address; the others' news
    comes through the rest, so nothing here knows whether their node runs: "offline" was said
    of running nodes (trial 13, B4)."""
    if member.get("invited"):  # linked maybe, but not in the group yet
        return INVITED
    if member.get("you") or member.get("online"):
        return ONLINE
    if member.get("contact") is not False:
        return contact or OFFLINE
    return NEARBY if nearby else NOT_LINKED


# Under a Members page that says "not linked" of a member who is not a contact.
NOT_LINKED_MEMBER = ("not linked: not your contact, and your node has no link to theirs (it"
                     " links to a few such members, where it learns an address): their"
                     " messages reach you through the others; whether their node runs is not"
                     " known here")


def still_has_you(again: str) -> str:
    """Under a request from a contact we removed whose node still has us (`after_removal`):
    `p2pchat contacts` and the chat's /contacts in one wording (trial 13, B4); `again`: the
    command that links again, as each says it."""
    return f"you removed them; their node still has you as a contact ({again} links you again)"


def forgotten(contact: Mapping[str, Any]) -> bool:
    """Their node accepted us once (`asked` false) and now has our request again: they
    removed us. Under the row: `p2pchat contacts` says it as the chat's header does."""
    return contact.get("state") == "contact" and contact.get("awaits_answer") is True \
        and contact.get("asked") is False


def unanswered(name: str, networks: Sequence[str] = (), waiting: Sequence[str] = ()) -> str:
    """Why `name`'s node closes our connection unanswered (`unanswered`), as the chat's header,
    row and /contacts and `p2pchat contacts` say it (trial 13c, B3: the chat blamed them, "may
    have removed you", for our own network, and the CLI said another thing). `networks`: the
    ones we are in; `waiting`: the ones we wait to be admitted to. In or joining one, our node
    dials them in it, and answers only contacts and members: a node not in it (not admitted, or
    not yet) cannot answer us there, which is said first; they may also not have us at all."""
    head = f"{name}'s node closes the connection unanswered"
    ours = list(networks) or list(waiting)
    if ours:
        where = "in" if networks else "waiting to join"
        nets = f"network {ours[0]}" if len(ours) == 1 else f"networks {', '.join(ours)}"
        return (f"{head}: you are {where} {nets} and {name} is not (or not yet) admitted to"
                f" it; or they do not have you as a contact (not yet, removed or blocked)")
    return (f"{head}: they may be in a closed network, or not have you as a contact (not yet,"
            " removed or blocked)")


def look_alike(name: str, me: str, contacts: Iterable[str]) -> str:
    """The mark after a stranger nearby (not our contact: another key) who goes by our own name
    or a contact's, as the list marks a request under a contact's name (trial 13c, B15: "3. bob"
    listed on bob's screen unmarked); "" for any other name."""
    fold = unicodedata.normalize("NFKC", name).casefold()
    if not fold:
        return ""
    if fold == unicodedata.normalize("NFKC", me).casefold():
        return " (not you: another key)"
    same = next((c for c in contacts if unicodedata.normalize("NFKC", c).casefold() == fold), "")
    return f" (not your contact {same}: another key)" if same else ""


def outside(near: Mapping[str, Any], networks: Sequence[str]) -> str:
    """The mark after a stranger nearby whose node is in none of the networks we are in (its
    advert is not a member's, `network` in the view): we see it, it does not see us, and no
    request goes either way (trial 14a, B8: listed by name, unmarked, in network club); ""
    outside any network, for a member, or a contact."""
    if not networks or near.get("network") or near.get("contact"):
        return ""
    return f" (not in {networks[0]})" if len(networks) == 1 else " (in none of your networks)"


def no_longer_knows(whose: str) -> str:
    """A contact whose node had us and takes us for a stranger now (`forgotten`), as the chat's
    header, row and /contacts and `p2pchat contacts` say it; `whose`: "their" or "carol's".
    Not "they see a request": a node that removed us keeps our request silently, its screen
    shows only the removed conversation (trial 14b, B10)."""
    return (f"{whose} node no longer knows you (they may have removed you); you are linked"
            " again once they add you")


FORGOTTEN = no_longer_knows("their")


def blocked(name: str, unblock: str) -> str:
    """What `contacts block` did, in a sentence (trial 13b, B11: a row called a blocked node that
    runs "offline"); `unblock`: the command that undoes it, before the name."""
    return (f"Blocked {name}: no links or requests from them; {unblock} {shlex.quote(name)}"
            " undoes it.")
