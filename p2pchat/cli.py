"""The `p2pchat` command.

Commands that work on the identity (init, id, safety) run here. Commands that need the network
(contacts, send, log, peers, status) talk to the running node over its control socket; `node`
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
from p2pchat.home import HOME_ENV, ensure_home, resolve_home

PASSPHRASE_ENV = "P2PCHAT_PASSPHRASE"


class UserError(Exception):
    """Something the user can fix; printed as one line on stderr, exit status 1."""


def _fail(message: str) -> NoReturn:
    raise UserError(message)


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


# ---------------------------------------------------------------- the parser


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _add_passphrase_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file", metavar="FILE",
        help=f"read the passphrase from the first line of FILE (else ${PASSPHRASE_ENV}, else ask)",
    )


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
        print(f"p2pchat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("p2pchat: interrupted", file=sys.stderr)
        return 130
