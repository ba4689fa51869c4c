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
from collections.abc import Callable, Iterable, Iterator, Sequence
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


PASSPHRASE_TRIES = 3


def load_identity(home: Path, args: argparse.Namespace) -> Any:
    """Unlock the identity in `home`, asking for the passphrase only if the file is sealed."""
    return unlock_identity(home, args)[0]


def unlock_identity(home: Path, args: argparse.Namespace) -> tuple[Any, bytes | None]:
    """The unlocked identity and the passphrase that opened it. A passphrase typed at a
    terminal may be retyped up to three times; one from a file or the environment is not."""
    from p2pchat.storage import keystore

    header = keystore.read_header(home)
    if not header.sealed:
        return keystore.load(home, None), None
    interactive = not getattr(args, "passphrase_file", None) and not os.environ.get(
        PASSPHRASE_ENV) and sys.stdin.isatty()
    for attempt in range(1, PASSPHRASE_TRIES + 1):
        passphrase = _read_passphrase(args, confirm=False)
        try:
            return keystore.load(home, passphrase), passphrase
        except keystore.WrongPassphrase:
            if not interactive or attempt == PASSPHRASE_TRIES:
                raise
            print("Wrong passphrase; try again.", file=sys.stderr)
    raise AssertionError("unreachable")  # the loop returns or raises


# ---------------------------------------------------------------- identity commands


def cmd_init(args: argparse.Namespace) -> int:
    from p2pchat.storage import keystore

    home = ensure_home(args.home)
    if keystore.exists(home):
        _fail(f"an identity already exists in {home}; not overwriting it")
    _create_identity(home, args)
    return 0


def _ask_name() -> str:
    """On a first run at a terminal: the name contacts will see (not the login name, which is
    often `root` or a machine's account)."""
    from p2pchat.storage import keystore

    for _ in range(PASSPHRASE_TRIES):
        # Not input(): at a terminal it writes its prompt to stderr, which may be a log file.
        sys.stdout.write("Your name, as your contacts will see it: ")
        sys.stdout.flush()
        line = sys.stdin.readline(4096)
        if not line:
            _fail("no name given; nothing was written")
        typed = line.strip()
        try:
            return keystore.validate_name(typed)
        except keystore.KeystoreError as exc:
            print(f"p2pchat: {exc}", file=sys.stderr)
    _fail("no usable name given; nothing was written")


def _create_identity(home: Path, args: argparse.Namespace) -> tuple[Any, bytes | None]:
    """Create the identity in `home` (asking what is missing); returns it, unlocked, and the
    passphrase, so a first `chat` does not ask for it again."""
    from p2pchat.core.identity import Identity
    from p2pchat.storage import keystore

    no_passphrase = getattr(args, "no_passphrase", False)
    if getattr(args, "name", None):
        name = keystore.validate_name(args.name)
    elif sys.stdin.isatty():
        name = _ask_name()
    else:
        name = keystore.validate_name(getpass.getuser())
    passphrase = None if no_passphrase else _read_passphrase(args, confirm=True)
    if passphrase is None and not no_passphrase:
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
    return keystore.StoredIdentity(identity, name, passphrase is not None), passphrase


def _public_identity(home: Path) -> Any:
    """Name and public key: readable without the passphrase (the fingerprint is public)."""
    from p2pchat.storage import keystore

    return keystore.read_header(home)


def cmd_id(args: argparse.Namespace) -> int:
    from p2pchat.core.identity import fingerprint

    header = _public_identity(args.home)
    shown = fingerprint(header.public_key)
    if args.json:
        _print_json({
            "name": header.name,
            "fingerprint": shown,
            "public_key": header.public_key.hex(),
            "passphrase_protected": header.sealed,
            "home": str(args.home),
        })
        return 0
    print(f"Name:        {header.name}")
    print(f"Fingerprint: {shown}")
    if not header.sealed:
        print("Note:        this identity is stored without a passphrase")
    if args.qr:
        import segno

        segno.make(shown, error="m").terminal(compact=True)
    return 0


def cmd_safety(args: argparse.Namespace) -> int:
    from p2pchat.core.identity import (
        FingerprintError,
        fingerprint,
        parse_fingerprint,
        safety_number,
    )
    from p2pchat.tui.safety import safety_rows

    who = " ".join(args.who)
    try:
        theirs = parse_fingerprint(who)
    except FingerprintError as exc:
        theirs = _contact_key(args, who, exc)
    mine = _public_identity(args.home).public_key
    number = safety_number(mine, theirs)
    if args.json:
        _print_json({"safety_number": number, "fingerprint": fingerprint(theirs)})
        return 0
    print("Safety number (compare it with theirs, it must be the same on both screens):")
    for row in safety_rows(number):
        print("  " + row)
    return 0


def _contact_key(args: argparse.Namespace, who: str, problem: Exception) -> bytes:
    """A contact's public key by name, from the running node or else the store."""
    from p2pchat.core.identity import parse_fingerprint

    contacts = _read(args, "contacts.list")
    wanted = who.strip().casefold()
    for contact in contacts:
        if str(contact.get("name", "")).casefold() == wanted:
            return parse_fingerprint(str(contact["fingerprint"]))
    _fail(f"{who!r} is neither a valid fingerprint ({problem}) nor a contact's name")


def cmd_nick(args: argparse.Namespace) -> int:
    """Your own name: through the running node (which uses it at once), else in the file."""
    from p2pchat.control_client import ControlClient, ControlError
    from p2pchat.storage import keystore

    _check_home(args.home)
    try:
        with ControlClient(args.home) as client:
            name = client.call("rename_self", name=args.name)["name"]
    except ControlError as exc:
        if exc.code != "no_node":
            _fail(str(exc))
        name = keystore.rename(args.home, args.name)
    except OSError as exc:
        _fail(f"cannot talk to the node: {exc}")
    if args.json:
        _print_json({"name": name})
    else:
        print(f"You are now {clean(name)}; contacts see it on the next link.")
    return 0


# ---------------------------------------------------------------- the running node


def _node_config(args: argparse.Namespace) -> Any:
    """The NodeConfig that `node` and `chat` build from their shared options."""
    from p2pchat.net.addresses import parse_addr
    from p2pchat.net.relay_client import parse_relay
    from p2pchat.node import NodeConfig

    try:
        listen = tuple(parse_addr(text) for text in args.listen or ["[::]:0"])
    except ValueError as exc:
        _fail(f"--listen: {exc}")
    try:
        relays = tuple(dict.fromkeys(parse_relay(text) for text in args.relay or []))
    except ValueError as exc:
        _fail(f"--relay: {exc}")
    return NodeConfig(
        listen=listen, mdns=not args.no_mdns,
        mdns_interfaces=tuple(args.mdns_interface) if args.mdns_interface else None,
        presence=args.presence, relays=relays,
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
    from p2pchat.storage import keystore

    config = _node_config(args)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        _fail("'p2pchat chat' needs a terminal; scripts can use the other commands")
    home = ensure_home(args.home)
    from p2pchat.tui.main import Background, StartError, run_chat  # prompt_toolkit only here

    unlocked: list[bytes | None] = []

    def unlock() -> Any:
        if not keystore.exists(home):  # a first run: create the identity, ask nothing twice
            print("Welcome to p2pchat. First, your identity (it stays on this machine).")
            stored, passphrase = _create_identity(home, args)
        else:
            stored, passphrase = unlock_identity(home, args)
        unlocked.append(passphrase)
        return stored

    def background() -> Background:
        argv = [sys.executable, "-m", "p2pchat", "--home", str(home), "node",
                "--presence", args.presence, "--passphrase-file", "/dev/stdin"]
        for addr in args.listen or []:
            argv += ["--listen", addr]
        for addr in args.mdns_interface or []:
            argv += ["--mdns-interface", addr]
        if args.no_mdns:
            argv.append("--no-mdns")
        return Background(argv, unlocked[0] if unlocked else None)

    try:
        return run_chat(home, config, unlock, background)
    except StartError as exc:
        _fail(str(exc))


def _check_home(home: Path) -> None:
    if not home.is_dir():
        _fail(f"there is no p2pchat home at {home}: create one with"
              f" 'p2pchat --home {home} init', or give the right --home")


def _call(args: argparse.Namespace, method: str, **params: Any) -> Any:
    from p2pchat.control_client import ControlClient, ControlError

    _check_home(args.home)
    try:
        with ControlClient(args.home) as client:
            return client.call(method, **params)
    except ControlError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot talk to the node: {exc}")


def _read(args: argparse.Namespace, method: str, **params: Any) -> Any:
    """A read-only method: from the running node, or, with none, from the store itself."""
    from p2pchat.control_client import ControlClient, ControlError
    from p2pchat.node import CommandError
    from p2pchat.offline import OfflineReader
    from p2pchat.storage import keystore

    _check_home(args.home)
    try:
        with ControlClient(args.home) as client:
            return client.call(method, **params)
    except ControlError as exc:
        if exc.code != "no_node":
            _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot talk to the node: {exc}")
    header = keystore.read_header(args.home)
    body_key = None
    if method != "contacts.list":  # message texts are sealed with a key from the identity
        body_key = load_identity(args.home, args).identity.derive_key("store")
    try:
        with OfflineReader(args.home, header.public_key, header.name, body_key) as reader:
            return reader.call(method, **params)
    except CommandError as exc:
        _fail(str(exc))


def cmd_status(args: argparse.Namespace) -> int:
    status = _call(args, "status")
    if args.json:
        _print_json(status)
        return 0
    print(f"{clean(status['name'])}  {status['fingerprint']}")
    print(f"listening: {clean(', '.join(status['listen']))}")
    print(f"links: {status['links']}   mDNS: {'on' if status['mdns'] else 'off'}"
          f"   presence: {status['presence']}")
    if status.get("networks"):
        print(f"networks: {clean(', '.join(status['networks']))}")
    for relay in status.get("relays", []):
        error = f" ({relay['last_error']})" if relay["last_error"] and \
            relay["state"] != "attached" else ""
        print(clean(f"relay: {relay['relay']}  {relay['state']}, {relay['links']} link(s),"
                    f" from {relay['found_by']}{error}"))
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
        result = _read(args, "contacts.list")
        if args.json:
            _print_json(result)
        else:
            _print_contacts(result)
        return 0
    if action == "add":
        from p2pchat.core.identity import FingerprintError, parse_fingerprint

        typed = " ".join(args.fingerprint)
        try:
            parse_fingerprint(typed)  # a typo is refused before the node is asked
        except FingerprintError as exc:
            _fail(f"that fingerprint is not valid: {exc}")
        result = _call(args, "contacts.add", fingerprint=typed, name=args.name,
                       addrs=args.addr or [])
    elif action == "accept":
        result = _call(args, "contacts.accept", who=args.who, name=args.name)
    elif action == "block":
        result = _call(args, "contacts.block", who=args.who)
    elif action == "unblock":
        result = _call(args, "contacts.unblock", who=args.who)
    elif action == "rename":
        result = _call(args, "contacts.rename", who=args.who, name=args.new_name)
    else:
        result = _call(args, "contacts.remove", who=args.who)
    if args.json:
        _print_json(result)
    elif action == "remove":
        name = clean(result["name"])
        print(f"Removed {name}; your history is kept. They can ask to connect again;"
              f" 'p2pchat contacts block {name}' refuses them for good.")
    else:
        _print_contacts([result])
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    if (args.text is None) == (not args.lines):
        _fail("give the message, or --lines to send each line of standard input")
    if not args.lines:
        _print_sent(args, _call(args, "send", to=args.to, text=args.text))
        return 0
    from p2pchat.control_client import ControlClient, ControlError

    _check_home(args.home)
    sent = 0
    try:
        with ControlClient(args.home) as client:
            for batch in _line_batches(sys.stdin):
                for message in client.call("send", to=args.to, texts=batch):
                    _print_sent(args, message)
                sent += len(batch)
    except ControlError as exc:
        _fail(f"{exc} ({sent} messages were sent before this)" if sent else str(exc))
    except OSError as exc:
        _fail(f"cannot talk to the node: {exc} ({sent} messages were sent before this)")
    return 0


# One control call per batch: one commit for many lines, within the node's request line limit.
_BATCH_TEXTS = 100
_BATCH_BYTES = 128 * 1024  # of JSON, which may spell one character in up to 12 bytes


def _line_batches(lines: Iterable[str]) -> Iterator[list[str]]:
    """Non-blank lines, without their line ends, in batches for `send --lines`."""
    batch: list[str] = []
    size = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        encoded = len(json.dumps(text))
        if batch and (len(batch) == _BATCH_TEXTS or size + encoded > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += encoded
    if batch:
        yield batch


def _print_sent(args: argparse.Namespace, message: dict[str, Any]) -> None:
    if args.json:
        _print_json(message)
    else:
        print(message["id"])


def cmd_log(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        _fail("--limit must be 0 or more")
    messages = _read(args, "log", **{"with": args.who, "limit": args.limit})
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


def cmd_search(args: argparse.Namespace) -> int:
    """Messages with a contact that contain TEXT (case-insensitive), oldest first."""
    messages = _read(args, "log", **{"with": args.who, "limit": None})
    wanted = args.text.casefold()
    found = [m for m in messages if wanted in str(m.get("text", "")).casefold()]
    if not found and not args.json:
        print(f"Nothing with {clean(args.who)} contains {clean(args.text)!r}.", file=sys.stderr)
    for m in found:
        if args.json:
            _print_json(m)
        else:
            when = clean(m["sent_at"])[:19].replace("T", " ")
            print(f"{when}  {clean(m['author_name'])}: {_lines(m['text'])}")
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
        path = p["address"] if p.get("relay") is None else f"via relay {p['relay']}"
        print(clean(f"{p['name']:<20} {p['state']:<8} {p['direction']:<8} {path}"))
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


def cmd_network(args: argparse.Namespace) -> int:
    from p2pchat.network_command import NetworkCommandError
    from p2pchat.network_command import cmd_network as run_network

    try:
        return run_network(args, load_identity)
    except NetworkCommandError as exc:
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
    parser.add_argument("--relay", action="append", metavar="HOST:PORT[#FINGERPRINT]",
                        help="a relay to attach to, for contacts you cannot reach directly"
                        " (repeatable; the line 'p2pchat relay' prints; with a fingerprint"
                        " the relay must prove that key). Relays found by mDNS are used too")
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

    nick = command("nick", cmd_nick, "change your own name (what your contacts see)")
    nick.add_argument("name", help="your new name")
    nick.add_argument("--json", action="store_true", help="print a JSON object")

    safety = command("safety", cmd_safety,
                     "show the safety number you share with someone, to compare in person")
    safety.add_argument("who", nargs="+", metavar="FINGERPRINT|NAME",
                        help="their fingerprint (spaces allowed) or a contact's name")
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
    add.add_argument("fingerprint", nargs="+", metavar="FINGERPRINT",
                     help="their fingerprint (from 'p2pchat id'; spaces allowed)")
    add.add_argument("--name", required=True, help="what you call them")
    add.add_argument("--addr", action="append", metavar="HOST:PORT",
                     help="where to reach them, if mDNS can't find them (repeatable)")
    accept = action("accept", "accept someone who asked to connect")
    accept.add_argument("who", help="their name or fingerprint")
    accept.add_argument("--name", help="rename them as you accept")
    block = action("block", "refuse all links and requests from someone")
    block.add_argument("who", help="their name or fingerprint")
    remove = action("remove", "forget a contact (your history is kept; they may ask again:"
                    " block refuses them for good)")
    remove.add_argument("who", help="their name or fingerprint")
    unblock = action("unblock", "let a blocked contact reach you again")
    unblock.add_argument("who", help="their name or fingerprint")
    rename = action("rename", "call a contact (or a request) something else")
    rename.add_argument("who", help="their name or fingerprint")
    rename.add_argument("new_name", metavar="NEW_NAME", help="the new name")

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
    send.add_argument("text", nargs="?", help="the message")
    send.add_argument("--lines", action="store_true",
                      help="send each non-blank line of standard input as a message, in order"
                           " (many lines share one commit); prints one id per line")
    send.add_argument("--json", action="store_true", help="print a JSON object")

    log_cmd = command("log", cmd_log, "show the conversation with a contact or a group, oldest"
                      " first")
    log_cmd.add_argument("who", help="a contact's or a group's name (or fingerprint, group id)")
    log_cmd.add_argument("--limit", type=int, metavar="N", help="only the last N messages")
    log_cmd.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_passphrase_file(log_cmd)

    search = command("search", cmd_search, "find messages with a contact that contain TEXT")
    search.add_argument("who", help="a contact's name or fingerprint")
    search.add_argument("text", help="what to look for (case does not matter)")
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_passphrase_file(search)

    peers = command("peers", cmd_peers, "show live links, nearby nodes and contact requests")
    peers.add_argument("--json", action="store_true", help="print a JSON object")

    from p2pchat.network_command import add_network_arguments

    network = command("network", cmd_network, "join, leave or list networks: a passphrase"
                      " that decides who can see and reach you (docs/privacy.md)")
    add_network_arguments(network, lambda sub: sub.add_argument(
        "--home", metavar="DIR", default=argparse.SUPPRESS, help="data directory of this node"))

    from p2pchat.relay.command import add_relay_arguments

    relay = command("relay", cmd_relay, "run a relay on a spare machine: it joins nodes that"
                    " cannot reach each other and forwards only ciphertext (docs/relay.md)")
    add_relay_arguments(relay)

    return parser


def _error_code(exc: Exception) -> str:
    from p2pchat.storage.keystore import KeystoreError, PassphraseNeeded, WrongPassphrase

    if isinstance(exc, WrongPassphrase):
        return "wrong_passphrase"
    if isinstance(exc, PassphraseNeeded):
        return "passphrase_needed"
    if isinstance(exc, KeystoreError):
        return "identity"
    return "failed"


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
        message = str(exc)
        if message.startswith(f"no identity in {args.home}"):
            message = (f"no identity in {args.home}: create one with"
                       f" 'p2pchat --home {args.home} init'")
        if getattr(args, "json", False):
            # Scripts asked for JSON: the error is JSON too, on stdout, with the exit status.
            _print_json({"error": {"code": _error_code(exc), "message": message}})
        print(f"p2pchat: {clean(message)}", file=sys.stderr)  # may quote what a peer chose
        return 1
    except KeyboardInterrupt:
        print("p2pchat: interrupted", file=sys.stderr)
        return 130
