"""The `p2pchat` command.

Commands that work on the identity (init, id, safety) run here. Commands that need the network
(contacts, group, send, log, peers, status) talk to the running node over its control socket; `node`
starts one. Heavy imports (asyncio, zeroconf, prompt_toolkit) happen inside the commands that need
them, so `--help`, `--version`, `id` and `safety` start fast.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from p2pchat import __version__
from p2pchat.core.text import is_unsafe
from p2pchat.home import HOME_ENV, ensure_home, resolve_home
from p2pchat.tui.sanitize import clean

# Where the continuation lines of a multi-line message or note start in plain output: indented
# under the text, so a peer's newline can never start a line that looks like one of ours.
_INDENT = " " * 21

PASSPHRASE_ENV = "P2PCHAT_PASSPHRASE"


class UserError(Exception):
    """Something the user can fix; printed as one line on stderr, exit status 1."""


def _fail(message: str) -> NoReturn:
    raise UserError(message)


def _lines(text: object) -> str:
    """Peer text for a terminal, newlines kept as indented continuation lines (the UI's rule)."""
    return clean(text, newlines=True).replace("\n", "\n" + _INDENT)


# ---------------------------------------------------------------- passphrase and identity


def _read_passphrase(args: argparse.Namespace, *, confirm: bool) -> bytes | None:
    """From --passphrase-file, else $P2PCHAT_PASSPHRASE, else a prompt on a terminal."""
    if getattr(args, "passphrase_file", None):
        try:
            text = Path(args.passphrase_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read the passphrase file {args.passphrase_file}: {exc}")
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
    elif os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV]
    elif sys.stdin.isatty():
        passphrase = getpass.getpass("Passphrase: ")
        if confirm and getpass.getpass("Passphrase again: ") != passphrase:
            _fail("the two passphrases differ; nothing was written")
    else:
        return None
    if confirm and not passphrase:
        _fail("an empty passphrase protects nothing: choose one, or use --no-passphrase")
    return passphrase.encode("utf-8")


def load_identity(home: Path, args: argparse.Namespace) -> Any:
    """Unlock the identity in `home`, asking for the passphrase only if the file is sealed."""
    from p2pchat.storage import keystore

    header = keystore.read_header(home)
    passphrase = _read_passphrase(args, confirm=False) if header.sealed else None
    return keystore.load(home, passphrase)


# ---------------------------------------------------------------- identity commands


def cmd_init(args: argparse.Namespace) -> int:
    from p2pchat.core.identity import Identity
    from p2pchat.storage import keystore

    home = ensure_home(args.home)
    if keystore.exists(home):
        _fail(f"an identity already exists in {home}; not overwriting it")
    name = keystore.validate_name(args.name or getpass.getuser())
    passphrase = None if args.no_passphrase else _read_passphrase(args, confirm=True)
    if passphrase is None and not args.no_passphrase:
        _fail(
            "a passphrase is needed to protect your identity: run this in a terminal, set"
            f" {PASSPHRASE_ENV}, pass --passphrase-file FILE, or choose --no-passphrase"
        )
    identity = Identity.generate()
    keystore.create(home, identity, name, passphrase)
    print(f"Created identity for {name} in {home}")
    if passphrase is None:
        print("It is stored without a passphrase: anyone who can read this home can use it.")
    print(f"Your fingerprint: {identity.fingerprint}")
    return 0


def cmd_id(args: argparse.Namespace) -> int:
    stored = load_identity(args.home, args)
    identity = stored.identity
    if args.json:
        _print_json({
            "name": stored.name,
            "fingerprint": identity.fingerprint,
            "public_key": identity.public_key.hex(),
            "passphrase_protected": stored.sealed,
            "home": str(args.home),
        })
        return 0
    print(f"Name:        {stored.name}")
    print(f"Fingerprint: {identity.fingerprint}")
    if not stored.sealed:
        print("Note:        this identity is stored without a passphrase")
    if args.qr:
        import segno

        segno.make(identity.fingerprint, error="m").terminal(compact=True)
    return 0


def cmd_safety(args: argparse.Namespace) -> int:
    from p2pchat.core.identity import FingerprintError, parse_fingerprint, safety_number

    try:
        theirs = parse_fingerprint(args.fingerprint)
    except FingerprintError as exc:
        _fail(f"that fingerprint is not valid: {exc}")
    mine = load_identity(args.home, args).identity
    number = safety_number(mine.public_key, theirs)
    if args.json:
        _print_json({"safety_number": number, "fingerprint": args.fingerprint})
        return 0
    print("Safety number (compare it with theirs, it must be the same on both screens):")
    groups = number.split()
    for row in range(0, len(groups), 4):
        print("  " + "  ".join(groups[row : row + 4]))
    return 0


# ---------------------------------------------------------------- the running node


def _node_config(args: argparse.Namespace) -> Any:
    """The NodeConfig that `node` and `chat` build from their shared options."""
    from p2pchat.net.addresses import parse_addr
    from p2pchat.node import NodeConfig

    try:
        listen = tuple(parse_addr(text) for text in args.listen or ["[::]:0"])
    except ValueError as exc:
        _fail(f"--listen: {exc}")
    return NodeConfig(
        listen=listen, mdns=not args.no_mdns,
        mdns_interfaces=tuple(args.mdns_interface) if args.mdns_interface else None,
        presence=args.presence,
    )


def cmd_node(args: argparse.Namespace) -> int:
    import asyncio

    from p2pchat.logsetup import configure_logging
    from p2pchat.node import CommandError
    from p2pchat.runner import serve

    config = _node_config(args)
    stored = load_identity(ensure_home(args.home), args)
    if not stored.sealed:
        print("p2pchat: note: this identity is stored without a passphrase", file=sys.stderr)
    configure_logging(args.verbose - args.quiet)
    try:
        asyncio.run(serve(args.home, stored.identity, stored.name, config))
    except CommandError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot start the node: {exc.strerror or exc}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    config = _node_config(args)
    home = ensure_home(args.home)
    from p2pchat.tui.main import StartError, run_chat  # prompt_toolkit only for this command

    try:
        return run_chat(home, config, lambda: load_identity(home, args))
    except StartError as exc:
        _fail(str(exc))


def _call(args: argparse.Namespace, method: str, **params: Any) -> Any:
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(args.home) as client:
            return client.call(method, **params)
    except ControlError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot talk to the node: {exc}")


def cmd_status(args: argparse.Namespace) -> int:
    status = _call(args, "status")
    if args.json:
        _print_json(status)
        return 0
    print(f"{clean(status['name'])}  {status['fingerprint']}")
    print(f"listening: {clean(', '.join(status['listen']))}")
    print(f"links: {status['links']}   mDNS: {'on' if status['mdns'] else 'off'}"
          f"   presence: {status['presence']}")
    return 0


def _print_contacts(contacts: list[dict[str, Any]]) -> None:
    if not contacts:
        print("No contacts yet. Add one with: p2pchat contacts add FINGERPRINT --name NAME")
    for c in contacts:
        name = clean(c["name"])
        online = "online " if c["online"] else "offline"
        state = "" if c["state"] == "contact" else f"  [{clean(c['state'])}]"
        print(f"{name:<20} {online} {clean(c['fingerprint'])}{state}")
        if c["state"] == "request":
            note = f": {_lines(c['note'])}" if c["note"] else ""
            print(f"{'':<20} asks to connect{note}  (p2pchat contacts accept {name})")


def cmd_contacts(args: argparse.Namespace) -> int:
    action = args.action
    if action == "list":
        result = _call(args, "contacts.list")
        if args.json:
            _print_json(result)
        else:
            _print_contacts(result)
        return 0
    if action == "add":
        from p2pchat.core.identity import FingerprintError, parse_fingerprint

        try:
            parse_fingerprint(args.fingerprint)  # a typo is refused before the node is asked
        except FingerprintError as exc:
            _fail(f"that fingerprint is not valid: {exc}")
        result = _call(args, "contacts.add", fingerprint=args.fingerprint, name=args.name,
                       addrs=args.addr or [])
    elif action == "accept":
        result = _call(args, "contacts.accept", who=args.who, name=args.name)
    elif action == "block":
        result = _call(args, "contacts.block", who=args.who)
    else:
        result = _call(args, "contacts.remove", who=args.who)
    if args.json:
        _print_json(result)
    elif action == "remove":
        print(f"Removed {clean(result['name'])}")
    else:
        _print_contacts([result])
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    result = _call(args, "send", to=args.to, text=args.text)
    if args.json:
        _print_json(result)
    else:
        print(result["id"])
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        _fail("--limit must be 0 or more")
    messages = _call(args, "log", **{"with": args.who, "limit": args.limit})
    if not messages and not args.json:
        print(f"No messages with {clean(args.who)} yet.", file=sys.stderr)
    for m in messages:
        if args.json:
            _print_json(m)
        else:
            status = f"  ({clean(m['status'])})" if m.get("status") else ""
            when = clean(m["sent_at"])[:19].replace("T", " ")
            print(f"{when}  {clean(m['author_name'])}: {_lines(m['text'])}{status}")
    return 0


def _print_groups(groups: list[dict[str, Any]]) -> None:
    if not groups:
        print("No groups yet. Start one with: p2pchat group create NAME")
    for g in groups:
        role = "" if g["role"] in ("owner", "member") else f"  [{clean(g['role'])}]"
        print(f"{clean(g['title']):<20} {g['members']:>2} members, {g['online']:>2} online"
              f"  owner {clean(g['owner_name'])}  {g['group']}{role}")


def cmd_group(args: argparse.Namespace) -> int:
    action = args.action
    if action == "list":
        result = _call(args, "groups.list")
    elif action == "members":
        result = _call(args, "groups.members", group=args.group)
    elif action == "create":
        result = _call(args, "groups.create", title=args.name)
    elif action == "invite":
        result = _call(args, "groups.invite", group=args.group, who=args.contact)
    elif action == "remove":
        result = _call(args, "groups.remove", group=args.group, member=args.member)
    else:
        result = _call(args, "groups.leave", group=args.group)
    if args.json:
        _print_json(result)
    elif action == "members":
        for m in result:
            marks = " (owner)" * m["owner"] + " (you)" * m["you"]
            online = "online " if m["online"] else "offline"
            print(f"{clean(m['name']):<20} {online} {m['fingerprint']}{marks}")
    elif action == "list":
        _print_groups(result)
    else:
        _print_groups([result])
    return 0


def cmd_peers(args: argparse.Namespace) -> int:
    result = _call(args, "peers")
    if args.json:
        _print_json(result)
        return 0
    if not result["links"]:
        print("No live links.")
    for p in result["links"]:
        print(clean(f"{p['name']:<20} {p['state']:<8} {p['direction']:<8} {p['address']}"))
    if result["nearby"]:
        print("Nearby:")
        for n in result["nearby"]:
            label = n.get("name") or "(private)"
            print(clean(f"  {label:<20} {n.get('fingerprint') or ''} {' '.join(n['addresses'])}"))
    for r in result["requests"]:
        name = clean(r["name"])
        print(f"{name} asks to connect: p2pchat contacts accept {name}")
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    from p2pchat.relay.command import RelayError
    from p2pchat.relay.command import cmd_relay as run_relay

    try:
        return run_relay(args)
    except RelayError as exc:
        _fail(str(exc))


# ---------------------------------------------------------------- the parser


def _print_json(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    # JSON escapes only C0 controls; escape DEL, C1 and bidi controls too, so the value stays
    # the same for programs and a terminal shown it is not driven by a peer's text.
    print("".join(f"\\u{ord(ch):04x}" if is_unsafe(ch) else ch for ch in text))


def _add_passphrase_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file", metavar="FILE",
        help=f"read the passphrase from the first line of FILE (else ${PASSPHRASE_ENV}, else ask)",
    )


def _add_node_options(parser: argparse.ArgumentParser) -> None:
    """How a node runs: shared by `node` and by `chat`, which runs one when none is running."""
    parser.add_argument("--listen", action="append", metavar="HOST:PORT",
                        help="address to accept links on; repeatable; port 0 picks a free one"
                        " (default [::]:0: every interface, IPv6 and IPv4)")
    parser.add_argument("--no-mdns", action="store_true",
                        help="don't advertise or look for nodes on the local network")
    parser.add_argument("--mdns-interface", action="append", metavar="ADDR",
                        help="announce and browse only on the interface with this address"
                        " (repeatable; default: every non-loopback interface)")
    parser.add_argument("--presence", choices=("public", "private"), default="public",
                        help="public: announce your name and fingerprint; private: only people"
                        " who know your key can recognise and reach you")
    _add_passphrase_file(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2pchat",
        description="Serverless, end-to-end encrypted chat for a local network.",
        epilog=f"The home holds your identity and messages; default: ${HOME_ENV} or the"
        " platform's user data directory.",
    )
    parser.add_argument("--version", action="version", version=f"p2pchat {__version__}")
    parser.add_argument("--home", metavar="DIR", help="data directory of this node")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str,
                **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, **kwargs)
        # --home is accepted after the command too; SUPPRESS keeps it from hiding the global one.
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")
        sub.set_defaults(handler=handler)
        return sub

    init = command("init", cmd_init, "create your identity in the home")
    init.add_argument("--name", help="your display name (default: your login name)")
    init.add_argument("--no-passphrase", action="store_true",
                      help="store the key unprotected (for relays and tests)")
    _add_passphrase_file(init)

    ident = command("id", cmd_id, "show your name and fingerprint")
    ident.add_argument("--json", action="store_true", help="print a JSON object")
    ident.add_argument("--qr", action="store_true", help="draw the fingerprint as a QR code")
    _add_passphrase_file(ident)

    safety = command("safety", cmd_safety,
                     "show the safety number you share with someone, to compare in person")
    safety.add_argument("fingerprint", help="their fingerprint")
    safety.add_argument("--json", action="store_true", help="print a JSON object")
    _add_passphrase_file(safety)

    node = command("node", cmd_node, "run your node in the foreground (Ctrl-C stops it)")
    _add_node_options(node)
    node.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    node.add_argument("-q", "--quiet", action="count", default=0, help="log only warnings")

    chat = command("chat", cmd_chat, "open the chat screen (runs your node too if none is"
                   " running for this home)")
    _add_node_options(chat)

    status = command("status", cmd_status, "show the running node: fingerprint, ports, links")
    status.add_argument("--json", action="store_true", help="print a JSON object")

    contacts = command("contacts", cmd_contacts, "add, list, accept, block or remove contacts")
    actions = contacts.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")
        return sub

    action("list", "list contacts and requests")
    add = action("add", "add a contact by fingerprint")
    add.add_argument("fingerprint", help="their fingerprint (from 'p2pchat id')")
    add.add_argument("--name", required=True, help="what you call them")
    add.add_argument("--addr", action="append", metavar="HOST:PORT",
                     help="where to reach them, if mDNS can't find them (repeatable)")
    accept = action("accept", "accept someone who asked to connect")
    accept.add_argument("who", help="their name or fingerprint")
    accept.add_argument("--name", help="rename them as you accept")
    block = action("block", "refuse all links and requests from someone")
    block.add_argument("who", help="their name or fingerprint")
    remove = action("remove", "forget a contact (your history with them is kept)")
    remove.add_argument("who", help="their name or fingerprint")

    group = command("group", cmd_group, "create groups, invite, remove, leave, list members")
    group_actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    def group_action(name: str, help: str, *positional: tuple[str, str]) -> None:
        sub = group_actions.add_parser(name, help=help, description=help)
        for arg, arg_help in positional:
            sub.add_argument(arg, help=arg_help)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")

    which = ("group", "the group's name or id")
    group_action("create", "start a group you own", ("name", "what to call the group"))
    group_action("invite", "add a contact to a group you own", which,
                 ("contact", "their name or fingerprint"))
    group_action("remove", "remove a member from a group you own (they get no new key)", which,
                 ("member", "their name or fingerprint"))
    group_action("leave", "leave a group (its history stays with you)", which)
    group_action("list", "list your groups")
    group_action("members", "list a group's members and who is online", which)

    send = command("send", cmd_send, "send a message; prints its id once it is safely queued")
    send.add_argument("to", help="a contact's or a group's name (or fingerprint, group id)")
    send.add_argument("text", help="the message")
    send.add_argument("--json", action="store_true", help="print a JSON object")

    log_cmd = command("log", cmd_log, "show the conversation with a contact or a group, oldest"
                      " first")
    log_cmd.add_argument("who", help="a contact's or a group's name (or fingerprint, group id)")
    log_cmd.add_argument("--limit", type=int, metavar="N", help="only the last N messages")
    log_cmd.add_argument("--json", action="store_true", help="one JSON object per line")

    peers = command("peers", cmd_peers, "show live links, nearby nodes and contact requests")
    peers.add_argument("--json", action="store_true", help="print a JSON object")

    from p2pchat.relay.command import add_relay_arguments

    relay = command("relay", cmd_relay, "run a relay on a spare machine: it joins nodes that"
                    " cannot reach each other and forwards only ciphertext (docs/relay.md)")
    add_relay_arguments(relay)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    args.home = resolve_home(args.home)
    from p2pchat.storage.keystore import KeystoreError

    try:
        return int(args.handler(args))
    except (UserError, KeystoreError) as exc:
        print(f"p2pchat: {clean(str(exc))}", file=sys.stderr)  # may quote what a peer chose
        return 1
    except KeyboardInterrupt:
        print("p2pchat: interrupted", file=sys.stderr)
        return 130
