"""What an event says on the chat screen in words: a group change, a network admission. Kept
beside `ChatState` (tui/state.py), through its public methods, so the view-model stays one job."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from p2pchat.event_types import (
    ContactRequestEvent,
    GroupEvent,
    KeyMismatchEvent,
    PeerRenamedEvent,
    StorageEvent,
)
from p2pchat.tui.conversation import group_label
from p2pchat.tui.notice_ageing import NODE_DOWN, REACH
from p2pchat.tui.sanitize import clean

if TYPE_CHECKING:
    from p2pchat.tui.conversation import Conversation
    from p2pchat.tui.state import ChatState


# Seconds after "you joined" a group in which others' invitations and joins are the chain
# catching up (what happened before you joined, learned only now): lines in the conversation,
# no news on the row; a removal or a leave is news still (trial 13b, B8: "carol invited ~dave"
# told as new, dave had joined before you)
CATCH_UP_QUIET = 30.0

# What /group create said ("created crew and invited bob (they join when they accept)"):
# untrue once one it invited answers, whose news says the rest (session 35)
CREATED = "created:"


def group_key(group: str, change: str, who: str) -> str:
    """One notice per group change, whether the command or the node's event says it first."""
    return f"group:{group}:{change}:{who.casefold()}"


def member_notice(state: ChatState, group: str, change: str, who: str, text: str,
                  member: tuple[str, str] = ("", "")) -> None:
    """One notice per member of a group, the newest: "you removed bob from team" replaces
    "you invited bob (team)" and "bob joined (team)" (trial 12, B7); the same change said
    again (the command's answer, then the node's event) is said once."""
    key = group_key(group, change, who)
    if change == "add" and any(n.key == group_key(group, "join", who) for n in state.notices):
        return  # told after the join (a catch-up): the older news
    drop_member_news(state, group, who, keep=key)
    if change != "add":
        state.drop_notices(key=f"{CREATED}{group}")
    state.notice("info", text, key=key, member=member)


def kept_role(conv: Conversation, role: str) -> str:
    """The role an invitation to a group hides ("removed", "left"): what it is again when
    the invitation goes unanswered (trial 13b, B2)."""
    if role == "invited":
        return conv.state if conv.state in ("removed", "left") else conv.kept_role
    return conv.kept_role if role in ("removed", "left") else ""


def invitation_closed(state: ChatState, event: Mapping[str, Any]) -> set[str]:
    """An invitation answered or gone (a group forgotten too), here or from the CLI: its
    notice goes; a group we were in before it (removed, history kept) goes back to that,
    re-read from the node, rather than off the list (trial 13b, B2); anything else goes."""
    gid = clean(event.get("group"))
    state.drop_notices(key=f"invite:{gid}")  # trial 4, 18
    if event.get("reason") == "accepted":
        return set()
    conv = state.conversations.get(gid)
    if event.get("type") == "group_invitation_closed" and conv is not None \
            and conv.kept_role:
        conv.state = conv.note = conv.kept_role
        return {"groups"}
    state.forget(gid)
    return set()


def drop_member_news(state: ChatState, group: str, who: str, keep: str = "") -> None:
    """The notices of what became of `who` in `group` but `keep`: newer news came (an
    invitation after "declined the invitation to team" or "you left team": session 35)."""
    start, end = f"group:{group}:", f":{who.casefold()}"
    for notice in list(state.notices):
        change_said = notice.key[len(start):-len(end)]  # "add" of "group:G:add:bob"
        if notice.key != keep and notice.key.startswith(start) and notice.key.endswith(end) \
                and len(notice.key) > len(start) + len(end) and ":" not in change_said:
            state.drop_notices(key=notice.key)


def invited_news(state: ChatState, conv: Conversation, by: str) -> None:
    """An invitation to the group `conv`, keyed: it goes when answered, here or from the CLI.
    The group named as the list and questions name it: "#carol" where a contact is called carol
    too (trial 14b, B9: "invites you to the group carol" beside "? #carol" in the list)."""
    drop_member_news(state, conv.id, "you")  # "declined ...", "you left ..."
    label = group_label(state.conversations.values(), conv)
    state.notice("request", f"{by} invites you to the group {label} (/group accept {conv.name},"
                            f" /group decline {conv.name})", key=f"invite:{conv.id}")


def group_news(state: ChatState, event: GroupEvent) -> None:
    """Joined, or someone came or went: the side panel, one notice (the command that did
    it may have said it already), and a line in the group's conversation."""
    conv = state.upsert_group(event)
    if conv is None:
        return
    if event.get("type") == "group_joined":
        by = clean(event.get("by_name"))
        # As `log` says it (you accepted: nobody "added" you), one notice with /group accept's
        label = group_label(state.conversations.values(), conv)
        member_notice(state, conv.id, "join", "you",
                      f"you joined {label} ({by} invited you; /msg {label})")
        conv.joined_clock = state.clock()
        number = event.get("number")
        if isinstance(number, int) and not isinstance(number, bool) and number > 0:
            # The two lines `log` keeps for it (node/group_lines.py), with their ids.
            state.add_line(conv, f"{by} invited you", line_id=f"change-{number}")
            state.add_line(conv, "you joined", line_id=f"join-{number}")
        else:
            state.add_line(conv, f"{by} invited you; you joined")
        return
    who = "you" if event.get("you") else clean(event.get("member_name"))
    kind = clean(event.get("change"))
    said = clean(event.get("text"))
    if said:  # the node's words, as `log` (and the screen after a restart) says it
        number = event.get("number")
        line_id = f"{'join' if kind == 'join' else 'change'}-{number}" \
            if isinstance(number, int) and not isinstance(number, bool) and number > 0 else None
        if line_id is not None and conv.find(line_id) is not None:
            # Told before (its line is there): the node saying it again (a join seen anew
            # after a concurrent change, a catch-up) is no news, and must not bring back a
            # notice that aged (trial 7, 18: joins stayed on the row for minutes).
            return
        joined = conv.joined_clock
        catching_up = who != "you" and kind in ("add", "join") and joined is not None \
            and state.clock() - joined < CATCH_UP_QUIET
        # Our invitation: its request notice, then "you joined" say it; a third notice for
        # one accept was one too many (trial 10, B9)
        if not (kind == "add" and who == "you") and not catching_up:
            label = group_label(state.conversations.values(), conv)
            member_notice(state, conv.id, kind, who, removal_words(event, who, label)
                          if kind == "remove" else f"{unverified(said, event)} ({label})",
                          _member(event))
        state.add_line(conv, said, line_id=line_id, at=clean(event.get("sent_at")),
                       about=event)
        return
    change = {"add": "was invited to", "join": "joined",
              "remove": "were removed from" if who == "you" else "was removed from",
              "leave": "declined the invitation to" if event.get("declined") else "left",
              "transfer": "now own" if who == "you" else "now owns",
              "admin": "are now an admin of" if who == "you" else "is now an admin of",
              "unadmin": "are no longer an admin of" if who == "you"
              else "is no longer an admin of"}
    text = f"{who} {change.get(kind, 'changed in')} {conv.name}"
    label = group_label(state.conversations.values(), conv)
    member_notice(state, conv.id, kind, who, text[:-len(conv.name)] + label, _member(event))
    state.add_line(conv, text, about=event)


def removal_words(event: GroupEvent, who: str, label: str) -> str:
    """A removal said one way from each point of view, whichever of the command's answer and
    the node's event comes first (trial 11, B13: "removed Carol S from climbing", then "bob was
    removed (climbing)"): "you removed bob from climbing", "bob was removed from climbing by
    alice", "you were removed from climbing by alice"."""
    by = clean(event.get("by_name"))
    if by == "you":
        return f"you removed {who} from {label}"
    removed = "you were" if who == "you" else unverified(f"{who} was", event)
    return f"{removed} removed from {label}" + (f" by {by}" if by else "")


NICK = "nick:self"  # the notice of our own new name: one, whoever changed it


def self_renamed(state: ChatState, name: str) -> set[str]:
    """Our name changed, maybe from the CLI: said, and the status line reads it again (trial
    11, B13 e: `p2pchat nick X` showed nothing on the open screen). A /nick typed here says
    it itself (the controller), so not twice; what to read again. A newer name replaces what
    was said of the last (trial 12, B5b: "Dave D" stayed after `p2pchat nick dave`)."""
    if name and name != state.me.name:
        state.drop_notices(key=NICK)
        state.notice("info", f"you are now called {name}", key=NICK)
    return {"status"}


def renamed_in_notices(state: ChatState, fingerprint: str, name: str, old: str = "") -> None:
    """The notice row names a renamed contact as the conversation's lines do (trial 7, 18:
    "removed carol from bob" stayed after /rename carol caz). A request's notice (its NEW
    KEY warning too) names it as the list does, so the commands it suggests work as printed
    (trial 14c, B1: "/verify bob (AYWKDPS)" after it renamed itself carol)."""
    said = re.compile(rf"(?<!\w){re.escape(old)}(?!\w)") if old and old != name else None
    state.notices = deque((replace(n, text=said.sub(lambda _: name, n.text))
                           if said is not None and n.key == f"request:{fingerprint}"
                           else n.renamed(fingerprint, name) for n in state.notices),
                          maxlen=state.notices.maxlen)


def renamed_namesake(state: ChatState, old: str, name: str) -> None:
    """A VERIFIED contact renamed: a NEW KEY warning (a request under their old name) names
    them as they are now (trial 13c, B9: "not the bob you VERIFIED" after /rename bob "Bob B",
    no contact bob any more). Contact names are unique, so "the OLD you VERIFIED" is them."""
    said = f" NEW KEY, not the {old} you VERIFIED."
    for conv in state.conversations.values():
        if conv.impostor_of == old:
            conv.impostor_of = name
    state.notices = deque((replace(n, text=n.text.replace(said, f" NEW KEY, not the {name}"
                                                             " you VERIFIED."))
                           if n.key.startswith("request:") and said in n.text else n
                           for n in state.notices), maxlen=state.notices.maxlen)


def _member(event: GroupEvent) -> tuple[str, str]:
    """Whom a membership notice names (not us): renamed there when they are."""
    if event.get("you"):
        return "", ""
    return clean(event.get("member")), clean(event.get("member_name"))


JOINING = "joining "  # how /network join's answer starts while it waits (network_commands.py)


def admission_news(state: ChatState, event: Mapping[str, Any]) -> None:
    """A network we waited for: admitted, or refused (its passphrase, most likely)."""
    joined = [clean(n) for n in event.get("networks") or []]
    refused = [clean(n) for n in event.get("refused") or []]
    for name in joined:
        if name in state.networks_waiting or name in state.networks_refused:
            state.drop_notices(key=f"admission:{name}")
            state.drop_notices(mentioning=(name, "refused"))  # its refusal, however worded
            state.drop_notices(mentioning=(name, "admitted you"))
            state.notice("info", f"admitted to {name}", key=f"admission:{name}")
    for name in refused:
        if name not in state.networks_refused:
            # Refused once more after a join typed again: said as new, on the row and in
            # /notices (trial13a 18 e: the same words read as the old refusal kept)
            again = " (again, with the passphrase just typed)" if any(
                n.key == f"admission:{name}" and n.text.startswith(JOINING)
                for n in state.notices) and any(
                said.startswith(f"{name}: no node nearby admitted you")
                for _, _, said in state.said) else ""
            state.drop_notices(key=f"admission:{name}")
            # A node not in the network says no as a member does to a wrong passphrase
            # (docs/protocol.md 10.7): never "wrong passphrase" for sure (trial 11).
            state.notice("warning", f"{name}: no node nearby admitted you{again}: either"
                                   f" nobody here is in {name} yet, or the passphrase is wrong"
                                   " (check it"
                                   f" with whoever created {name}); waiting, /network join"
                                   f" {name} PASSPHRASE to try another",
                        key=f"admission:{name}")
    if joined != state.networks:
        state.networks = joined
        networks_changed(state)
    state.networks_waiting = [clean(n) for n in event.get("waiting") or []]
    state.networks_refused = refused
    drop_left_networks(state)


def admission_waiting_news(state: ChatState, event: Mapping[str, Any]) -> None:
    """Why a join still waits (trial 13, 15): the members heard limit guesses from this
    address (every node on one machine shares it), or no node with a network is heard."""
    name = clean(event.get("network"))
    if name not in state.networks_waiting:
        return
    seconds = event.get("seconds")
    if event.get("reason") == "limited" and isinstance(seconds, int):
        count = event.get("limiting")
        nodes = "the node nearby limits" if count == 1 else "the nodes nearby limit"
        text = (f"joining {name}: {nodes} guesses from this address (wrong passphrases came"
                f" from it before), so nothing is said about this one yet; asking again in"
                f" {seconds} s")
    elif event.get("reason") == "none_heard":
        text = (f"joining {name}: waiting for a member nearby to admit you, and no node of a"
                f" network is heard nearby yet: a member must run with discovery on; /network"
                f" join {name} --via HOST:PORT PASSPHRASE asks one by its address")
    else:
        return
    key = f"admission:{name}"
    # The join's answer, or the last word on it, made more precise: it replaces that one on
    # the row and in /notices, with the node's warnings said with it (trial 13c, B13: one join
    # gave two different answers in a row in /notices)
    old = next((n for n in state.notices if n.key == key and n.text.startswith(JOINING)), None)
    kind = "info"
    if old is not None:
        text = ". ".join([text, *old.text.split(". ", 1)[1:]])
        kind = old.kind
        at = next((i for i in range(len(state.said) - 1, -1, -1)
                   if state.said[i][2] == old.text), None)
        if at is not None:
            del state.said[at]
    state.drop_notices(key=key)
    state.notice(kind, text, key=key)


RECONNECTED = "reconnected to the node"  # a passing note (the status line says it after)
ATTACHED = "attached"  # the note that a running node ignored the options typed (tui/main.py)


def node_gone(state: ChatState) -> None:
    """The node stopped: what was said about that node goes with it (trial 6, B18: "Your node
    was already running (pid N), so --relay did nothing" stayed after it stopped)."""
    state.drop_notices(key=ATTACHED)
    # Untrue now (a stop and start again said it twice); unkeyed, it goes in two minutes
    state.drop_notices(mentioning=(RECONNECTED,))
    state.notice("warning", "the node stopped; reconnecting when it is back", key=NODE_DOWN)


def contact_gone(state: ChatState, conv: Conversation) -> None:
    """A contact no longer ours: why they seemed offline and "they see a request" are untrue
    (session 35: they stayed after `contacts remove`)."""
    state.drop_notices(key=f"{REACH}{conv.id}")
    state.drop_notices(key=f"pending:{conv.id}")
    conv.unreachable = ""


def drop_about(state: ChatState, conversation: str, group: bool) -> None:
    """A conversation forgotten: the notices about it go with it (trial 6, 18: "you were removed
    (climb)" stayed after "forgot climb and its history")."""
    state.drop_notices(key=f"request:{conversation}")
    for about in ("group", "invite") if group else ():
        state.drop_notices(key=f"{about}:{conversation}")


NETWORKS = "networks"  # what /network said our networks are ("left club; networks: none")
CHECK_CODE = "check-code:"  # "every member sees the same check code", while in that network


def networks_key(names: list[str]) -> str:
    """The key of what /network said, naming the networks it said we are in."""
    return f"{NETWORKS}:" + "\n".join(sorted(names))


def drop_left_networks(state: ChatState) -> None:
    """A network we are no longer in nor joining says nothing any more: its admission notice
    ("refused your passphrase ... /network join club PASSPHRASE") stayed hidden behind newer
    notices after `/network leave club` and showed again when those aged (trial 6, B2)."""
    ours = {*state.networks, *state.networks_waiting, *state.networks_refused}
    for notice in list(state.notices):
        name = notice.key.removeprefix("admission:")
        if notice.key.startswith("admission:") and name not in ours:
            state.drop_notices(key=notice.key)
            state.drop_notices(mentioning=(name, "refused"))
            state.drop_notices(mentioning=(name, "admitted you"))


def networks_changed(state: ChatState) -> None:
    """The node's networks changed (a join or leave from the CLI while the screen is open):
    what /network said of them is untrue ("joined club; networks: club" and club's check
    code stayed after `p2pchat network leave club`, session 35). Only on a change: a status
    read before the node finished a join must not take its fresh answer."""
    said = networks_key(state.networks)
    for notice in list(state.notices):
        if (notice.key.startswith(f"{NETWORKS}:") and notice.key != said) or \
                (notice.key.startswith(CHECK_CODE)
                 and notice.key.removeprefix(CHECK_CODE) not in state.networks):
            state.drop_notices(key=notice.key)


def guesses_news(state: ChatState, event: Mapping[str, Any]) -> None:
    """Wrong passphrases asking our node to admit them, past an address's free tries: one
    notice per address, gone when it proves the passphrase after all."""
    if event.get("type") == "admission_waiting":  # our own join, not guesses at ours
        admission_waiting_news(state, event)
        return
    source = clean(event.get("source"))
    key = f"guesses:{source}"
    warned = [n for n in state.notices if n.key == key and n.part == 0]
    state.drop_notices(key=key)
    if event.get("cleared"):
        # Not dropped unread: a warning stays to be seen, in its true words now, for an
        # informational notice's time (trial13a 18 g: another joiner on the same address
        # proved the passphrase seconds later, and the warning was never on the row)
        for notice in warned[:1]:
            state.notice("info", notice.text.split(": most likely")[0] + ", then the right"
                                 " one: a mistyped passphrase, not a guess")
        return
    failed = event.get("failed")
    count = str(failed) if isinstance(failed, int) and 0 < failed < 10**6 else "several"
    network = clean(event.get("network"))  # absent from older nodes
    what = f"wrong passphrases for your network {network}" if network \
        else "wrong network passphrases"
    state.notice("warning", f"{count} {what} from {source}: most likely a"
                            " mistyped passphrase, else someone guessing (each try waits"
                            " longer; nobody gets in without the passphrase)", key=key)


def request_news(state: ChatState, request: ContactRequestEvent) -> None:
    """Someone asks to connect: listed, and one notice that ends in its commands. A new key
    under the name of a contact we VERIFIED (Signal's "safety number changed") is one loud
    notice short enough to show its commands in three rows of an 80-column screen (round 2,
    2: the warning and the request were two notices, and the commands were cut off); the
    conversation shows the warning in full."""
    fp = clean(request.get("fingerprint"))
    state.cleared.discard(f"request:{fp}")  # asked anew: said, whatever Esc cleared before
    name = clean(request.get("name")) or fp[:7]
    conv = state.upsert_contact({"fingerprint": fp, "name": name, "state": "request",
                                 "note": request.get("note") or "", "online": False,
                                 "same_name_as": request.get("same_name_as"),
                                 "same_name_verified": request.get("same_name_verified"),
                                 "after_removal": request.get("after_removal")})
    if conv is not None and conv.asks_again:  # their node asks by itself: no news (B4)
        return
    namesake = state.conversations.get(clean(request.get("same_name_as")))
    tag = "" if fp[:7] in name else f" ({fp[:7]})"  # a namesake's name has it already
    if namesake is not None and (request.get("same_name_verified") or namesake.verified):
        state.notice("warning", f"WARNING: {name}{tag} asks to connect: a NEW KEY, not the"
                                f" {namesake.name} you VERIFIED. /verify {name} first,"
                                f" /block {name} or /accept {name}", key=f"request:{fp}")
        return
    note = clean(request.get("note"))
    state.notice("request", f"{name}{tag} asks to connect{': ' + note if note else ''}"
                            f" (/accept {name}, /block {name}, or /verify {name} first)",
                 key=f"request:{fp}")


def requests_again(state: ChatState) -> None:
    """A request still unanswered is said again, as the newest notices, after what was said
    since it (trial 12: after "reconnected to the node" the NEW KEY warning had gone off the
    row's rows while the request was pending). Moved, not repeated: one per request."""
    pending = [n for n in state.notices if n.key.startswith("request:")]
    if pending:
        state.notices = deque([n for n in state.notices if not n.key.startswith("request:")]
                              + pending, maxlen=state.notices.maxlen)


def port_news(state: ChatState, status: Mapping[str, Any]) -> None:
    """The node could not listen on last time's port (taken): friends who typed the old
    address need the new one (trial 4, 16). Keyed: said once however often status is read."""
    moved = status.get("port_changed_from")
    if isinstance(moved, int) and not isinstance(moved, bool):
        state.notice("error", f"listening on a new port: {moved} (last time's) was taken;"
                     " friends who typed your address need the new one (/id shows it)",
                     key="port_changed")


def unverified(said: str, event: Mapping[str, Any]) -> str:
    """A membership notice names a member who is not a contact "~dave", as the Members page
    does ("dave joined" read as the contact dave; trial 5, B9)."""
    name = clean(event.get("member_name"))
    if event.get("member_contact") is not False or event.get("you") or not name:
        return said
    if said.startswith(name + " "):
        return "~" + said
    return said[:-len(name)] + "~" + name if said.endswith(" " + name) else said


def nick_news(state: ChatState, event: PeerRenamedEvent) -> None:
    """A contact's new nick replaces what was said of their last one, and a nick already told
    is not told again (trial 9, B3: "/nick Bobby" then "/nick bob" kept the Bobby notice, and
    it came back later). Back to the name we call them by, there is nothing to say (trial 10,
    B8)."""
    fp, name = clean(event.get("fingerprint")), clean(event.get("name"))
    theirs = clean(event.get("their_name"))
    if state.told_names.get(fp) == theirs:
        return
    state.told_names[fp] = theirs
    key = f"renamed:{fp}"
    state.drop_notices(key=key)
    if theirs.casefold() == name.casefold():  # back to our name for them: nothing to say
        return
    said = f"{name} now calls themself {theirs!r}"
    if event.get("yours") or theirs.casefold() == state.me.name.casefold():  # trial 14b, B5
        state.notice("warning", f"{said}, your own name: they are not you", key=key)
        return
    other = next((c for c in state.conversations.values() if c.kind == "dm" and c.id != fp
                  and c.name.casefold() == theirs.casefold()), None)
    namesake = clean(event.get("namesake")) or (other.name if other else "")
    if namesake:
        # The name of another contact (ours for them, or their own: the node says): a rename
        # to it is refused, and they are not that contact (trial 11, B9: the hint led to "you
        # already have a contact named 'bob'"; trial 14b, B5: "Carol S" calls herself carol).
        verified = event.get("namesake_verified") if "namesake" in event \
            else other is not None and other.verified
        how = "verified" if verified else "not verified"
        state.notice("warning", f"{said}, the name of your contact {namesake} ({how}): they"
                                f" are not {namesake}", key=key)
        return
    conv = state.conversations.get(fp)
    if (clean(event.get("state")) or (conv.state if conv else "")) != "contact":
        state.notice("info", said, key=key)  # a request, never accepted: nothing to rename
        return
    state.notice("info", f"{said} (/rename {name} {theirs} to call them that too)", key=key)


def key_mismatch(state: ChatState, mismatch: KeyMismatchEvent) -> None:
    pinned = state.find(clean(mismatch.get("name")))
    if pinned is not None and pinned.verified:
        state.notice("warning", f"WARNING: {pinned.name} is a contact you VERIFIED.")
    state.notice("warning",
                 f"WARNING: the peer at {clean(mismatch.get('address'))} presented key"
                 f" {clean(mismatch.get('presented'))}, not the one pinned for"
                 f" {clean(mismatch.get('name'))}. Refused: someone may be impersonating"
                 " them. Compare safety numbers in person (/safety NAME).")


def storage_news(state: ChatState, storage: StorageEvent) -> None:
    if storage.get("state") == "ok":
        state.notice("info", "storage works again; missed messages are being fetched")
    else:
        state.notice("warning", f"cannot save to disk: {clean(storage.get('error'))}."
                                " Nothing unsaved is acknowledged; retrying.")
