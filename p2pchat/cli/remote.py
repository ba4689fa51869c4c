"""The commands that ask the running node over its control socket: status, contacts, send,
log, search, group, peers, network, nick and safety. Reads fall back to the store itself when
no node runs (the identity is unlocked for that)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.cli.contact_said import said_contact
from p2pchat.cli.contact_warnings import check_accept, impostor_warning, lookalike_note
from p2pchat.cli.group_create import refused_create
from p2pchat.cli.group_said import said_group, said_member
from p2pchat.cli.identity import load_identity, public_identity
from p2pchat.cli.node_reads import nearby, networks, print_closed
from p2pchat.cli.output import UserError, fail, peer_lines, print_json
from p2pchat.cli.rows import left_group_row, member_rows, peer_row, with_their_name
from p2pchat.cli.send_input import line_batches, stdin_message
from p2pchat.core import contact_words
from p2pchat.core.contact_words import OFFLINE, contact_presence, outside, still_has_you
from p2pchat.core.group_words import NOT_A_CONTACT
from p2pchat.core.text import group_size, hidden_nearby
from p2pchat.network_command import waiting_lines
from p2pchat.settings import mdns_words, said_from
from p2pchat.tui.sanitize import clean

ACCEPT_LINK_WAIT = 3.0  # seconds `contacts accept` waits for a link before saying there is none


def _check_home(home: Path) -> None:
    if not home.is_dir():
        fail(f"there is no p2pchat home at {home}: create one with"
              f" 'p2pchat --home {home} init', or give the right --home")


_NO_NODE = object()


def _ask_node(args: argparse.Namespace, method: str, params: dict[str, Any], *,
              offline: bool = False) -> Any:
    """`method` on the running node; with `offline`, _NO_NODE when none is running."""
    from p2pchat.control_client import ControlClient, ControlError

    _check_home(args.home)
    try:
        with ControlClient(args.home) as client:
            return client.call(method, **params)
    except ControlError as exc:
        if exc.code == "new_key":  # the node's impostor rule, in the CLI's words (--anyway)
            check_accept(args, _call(args, "contacts.list"))
        if not (offline and exc.code == "no_node"):
            fail(str(exc))
    except OSError as exc:
        fail(f"cannot talk to the node: {exc}")
    return _NO_NODE


def _call(args: argparse.Namespace, method: str, **params: Any) -> Any:
    return _ask_node(args, method, params)


def _read(args: argparse.Namespace, method: str, **params: Any) -> Any:
    """A read-only method: from the running node, or, with none, from the store itself."""
    result = _ask_node(args, method, params, offline=True)
    if result is not _NO_NODE:
        return result
    # No node: read the store. Only now, since these load most of the node's code.
    from p2pchat.node.config import CommandError
    from p2pchat.offline import OfflineReader
    from p2pchat.storage import keystore

    header = keystore.read_header(args.home)
    body_key = None
    if method not in ("contacts.list", "file.list"):  # texts (and group ops) are sealed with
        # a key from the identity; contacts and transfers are not
        body_key = load_identity(args.home, args).identity.derive_key("store")
    try:
        with OfflineReader(args.home, header.public_key, header.name, body_key) as reader:
            return reader.call(method, **params)
    except CommandError as exc:
        fail(str(exc))


_VISIBLE = {  # status["visible_to"]: what our mDNS advert shows, in words
    "everyone": "nearby: visible to everyone on this network, by name",
    "contacts": "nearby: private, recognisable only by your contacts",
    "networks": "nearby: visible only to the members of your networks",
    "nobody": "nearby: hidden from everyone (waiting to be admitted to a network, or refused);"
              " contacts reach you by address",
}


def cmd_status(args: argparse.Namespace) -> int:
    status = _ask_node(args, "status", {}, offline=True)
    if status is _NO_NODE:  # and what starting one would use (trial 11)
        from p2pchat.cli.plain_start import plain_start

        fail(f"no node is running for {args.home}: start one with 'p2pchat --home {args.home}"
             f" node'. {plain_start(args.home)}")
    if args.json:
        print_json(status)
        return 0
    print(f"{clean(status['name'])}  {status['fingerprint']}")
    print(f"listening: {clean(', '.join(status['listen']))}"
          f"{said_from(status.get('listen_from'))}")
    if status.get("port_changed_from"):  # said, not only logged (trial 4, 16)
        print(f"  a new port: {status['port_changed_from']} (last time's) was taken; friends"
              " who typed your address need the new one (/addr, 'p2pchat contacts addr')")
    print(f"links: {status['links']}   mDNS: {clean(mdns_words(status))}"
          f"{said_from(status.get('mdns_from'))}"
          f"   presence: {status['presence']}")
    if not status["mdns"] and status.get("mdns_from") == "last run":  # kept, so say how to undo
        print("  discovery stays off as last run; 'p2pchat settings mdns on' turns it on")
    visible = _VISIBLE.get(status.get("visible_to", ""))
    if visible:
        print(visible)
    if status.get("storage", "ok") != "ok":
        print(clean(f"storage: {status['storage']} ({status.get('storage_error')}); nothing"
                    " unsaved is acknowledged, and the node retries"))
    if status.get("networks"):
        print(f"networks: {clean(', '.join(status['networks']))}")
    for line in waiting_lines(status):  # why a join waits, or its refusal (trial 13, 15)
        print(clean(line))
    print_closed(status)
    for relay in status.get("relays", []):
        error = f" ({relay['last_error']})" if relay["last_error"] and \
            relay["state"] != "attached" else ""
        # Its streams, attempts too: not the `links` above (trial 4, B4 read them as one).
        print(clean(f"relay: {relay['relay']}  {relay['state']}, {relay['links']} connection(s)"
                    " open through it (links up or being set up),"
                    f" {_FOUND_BY.get(relay['found_by'], 'from ' + relay['found_by'])}{error}"))
    return 0


def _linked_soon(args: argparse.Namespace, contact: dict[str, Any],
                 wait: float = ACCEPT_LINK_WAIT) -> bool:
    """Whether an accepted contact is linked, or is within `wait` seconds: a requester online
    now is often dialled again just after the accept (round 2, 9: "wait until they are
    online" was said of a contact online a moment later)."""
    import time

    deadline = time.monotonic() + wait
    while not contact.get("online") and time.monotonic() < deadline:
        time.sleep(0.2)  # polling the node, as `wait_for` would
        contact = next((c for c in _call(args, "contacts.list")
                        if c.get("fingerprint") == contact.get("fingerprint")), contact)
    return bool(contact.get("online"))




def _reached_soon(args: argparse.Namespace, contact: dict[str, Any],
                  wait: float = ACCEPT_LINK_WAIT) -> dict[str, Any]:
    """An added contact once their node answered (linked, or it has the request:
    `awaits_answer`), or after `wait` seconds; at once when nothing says where it runs (no
    address, not nearby). `nearby` is added: discovery sees it (trial 14a, B18)."""
    import time

    fp = contact.get("fingerprint")
    contact = {**contact, "nearby": fp in (nearby(args) or ())}
    deadline = time.monotonic() + wait
    while not (contact.get("awaits_answer") or contact.get("asked") is False) \
            and (contact["nearby"] or contact.get("addrs")) and time.monotonic() < deadline:
        time.sleep(0.2)  # polling the node, as `wait_for` would
        contact = next(({**c, "nearby": contact["nearby"]} for c in _call(args, "contacts.list")
                        if c.get("fingerprint") == fp), contact)
    return contact


def stale_address(contact: dict[str, Any]) -> bool:
    """A contact whose last known address the node calls stale (`address_stale`, docs/api.md:
    silent for long, or their node seen elsewhere; not one who just went, trial 9, B7)."""
    return bool(contact.get("addrs")) and not contact.get("online") \
        and contact.get("address_stale") is True


def _print_contacts(contacts: list[dict[str, Any]],
                    nearby: frozenset[str] | set[str] | None = frozenset(),
                    known: list[dict[str, Any]] | None = None, asked: bool = False,
                    networks: tuple[list[str], list[str]] = ([], [])) -> None:
    """Rows for `contacts`; `nearby` None: no node runs, so who is online is not known (trial
    13, B4: "bob offline"); `known`: every contact, to name a verified namesake when only one
    row is printed (trial 9: after unblock, the warning said "a contact", not bob); `asked`:
    the one row is a contact just added, whose node ours has not met yet."""
    if not contacts:
        print("No contacts yet. Add one with: p2pchat contacts add FINGERPRINT --name NAME")
    elif nearby is None:
        print("(node not running: presence not known)")
    names = [with_their_name(clean(c["name"]), c.get("their_name")) for c in contacts]
    width = max(20, min(40, max(map(len, names), default=0)))  # one column (trial 6, B9)
    # The chat screen's words (core/contact_words.py: trial 12, B10, B15)
    words = [contact_presence(c, nearby=c["fingerprint"] in (nearby or ()), asked=asked)
             for c in contacts]
    words = ["" if nearby is None and w == OFFLINE else w for w in words]
    column = max(map(len, words), default=0)
    for c, name, word in zip(contacts, names, words, strict=True):
        online = f"{word:<{column}}"
        state = "" if c["state"] == "contact" else f"  [{clean(c['state'])}]"
        if c.get("path") == "relay" or c.get("asked_via") == "relay":  # as the node sees it
            state += "  via relay"
        state += "  verified" * (c.get("verified") is True)
        if word in (OFFLINE, "") and c.get("last_seen"):  # the header's "last seen" (B7)
            state += f"  last seen {clean(c['last_seen'])[:16].replace('T', ' ')} UTC"
        print(f"{name:<{width}} {online} {clean(c['fingerprint'])}{state}")
        if c.get("unanswered") and not c["online"]:  # trial 4, B4: nothing said why
            print(f"{'':<{width}} {contact_words.unanswered(clean(c['name']), *networks)}")
        elif contact_words.forgotten(c):  # trial 13b, B7: the header's words, not "asked, waiting"
            print(f"{'':<{width}} {contact_words.FORGOTTEN}")
        elif stale_address(c):  # trial 8, B5: both moved, nothing said /addr
            print(f"{'':<{width}} last known at {clean(c['addrs'][0])} does not answer: if they"
                  f" moved, p2pchat contacts addr {shlex.quote(clean(c['name']))} HOST:PORT")
        if c["state"] == "request" and c.get("after_removal") is True:  # issue 23, B4
            again = f"p2pchat contacts accept {shlex.quote(clean(c['name']))}"
            print(f"{'':<{width}} {still_has_you(again)}")
        elif c["state"] == "request":
            note = f": {peer_lines(c['note'])}" if c["note"] else ""
            print(f"{'':<{width}} asks to connect{note}"
                  f"  (p2pchat contacts accept {shlex.quote(clean(c['name']))})")
            warning = impostor_warning(c, known or contacts) or lookalike_note(
                c, known or contacts)
            if warning:
                print(f"{'':<{width}} {warning}")


# What an action asks the running node: the method and its parameters from the command line.
Call = Callable[[argparse.Namespace], tuple[str, dict[str, Any]]]

_CONTACT_CALLS: dict[str, Call] = {
    "addr": lambda a: ("contacts.addr", {"who": a.who, "addrs": a.addr}),
    "accept": lambda a: ("contacts.accept", {"who": a.who, "name": a.name, "anyway": a.anyway}),
    "block": lambda a: ("contacts.block", {"who": a.who}),
    "unblock": lambda a: ("contacts.unblock", {"who": a.who}),
    "rename": lambda a: ("contacts.rename", {"who": a.who, "name": a.new_name}),
    "remove": lambda a: ("contacts.remove", {"who": a.who}),
    "verify": lambda a: ("contacts.verify", {"who": a.who, "verified": not a.undo}),
}

_GROUP_CALLS: dict[str, Call] = {
    "list": lambda a: ("groups.list", {}),
    "members": lambda a: ("groups.members", {"group": a.group}),
    "create": lambda a: ("groups.create", {"title": a.name, "invite": a.contacts}),
    "invite": lambda a: ("groups.invite", {"group": a.group, "who": a.contact}),
    "remove": lambda a: ("groups.remove", {"group": a.group, "member": a.member}),
    "admin": lambda a: ("groups.admin", {"group": a.group, "member": a.member}),
    "unadmin": lambda a: ("groups.unadmin", {"group": a.group, "member": a.member}),
    "transfer": lambda a: ("groups.transfer", {"group": a.group, "member": a.member}),
    "leave": lambda a: ("groups.leave", {"group": a.group}),
    "accept": lambda a: ("groups.accept", {"group": a.group, "wait": True}),  # counts (B4)
    "decline": lambda a: ("groups.decline", {"group": a.group}),
    "forget": lambda a: ("groups.forget", {"group": a.group}),
}


def cmd_contacts(args: argparse.Namespace) -> int:
    action = args.action = args.action or "list"
    args.json = getattr(args, "json", False)
    if action == "list":
        result = _read(args, "contacts.list")
        if args.json:
            print_json(result)
        else:
            _print_contacts(result, nearby(args), networks=networks(args))
        return 0
    if action == "add":
        from p2pchat.core.identity import FingerprintError, parse_fingerprint

        typed = " ".join(args.fingerprint)
        try:
            parse_fingerprint(typed)  # a typo is refused before the node is asked
        except FingerprintError as exc:
            fail(f"that fingerprint is not valid: {exc}")
        result = _call(args, "contacts.add", fingerprint=typed, name=args.name,
                       addrs=args.addr or [])
        if not args.json and not result.get("they_asked"):  # "they see a request": once so
            result = _reached_soon(args, result)
    else:
        method, params = _CONTACT_CALLS[action](args)
        result = _call(args, method, **params)
    if args.json:
        print_json(result)
    elif action == "remove":
        name, fp = clean(result["name"]), result["removed"]
        print(f"Removed {name}; your history is kept ('p2pchat log {result['removed']}'"
              f" shows it). " + (
                  f"{name}'s node still has you as a contact, so it asks to connect again"
                  f" (listed as a request under this name): 'p2pchat contacts add {fp} --name"
                  f" {shlex.quote(name)}' links you again; 'p2pchat contacts block {fp}' stops"
                  " it asking." if result.get("they_have_you") else
                  f"They can ask to connect again; 'p2pchat contacts block {fp}' refuses them"
                  " for good."))
    elif action == "block":  # a sentence, no presence word (trial 13b, B11: "offline")
        print(contact_words.blocked(clean(result["name"]), "p2pchat contacts unblock"))
    elif action == "accept":  # in words, not only a listing row (trial 2, B11)
        print(f"Accepted {clean(result['name'])}: " + (
            "linked, you can chat." if _linked_soon(args, result) else
            "you can chat; messages wait until they are online."))
    else:  # one sentence, never a list row (trial 13c, B7: "offline", then "linked")
        print(said_contact(action, str(getattr(args, "who", "")), result,
                           lambda c: _linked_soon(args, c),
                           lambda: list(_read(args, "contacts.list"))))
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    if (args.text is None) == (not args.lines):
        fail("give the message, or --lines to send each line of standard input")
    if not args.lines:
        from p2pchat.core.record_fields import MAX_TEXT_BYTES
        from p2pchat.core.text import split_text

        text = stdin_message() if args.text == "-" else args.text
        size = len(text.encode("utf-8", "surrogatepass"))
        if size <= MAX_TEXT_BYTES:
            _print_sent(args, _call(args, "send", to=args.to, text=text))
        elif not args.split:  # say how, not only that it is too long (trial 2, B13)
            count = len(split_text(text, MAX_TEXT_BYTES))
            fail(f"the message is {size} bytes, over the limit of {MAX_TEXT_BYTES}: --split"
                 f" sends it as {count} messages split at line ends, --lines one per line")
        else:
            parts = split_text(text, MAX_TEXT_BYTES)
            for first in range(0, len(parts), 2):  # a control line stays far under its limit
                for message in _call(args, "send", to=args.to, texts=parts[first:first + 2]):
                    _print_sent(args, message)
        return 0
    from p2pchat.control_client import ControlClient, ControlError

    _check_home(args.home)
    sent = 0
    try:
        with ControlClient(args.home) as client:
            for batch in line_batches(sys.stdin):
                for message in client.call("send", to=args.to, texts=batch):
                    _print_sent(args, message)
                sent += len(batch)
    except ControlError as exc:
        fail(f"{exc} ({sent} messages were sent before this)" if sent else str(exc))
    except OSError as exc:
        fail(f"cannot talk to the node: {exc} ({sent} messages were sent before this)")
    return 0


def _print_sent(args: argparse.Namespace, message: dict[str, Any]) -> None:
    if args.json:
        print_json(message)
    else:
        print(message["id"])
        if message.get("note"):  # e.g. a group with nobody else in it yet
            print(clean(message["note"]), file=sys.stderr)


# Where a relay came from, in the user's words ("config" is the option or the setting alike).
_FOUND_BY = {"config": "given with --relay or 'settings relay'", "mdns": "found by mDNS"}


def cmd_log(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        fail("--limit must be 0 or more")
    messages = _read(args, "log", **{"with": args.who, "limit": args.limit, "changes": True})
    if not messages and not args.json:
        print(f"No messages with {clean(args.who)} yet.", file=sys.stderr)
    for m in messages:
        if args.json:
            print_json(m)
        else:
            status = f"  ({clean(m['status'])})" if m.get("status") else ""
            if m.get("recipients"):  # a group message of ours: how many members hold it
                status = f"  ({len(m.get('delivered_to') or [])}/{m['recipients']} delivered)"
            when = clean(m["sent_at"])[:19].replace("T", " ")
            print(f"{when}  {_said(m)}{status}")
    return 0


def _said(m: dict[str, Any]) -> str:
    """Who said what, as the chat screen shows it: "/me waves" is the action "* NAME waves"."""
    text = str(m["text"])
    if text.startswith("/me ") and text[4:].strip():
        return f"* {_author(m)} {peer_lines(text[4:])}"
    return f"{_author(m)}: {peer_lines(text)}"


def _author(m: dict[str, Any]) -> str:
    """The author's name; `~name` for a group member who is not a contact (unverified)."""
    name = clean(m["author_name"])
    return name if m.get("author_contact", True) else "~" + name


def _invitation_name(g: dict[str, Any], groups: list[dict[str, Any]]) -> str:
    """How `group accept` names this invitation in a hint: its title (quoted for the shell)
    when no other pending invitation has it, else the group id (issue 23)."""
    fold = str(g["title"]).casefold()
    same = [o for o in groups if o["role"] == "invited" and str(o["title"]).casefold() == fold]
    title = clean(g["title"])
    if len(same) > 1 or not title or title != g["title"] or title.startswith("#"):
        return str(g["group"])
    return shlex.quote(title)


def _print_groups(groups: list[dict[str, Any]], said: bool = False) -> None:
    if not groups:
        print("No groups yet. Start one with: p2pchat group create NAME")
    for g in groups:
        if g["role"] == "invited":
            name = _invitation_name(g, groups)
            print(f"{clean(g['title']):<20} invitation from {clean(g['invited_by_name'])}"
                  f"  {g['group']}  (p2pchat group accept {name}, or decline)")
            continue
        if g["role"] == "declined":
            print(f"Declined the invitation to {clean(g['title'])}.")
            continue
        if g["role"] == "forgotten":
            print(f"Forgot {clean(g['title'])} and its history.")
            continue
        if g["role"] in ("left", "removed"):  # no news reaches us: counts would mislead
            print(left_group_row(g, said=said))  # listed: a row, not an event (trial 5, B13)
            continue
        role = "" if g["role"] in ("owner", "member") else f"  [{clean(g['role'])}]"
        # "1 member (you)", "3 members, 1 other online": the node counts the others linked
        size = group_size(g["members"], g.get("invited", 0), g["online"])
        print(f"{clean(g['title']):<20} {size:<27}"
              f"  owner {clean(g['owner_name'])}  {g['group']}{role}")
        if g.get("behind"):  # away too long to catch up yet (protocol 8.14)
            print(f"{'':<20} behind: {clean(g['behind'])}")


def _confirm_forget(group: str) -> None:
    """`group forget` deletes history: ask at a terminal, refuse without one (--yes)."""
    if not sys.stdin.isatty():
        fail(f"'group forget' deletes {clean(group)} and all its history: add --yes to confirm")
    print(f"Forget the group {clean(group)} and delete all its messages? [y/N] ", end="",
          file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().casefold() not in ("y", "yes"):
        fail("nothing forgotten")


def cmd_group(args: argparse.Namespace) -> int:
    action = args.action = args.action or "list"
    args.json = getattr(args, "json", False)
    method, params = _GROUP_CALLS[action](args)
    if action == "forget" and not args.yes:
        _confirm_forget(args.group)
    # The list reads the store when no node runs, as `contacts` does (trial 2, B7).
    if action == "list":
        result = _read(args, method)
    elif action == "create":
        result = _create_group(args, method, params)
    else:
        result = _call(args, method, **params)
    if args.json:
        print_json(result)
    elif action == "members":  # in `contacts`' words (trial 13, B4)
        print("\n".join(member_rows(result, _call(args, "contacts.list"), nearby(args))))
    elif action == "list":
        _print_groups(result)
    elif action in ("create", "accept"):
        said_group(action, result)  # a sentence, not a list row (issue 23)
    elif action in ("invite", "remove"):  # a sentence, not a row (trial 13b, B11)
        said_member(action, clean(vars(args).get("contact") or vars(args).get("member")), result)
    else:
        _print_groups([result], said=True)
        if result.get("note"):  # e.g. a group named like a contact
            print(f"Note: {clean(result['note'])}", file=sys.stderr)
    return 0


def _create_group(args: argparse.Namespace, method: str, params: dict[str, Any]) -> Any:
    """`group create NAME CONTACT...`: a word not a contact creates nothing, and the error
    says what to type instead (cli/group_create.py)."""
    try:
        return _call(args, method, **params)
    except UserError as exc:
        if not args.contacts or not str(exc).startswith(NOT_A_CONTACT):
            raise
        fail(refused_create(args.name, args.contacts, _call(args, "contacts.list"), str(exc)))


def cmd_peers(args: argparse.Namespace) -> int:
    result = _call(args, "peers")
    if args.json:
        print_json(result)
        return 0
    if not result["links"]:
        print("No live links.")
    for p in result["links"]:
        print(peer_row(p))  # their own names, ~ for a fellow member (trial 5, B8, B9)
    if result["nearby"]:
        print("Nearby:")
        joined = networks(args)[0]  # a stranger outside them is marked (trial 14a, B8)
        for n in result["nearby"]:
            label = (n.get("name") or "(private)") + outside(n, joined)
            print(clean(f"  {label:<20} {n.get('fingerprint') or ''} {' '.join(n['addresses'])}"))
    hidden = result.get("nearby_hidden") or 0
    if hidden:
        print(hidden_nearby(hidden))
    for r in result["requests"]:
        name = clean(r["name"])
        asks = "(you removed them) still has you as a contact" \
            if r.get("after_removal") is True else "asks to connect"
        print(f"{name} {asks}: p2pchat contacts accept {shlex.quote(name)}")
    return 0


def cmd_network(args: argparse.Namespace) -> int:
    from p2pchat.network_command import NetworkCommandError
    from p2pchat.network_command import cmd_network as run_network

    try:
        return run_network(args, load_identity)
    except NetworkCommandError as exc:
        fail(str(exc))


def cmd_nick(args: argparse.Namespace) -> int:
    """Your own name: through the running node (which uses it at once), else in the file."""
    from p2pchat.control_client import ControlClient, ControlError
    from p2pchat.storage import keystore

    _check_home(args.home)
    try:
        with ControlClient(args.home) as client:
            result = client.call("rename_self", name=args.name)
            name, told = result["name"], result.get("told")
    except ControlError as exc:
        if exc.code != "no_node":
            fail(str(exc))
        name, told = keystore.rename(args.home, args.name), None
    except OSError as exc:
        fail(f"cannot talk to the node: {exc}")
    if args.json:
        print_json({"name": name})
    else:
        now = "" if not told else f"the {told} linked now see it at once, "
        print(f"You are now {clean(name)}; {now}other contacts see it on their next link.")
    return 0


def cmd_safety(args: argparse.Namespace) -> int:
    from p2pchat.core.identity import (
        FingerprintError,
        fingerprint,
        parse_fingerprint,
        safety_number,
    )
    from p2pchat.tui.safety import SAFETY_NOTE, safety_rows

    who = " ".join(args.who)
    label = "them"
    try:
        theirs = parse_fingerprint(who)
    except FingerprintError as exc:
        theirs = _contact_key(args, who, exc)
        label = clean(who)
    mine = public_identity(args.home).public_key
    number = safety_number(mine, theirs)
    if args.json:
        print_json({"safety_number": number, "fingerprint": fingerprint(theirs)})
        return 0
    print("Safety number (compare it with theirs, it must be the same on both screens):")
    for row in safety_rows(number, mine, label):
        print("  " + row)
    print(SAFETY_NOTE)
    return 0


def _contact_key(args: argparse.Namespace, who: str, problem: Exception) -> bytes:
    """A contact's public key by name, from the running node or else the store."""
    from p2pchat.core.identity import parse_fingerprint

    contacts = _read(args, "contacts.list")
    wanted = who.strip().casefold()
    for contact in contacts:
        if str(contact.get("name", "")).casefold() == wanted:
            return parse_fingerprint(str(contact["fingerprint"]))
    fail(f"{who!r} is neither a valid fingerprint ({problem}) nor a contact's name")
