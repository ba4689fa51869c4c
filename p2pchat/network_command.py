"""`p2pchat network join|leave|list`: the room passphrases of this home (docs/privacy.md).

The network key is derived here (Argon2id) and written sealed with the identity; a node running
for the home is then told to re-read the file, so a join takes effect at once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

NETWORK_PASSPHRASE_ENV = "P2PCHAT_NETWORK_PASSPHRASE"


class NetworkCommandError(Exception):
    """Something the user can fix; printed as one line, exit status 1."""


def add_network_arguments(parser: argparse.ArgumentParser, home_option: Any) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        home_option(sub)
        sub.add_argument("--identity-passphrase-file", metavar="FILE",
                         help="your identity's passphrase, first line of FILE (else"
                         " $P2PCHAT_PASSPHRASE, else ask)")
        return sub

    join = action("join", "join a network: only its members see and reach you")
    join.add_argument("name", help="the network's name (a-z, 0-9, '.', '_', '-')")
    join.add_argument("--passphrase-file", metavar="FILE",
                      help="the network passphrase, first line of FILE (else"
                      f" ${NETWORK_PASSPHRASE_ENV}, else ask)")
    leave = action("leave", "leave a network")
    leave.add_argument("name", help="the network's name")
    listing = action("list", "list the networks you are in")
    listing.add_argument("--json", action="store_true", help="print a JSON object")


def read_network_passphrase(name: str, passphrase_file: str | None) -> bytes:
    """From `passphrase_file`, else $P2PCHAT_NETWORK_PASSPHRASE, else a prompt (asked twice)."""
    if passphrase_file:
        try:
            lines = Path(passphrase_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise NetworkCommandError(
                f"cannot read the passphrase file {passphrase_file}: {exc}") from None
        text = lines[0] if lines else ""
    elif os.environ.get(NETWORK_PASSPHRASE_ENV):
        text = os.environ[NETWORK_PASSPHRASE_ENV]
    elif sys.stdin.isatty():
        # A typo would silently make another network: ask twice, and again if they differ.
        for _ in range(3):
            text = getpass.getpass(f"Passphrase of network {name}: ")
            if getpass.getpass(f"Passphrase of network {name}, again: ") == text:
                break
            print("The two differ; once more.", file=sys.stderr)
        else:
            raise NetworkCommandError("the two passphrases differed three times; nothing was"
                                      " joined")
    else:
        raise NetworkCommandError(
            f"the network passphrase is needed: run this in a terminal, set"
            f" {NETWORK_PASSPHRASE_ENV}, or pass --passphrase-file FILE")
    if not text:
        raise NetworkCommandError("an empty network passphrase protects nothing")
    return text.encode("utf-8")


def _tell_node(home: Path, method: str) -> bool:
    """Ask a node running for `home` to apply the change; False if none runs."""
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(home, timeout=10.0) as client:
            client.call(method)
    except (ControlError, OSError):
        return False
    return True


def cmd_network(args: argparse.Namespace, load_identity: Any) -> int:
    from p2pchat.core import network as net
    from p2pchat.storage import networks as stored

    home: Path = args.home
    if args.action == "join":
        try:
            net.check_name(args.name)
        except net.NetworkError as exc:
            raise NetworkCommandError(str(exc)) from None
    if args.action == "list" and not args.identity_passphrase_file:
        listed = _ask_node(home)  # the running node has them open: no passphrase to type
        if listed is not None:
            _print_view(listed, args.json)
            return 0
    # Here --passphrase-file is the network's: the identity's has an option of its own.
    identity = load_identity(home, argparse.Namespace(
        passphrase_file=args.identity_passphrase_file,
        passphrase_option="--identity-passphrase-file")).identity
    try:
        current = stored.load(home, identity)
        if args.action == "list":
            _print_list(current, args.json)
            return 0
        if args.action == "join":
            passphrase = read_network_passphrase(args.name, args.passphrase_file)
            key = net.derive_key(args.name, passphrase)
            network = stored.Network(args.name, key)
            stored.change(home, identity, lambda now: stored.joined(now, network))
        else:
            stored.change(home, identity, lambda now: stored.left(now, args.name))
    except (stored.NetworksFileError, net.NetworkError) as exc:
        raise NetworkCommandError(str(exc)) from None
    except OSError as exc:
        raise NetworkCommandError(f"cannot write the networks file: {exc}") from None
    running = _tell_node(home, "network.reload")
    verb = "Joined" if args.action == "join" else "Left"
    print(f"{verb} network {args.name}" + (" (the running node knows)" if running else ""))
    if args.action == "join":
        print(f"Check code: {net.check_code(key)}. Everyone who typed the same passphrase sees"
              " the same code; a different code means a different passphrase, and then you"
              " do not see each other.")
    return 0


def _ask_node(home: Path) -> dict[str, Any] | None:
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(home, timeout=10.0) as client:
            result = client.call("network.list")
    except (ControlError, OSError):
        return None
    return result if isinstance(result, dict) else None


def _print_list(current: list[Any], as_json: bool) -> None:
    from p2pchat.node.networks import check_codes

    _print_view({"networks": [n.name for n in current], "check_codes": check_codes(current)},
                as_json)


def _print_view(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(view))
        return
    names = [str(n) for n in view.get("networks") or []]
    codes = view.get("check_codes") or {}
    for name in names:
        print(f"{name:<32} check code {codes.get(name, '?')}")
    if not names:
        print("In no network.")
