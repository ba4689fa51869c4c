"""`p2pchat network create|join|leave|list`: the room passphrases of this home (docs/privacy.md).

`create` draws the network's random key and a strong passphrase for the others; `join` stores a
typed passphrase as waiting, and the node asks members to admit it (a SPAKE2 exchange, docs/
protocol.md 10.7). Both are written sealed with the identity; a node running for the home is
then told to re-read the file, so the change takes effect at once; `join` then waits (bounded)
for that node's first round of asking, to say admitted, refused or still waiting.
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

    create = action("create", "create a network: you are its first member; it prints the"
                    " passphrase others join with")
    create.add_argument("name", help="the network's name (a-z, 0-9, '.', '_', '-')")
    create.add_argument("--json", action="store_true",
                        help="print a JSON object (the passphrase as `passphrase`)")
    create.add_argument("--no-qr", action="store_true", help="don't print the QR code")
    join = action("join", "join a network: a member admits you, then only members see and"
                  " reach you")
    join.add_argument("name", help="the network's name (a-z, 0-9, '.', '_', '-')")
    join.add_argument("--passphrase-file", metavar="FILE",
                      help="the network passphrase, first line of FILE (else"
                      f" ${NETWORK_PASSPHRASE_ENV}, else ask)")
    join.add_argument("--via", metavar="HOST:PORT",
                      help="be admitted now by the member listening at HOST:PORT (its node's"
                      " address), instead of by a member your node hears on mDNS")
    leave = action("leave", "leave a network")
    leave.add_argument("name", help="the network's name")
    relay_key = action("relay-key", "print a network's key for `p2pchat relay --network NAME"
                       " --network-key-file FILE` (whoever holds it is a member: keep it private)")
    relay_key.add_argument("name", nargs="+", help="the networks' names")
    listing = action("list", "list the networks you are in (with no node running, their names"
                     " only, no passphrase asked; --unlock for states and check codes)")
    listing.add_argument("--json", action="store_true", help="print a JSON object")
    listing.add_argument("--unlock", action="store_true",
                         help="with no node running, unlock your identity to show each"
                         " network's state and check code (asks its passphrase)")


def read_network_passphrase(name: str, passphrase_file: str | None) -> bytes:
    """From `passphrase_file`, else $P2PCHAT_NETWORK_PASSPHRASE, else a prompt (asked once)."""
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
        # Asked once: a typo is reported (the network's state becomes "refused" once the
        # members asked refuse it), and joining again asks for it afresh.
        text = getpass.getpass(f"Passphrase of network {name}: ")
    else:
        raise NetworkCommandError(
            f"the network passphrase is needed: run this in a terminal, set"
            f" {NETWORK_PASSPHRASE_ENV}, or pass --passphrase-file FILE")
    if not text:
        raise NetworkCommandError("an empty network passphrase protects nothing")
    return text.encode("utf-8")


def read_relay_keys(path: str) -> dict[str, bytes]:
    """The `NAME KEY` lines of a relay's key file (`p2pchat network relay-key`)."""
    from p2pchat.core import network as net

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()[:64]
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkCommandError(f"cannot read the network key file {path}: {exc}") from None
    keys: dict[str, bytes] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError("not `NAME KEY`")
            key = bytes.fromhex(parts[1])
            if len(key) != net.KEY_LEN:
                raise ValueError(f"a key is {net.KEY_LEN} bytes in hex")
            keys[net.check_name(parts[0])] = key
        except (ValueError, net.NetworkError) as exc:
            raise NetworkCommandError(f"{path} line {number}: {exc}") from None
    return keys


def _tell_node(home: Path, method: str) -> bool:
    """Ask a node running for `home` to apply the change; False if none runs."""
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(home, timeout=10.0) as client:
            client.call(method)
    except (ControlError, OSError):
        return False
    return True


STATE_NOTES = {
    "member": "",
    "waiting": " (waiting for a member to admit you: a node must run and see one)",
    "refused": " (not admitted: no node nearby admitted you: either none of them is in it yet,"
               " or the passphrase is wrong; nodes heard later are still asked; join again"
               " to try another passphrase)",
    "legacy": " (old scheme: its passphrase can be guessed offline; upgrade: one member runs"
              " `p2pchat network create NAME`, the others join again)",
}


def cmd_network(args: argparse.Namespace, load_identity: Any) -> int:
    from p2pchat.core import network as net
    from p2pchat.storage import networks as stored

    home: Path = args.home
    if args.action in ("join", "create"):
        try:
            net.check_name(args.name)
        except net.NetworkError as exc:
            raise NetworkCommandError(str(exc)) from None
    if args.action == "list" and not args.identity_passphrase_file:
        listed = _ask_node(home)  # the running node has them open: no passphrase to type
        if listed is not None:
            _print_view(listed, args.json)
            return 0
        from p2pchat.storage import keystore

        # An identity with no passphrase is unlocked at no cost: then the full view, as --unlock.
        if not args.unlock and keystore.read_header(home).sealed:
            try:
                names = stored.load_names(home)
            except stored.NetworksFileError as exc:
                raise NetworkCommandError(str(exc)) from None
            if names is not None:
                _print_names(names, args.json)
                return 0
            # Written before the names were kept in the clear: unlocking is the only way, and
            # the file is then rewritten so that the next list needs no passphrase.
            print(f"p2pchat: {stored.path_of(home)} was written by an older p2pchat: its"
                  " network names are sealed, so your identity is unlocked to read them (once:"
                  " the file is then rewritten with the names readable without a passphrase)",
                  file=sys.stderr)
    # Here --passphrase-file is the network's: the identity's has an option of its own.
    identity = load_identity(home, argparse.Namespace(
        passphrase_file=args.identity_passphrase_file,
        passphrase_option="--identity-passphrase-file")).identity
    try:
        current = stored.load(home, identity)
        if args.action == "list":
            from p2pchat.node.networks import networks_view

            if stored.load_names(home) is None:  # an older file: its names made clear
                current = stored.change(home, identity, lambda now: now)  # same networks
            _print_view(networks_view(current), args.json)
            return 0
        if args.action == "create":
            return _create(args, home, identity)
        if args.action == "relay-key":
            by_name = {n.name: n for n in current if not n.pending}
            missing = [name for name in args.name if name not in by_name]
            if missing:
                raise NetworkCommandError(f"not a member of network {missing[0]!r}")
            print("# p2pchat network keys for a relay: whoever holds them is a member")
            for name in args.name:
                print(f"{name} {by_name[name].key.hex()}")
            return 0
        if args.action == "join":
            if not args.via and _node_status(home).get("mdns") is False:
                from p2pchat.node.networks import no_discovery

                raise NetworkCommandError(no_discovery(args.name))  # it would wait for ever
            passphrase = read_network_passphrase(args.name, args.passphrase_file)
            text = passphrase.decode("utf-8")
            stored.check_passphrase(text)
            warning = _weak_warning(text)
            if warning:
                print(warning, file=sys.stderr)
            key = _admitted_via(args.via, args.name, text, home) if args.via else b""
            network = stored.Network(args.name, key, text)
            stored.change(home, identity, lambda now: stored.joined(now, network))
        else:
            stored.change(home, identity, lambda now: stored.left(now, args.name))
    except (stored.NetworksFileError, net.NetworkError) as exc:
        raise NetworkCommandError(str(exc)) from None
    except OSError as exc:
        raise NetworkCommandError(f"cannot write the networks file: {exc}") from None
    running = _tell_node(home, "network.reload")
    if args.action == "join" and args.via:
        print(f"Joined network {args.name}: admitted by the member at {args.via}"
              + (" (the running node knows)" if running else ""))
    elif args.action == "join" and running:
        return _await_admission(home, args.name)
    elif args.action == "join":
        print(f"Not joined yet: network {args.name} is kept as waiting; your node asks a"
              " member nearby to admit you once it runs (`p2pchat network list` then says)")
    else:
        print(f"Left network {args.name}" + (" (the running node knows)" if running else ""))
    return 0


# How long `network join` waits for the running node's first round of asking (each node heard
# answers within node/admission.py's ASK_TIMEOUT): "Joined" is said only of an admission
# (trial 13b, B5: "Joined" was printed, then the chat said the passphrase was refused).
JOIN_WAIT = 5.0
JOIN_POLL = 0.2


def _await_admission(home: Path, name: str, wait: float = JOIN_WAIT) -> int:
    """Watch the running node's `status` after a join (bounded): admitted (0), refused (1, as
    `--via` refused is: the join is kept and asked on, but a script can tell), or still waiting
    (0, with why: `p2pchat status` goes on saying it)."""
    import time

    print(f"Asking to join network {name}: the running node asks the members it hears"
          f" (waiting up to {wait:.0f} s for an answer)", flush=True)
    deadline = time.monotonic() + wait
    status: dict[str, Any] = {}
    while True:
        status = _node_status(home)
        if name in (status.get("networks") or []):
            print(f"Admitted to network {name} by a member nearby: you are a member")
            return 0
        if name in (status.get("networks_refused") or []):
            print(f"p2pchat: {name}: no node nearby admitted you: either nobody here is in"
                  f" {name} yet, or the passphrase is wrong (check it with whoever created"
                  f" {name}); the node keeps asking nodes heard later; `p2pchat network join"
                  f" {name}` again tries another passphrase, `p2pchat network leave {name}`"
                  " stops it", file=sys.stderr)
            return 1
        why = [line for line in waiting_lines(status) if line.startswith(f"network {name}:")]
        if why or not status or time.monotonic() >= deadline:
            break
        time.sleep(JOIN_POLL)
    print(why[0] + " (p2pchat status shows it)" if why else
          f"network {name}: waiting: no member has answered yet; the node keeps asking"
          " (p2pchat status shows it)")
    return 0


def _admitted_via(address_text: str, name: str, passphrase: str, home: Path) -> bytes:
    """Run the admission with the member at `address_text` from here; its network key (the
    node's own join --via says the same: node/networks.py). The running node's own address is
    no member's: it would refuse and look like a wrong passphrase (trial 11)."""
    import asyncio

    from p2pchat.net.addresses import parse_addr
    from p2pchat.node.config import CommandError
    from p2pchat.node.networks import admitted_via, listens_at

    listening = []
    for text in _node_status(home).get("listen") or []:
        try:
            listening.append(parse_addr(str(text)))
        except ValueError:
            continue
    try:
        return asyncio.run(admitted_via(address_text, name, passphrase,
                                        lambda address: listens_at(address, listening)))
    except CommandError as exc:
        raise NetworkCommandError(str(exc)) from None


def _weak_warning(passphrase: str) -> str | None:
    from p2pchat.passphrases import join_warning

    return join_warning(passphrase)


def _create(args: argparse.Namespace, home: Path, identity: Any) -> int:
    """A new network: a random key (we are its first member) and a made passphrase."""
    from p2pchat.core import network as net
    from p2pchat.passphrases import WORDS, bits_per_word, generate
    from p2pchat.storage import networks as stored

    passphrase = generate()
    network = stored.Network(args.name, net.new_key(), passphrase)
    stored.change(home, identity, lambda now: stored.joined(now, network))
    running = _tell_node(home, "network.reload")
    bits = WORDS * bits_per_word()
    if args.json:
        print(json.dumps({"network": args.name, "passphrase": passphrase,
                          "bits": round(bits, 1), "node_running": running}))
        return 0
    print(f"Created network {args.name}" + (" (the running node knows)" if running else ""))
    print(f"Passphrase:  {passphrase}")
    print(f"It is {WORDS} random words ({bits:.0f} bits). Give it to the others (they run"
          f" `p2pchat network join {args.name}`); your node admits them while it runs.")
    if not args.no_qr:
        import segno

        segno.make(passphrase, error="m").terminal(compact=True)
    return 0


def _node_status(home: Path) -> dict[str, Any]:
    """The running node's `status`, or {} if none runs."""
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(home, timeout=10.0) as client:
            result = client.call("status")
    except (ControlError, OSError):
        return {}
    return result if isinstance(result, dict) else {}


def _ask_node(home: Path) -> dict[str, Any] | None:
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(home, timeout=10.0) as client:
            result = client.call("network.list")
    except (ControlError, OSError):
        return None
    return result if isinstance(result, dict) else None


NOT_UNLOCKED = ("node not running: each network's state and check code show while it runs,"
                " or with `p2pchat network list --unlock`")


def _print_names(names: list[str], as_json: bool) -> None:
    """The names alone, from the file's clear list (no node running, nothing unlocked)."""
    if as_json:
        print(json.dumps({"names": names, "unlocked": False, "node_running": False}))
        return
    for name in names:
        print(name)
    print(f"({NOT_UNLOCKED})" if names else "In no network.")


def _print_view(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(view))
        return
    states = view.get("states") or {}
    codes = view.get("check_codes") or {}
    for name in states:
        code = f"  check code {codes[name]}" if name in codes else ""
        print(f"{name}{code}{STATE_NOTES.get(str(states[name]), '')}")
    if not states:
        print("In no network.")


def waiting_lines(status: dict[str, Any]) -> list[str]:
    """What `p2pchat status` says of each network not admitted to yet: why it waits (the
    nodes heard limit guesses from this address, or none is heard), or that it was refused."""
    lines = []
    for name, why in (status.get("networks_waiting_why") or {}).items():
        if why.get("reason") == "limited":
            lines.append(f"network {name}: waiting: the nodes heard limit guesses from this"
                         " address (wrong passphrases came from it before, from any node on"
                         f" this machine); asking again in {why.get('seconds')} s")
        elif why.get("reason") == "none_heard":
            lines.append(f"network {name}: waiting: no node of a network is heard nearby yet"
                         " (a member must run with discovery on; or p2pchat network join"
                         f" {name} --via HOST:PORT)")
    lines += [f"network {name}: refused by the nodes asked (nobody there in it yet, or a wrong"
              " passphrase or name); nodes heard later are asked; joining again with another"
              f" passphrase asks them all again: p2pchat network join {name}"
              for name in status.get("networks_refused") or []]
    return lines
