"""`p2pchat relay` and `p2pchat relay status`: options, the relay's own identity, the status.

Imported by cli/parser.py to build its parser, so only light modules are imported at the top;
asyncio and zeroconf come in with `p2pchat.relay.main` when a relay really starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RELAY_NAME = "relay"


class RelayError(Exception):
    """Something the operator can fix; printed as one line, exit status 1."""


def add_relay_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `p2pchat relay` and its `status` action."""
    from p2pchat.core import relay_defaults as d  # not RelayLimits: see relay_defaults.py

    parser.add_argument("--listen", action="append", metavar="HOST:PORT",
                        help="address to accept clients on; repeatable (default [::]:7744:"
                        " every interface, IPv6 and IPv4)")
    parser.add_argument("--allow", action="append", metavar="FINGERPRINT",
                        help="admit only these clients (repeatable): a private relay")
    parser.add_argument("--network", action="append", metavar="NAME",
                        help="admit only members of this network (repeatable; its key from"
                        " --network-key-file)")
    parser.add_argument("--network-key-file", metavar="FILE",
                        help="the networks' keys, as `p2pchat network relay-key NAME` prints"
                        " them on a member (one `NAME KEY` line each; keep it private)")
    parser.add_argument("--network-passphrase-file", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--no-mdns", action="store_true",
                        help="don't advertise the relay on the local network")
    parser.add_argument("--mdns-interface", action="append", metavar="ADDR",
                        help="advertise only on the interface with this address (repeatable;"
                        " default: every non-loopback interface)")
    parser.add_argument("--max-clients", type=int, default=d.MAX_CLIENTS, metavar="N",
                        help=f"clients attached at once (default {d.MAX_CLIENTS})")
    parser.add_argument("--max-clients-per-host", type=int, default=d.MAX_CLIENTS_PER_HOST,
                        metavar="N", help="of those, from one address"
                        f" (default {d.MAX_CLIENTS_PER_HOST})")
    parser.add_argument("--max-pending", type=int, default=d.MAX_PENDING, metavar="N",
                        help="connections still in their handshake, a budget of their own; when"
                        " it is full the oldest stalled one makes room"
                        f" (default {d.MAX_PENDING})")
    parser.add_argument("--max-pending-per-host", type=int, default=d.MAX_PENDING_PER_HOST,
                        metavar="N", help="of those, from one address"
                        f" (default {d.MAX_PENDING_PER_HOST})")
    parser.add_argument("--max-frame", type=int, default=d.MAX_DATA, metavar="BYTES",
                        help=f"largest frame a client may send (default and most {d.MAX_DATA})")
    parser.add_argument("--max-queue", type=int, default=d.MAX_QUEUE, metavar="BYTES",
                        help="bytes waiting for one slow receiver before frames to it are"
                        f" refused (default {d.MAX_QUEUE})")
    parser.add_argument("--stall-timeout", type=float, default=d.STALL_TIMEOUT,
                        metavar="SECONDS", help="how long a sender waits for a receiver"
                        f" above its high-water mark (default {d.STALL_TIMEOUT:g})")
    parser.add_argument("--byte-rate", type=int, default=d.BYTE_RATE, metavar="BYTES",
                        help=f"bytes per second per client (default {d.BYTE_RATE})")
    parser.add_argument("--frame-rate", type=int, default=d.FRAME_RATE, metavar="N",
                        help=f"frames per second per client (default {d.FRAME_RATE})")
    parser.add_argument("--attach-timeout", type=float, default=d.ATTACH_TIMEOUT,
                        metavar="SECONDS", help="time from connecting to attached"
                        f" (default {d.ATTACH_TIMEOUT:g})")
    parser.add_argument("--idle-timeout", type=float, default=d.IDLE_TIMEOUT,
                        metavar="SECONDS", help="close a client silent this long"
                        f" (default {d.IDLE_TIMEOUT:g})")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="log only warnings")
    actions = parser.add_subparsers(dest="relay_action", metavar="ACTION")
    status = actions.add_parser("status", help="show a relay's clients and counts",
                                description="show a relay's clients and counts")
    status.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                        help="data directory of the relay")
    status.add_argument("--json", action="store_true", help="print a JSON object")


# What each count of `refused or cut` was, for `relay status`.
_REFUSALS_SAID = {
    "pending_full": "connections dropped while too many handshakes were under way",
    "pending_per_host": "connections dropped: too many handshakes from one address",
    "relay_full": "clients refused: the relay had its most clients (--max-clients)",
    "host_full": "clients refused: too many from one address",
    "not_allowed": "clients refused: their key is not on this private relay's allow-list",
    "attach_timeout": "connections cut: no handshake and attach in time (a port scan, or a"
                      " client that went away while connecting)",
    "protocol_error": "connections cut for something the client got wrong (a bad handshake or"
                      " record; something that is not a p2pchat client, or a node dialling"
                      " this address as if it were a contact's); nothing of theirs was"
                      " forwarded",
    "idle_timeout": "clients cut: nothing heard from them for the idle timeout",
    "slow_receiver": "clients cut: they did not read what was forwarded to them",
}


def cmd_relay(args: argparse.Namespace) -> int:
    if getattr(args, "relay_action", None) == "status":
        return _status(args.home, json_out=args.json)
    return _run(args)


# ---------------------------------------------------------------- running


def _limits(args: argparse.Namespace) -> Any:
    from p2pchat.core.relay_limits import RelayLimits

    try:
        return RelayLimits(
            max_clients=args.max_clients, max_pending=args.max_pending,
            max_pending_per_host=args.max_pending_per_host,
            max_clients_per_host=args.max_clients_per_host,
            attach_timeout=args.attach_timeout, idle_timeout=args.idle_timeout,
            max_data=args.max_frame, max_queue=args.max_queue,
            high_water=min(RelayLimits().high_water, args.max_queue),
            stall_timeout=args.stall_timeout,
            byte_rate=args.byte_rate, frame_rate=args.frame_rate,
        )
    except ValueError as exc:
        raise RelayError(f"invalid limit: {exc}") from None


def _allow(args: argparse.Namespace) -> frozenset[bytes] | None:
    from p2pchat.core.identity import FingerprintError, parse_fingerprint

    if not args.allow:
        return None
    keys = set()
    for text in args.allow:
        try:
            keys.add(parse_fingerprint(text))
        except FingerprintError as exc:
            raise RelayError(f"--allow {text!r} is not a valid fingerprint: {exc}") from None
    return frozenset(keys)


def _network_psks(args: argparse.Namespace) -> tuple[bytes, ...]:
    """The handshake PSKs of the --network options, from the keys in --network-key-file. A
    relay never sees a passphrase: it could not admit anyone, and a passphrase-derived key
    would make the relay's handshakes an offline test of it (docs/protocol.md 10.6)."""
    from p2pchat.core import network as net
    from p2pchat.network_command import NetworkCommandError, read_relay_keys

    names = list(dict.fromkeys(args.network or []))
    if not names:
        return ()
    if len(names) > net.MAX_NETWORKS:
        raise RelayError(f"at most {net.MAX_NETWORKS} networks")
    if args.network_passphrase_file:
        raise RelayError("a relay takes the network's key, not its passphrase, since networks"
                         " admit members by a PAKE: on a member run `p2pchat network relay-key"
                         " NAME > FILE`, then give the relay --network-key-file FILE")
    if not args.network_key_file:
        raise RelayError("--network needs --network-key-file FILE (written by `p2pchat network"
                         " relay-key NAME` on a member)")
    try:
        keys = read_relay_keys(args.network_key_file)
    except NetworkCommandError as exc:
        raise RelayError(str(exc)) from None
    psks = []
    for name in names:
        try:
            net.check_name(name)
        except net.NetworkError as exc:
            raise RelayError(f"--network {name}: {exc}") from None
        if name not in keys:
            raise RelayError(f"--network {name}: no key for it in {args.network_key_file}")
        psks.append(net.handshake_psk(keys[name]))
    return tuple(psks)


def relay_identity(home: Path) -> tuple[Any, bool]:
    """The relay's identity from `home`, created (without a passphrase) on first start.

    Returns (identity, created). A relay runs unattended, so nobody could type a passphrase;
    its key is stored unsealed, and that is said out loud.
    """
    from p2pchat.core.identity import Identity
    from p2pchat.storage import keystore

    if not keystore.exists(home):
        identity = Identity.generate()
        keystore.create(home, identity, RELAY_NAME, None)
        return identity, True
    if keystore.read_header(home).sealed:
        raise RelayError(
            f"the identity in {home} is protected by a passphrase, and a relay runs"
            " unattended: give the relay a home of its own (p2pchat --home DIR relay)"
        )
    return keystore.load(home, None).identity, False


def _run(args: argparse.Namespace) -> int:
    from p2pchat.home import ensure_home
    from p2pchat.net.addresses import parse_addr

    try:
        listen = tuple(parse_addr(text) for text in args.listen or ["[::]:7744"])
    except ValueError as exc:
        raise RelayError(f"--listen: {exc}") from None
    limits = _limits(args)
    allow = _allow(args)
    psks = _network_psks(args)
    home = ensure_home(args.home)
    identity, created = relay_identity(home)
    if created:
        print(f"Created the relay's identity in {home}.")
    print(f"Note: the relay's key is stored without a passphrase: anyone who can read {home}"
          " can act as this relay.", flush=True)

    import asyncio

    from p2pchat.logsetup import configure_logging
    from p2pchat.relay.main import serve_relay

    configure_logging(args.verbose - args.quiet)
    try:
        asyncio.run(serve_relay(home, identity, limits, listen=listen, allow=allow,
                                mdns=not args.no_mdns, network_psks=psks,
                                mdns_interfaces=args.mdns_interface))
    except OSError as exc:
        raise RelayError(f"cannot start the relay: {exc.strerror or exc}") from None
    print("relay stopped", flush=True)  # Ctrl-C or SIGTERM: said, and status 0
    return 0


# ---------------------------------------------------------------- status


def _status(home: Path, *, json_out: bool) -> int:
    from p2pchat.relay.status import StatusError, read_status

    try:
        status = read_status(home)
    except StatusError as exc:
        raise RelayError(str(exc)) from None
    if json_out:
        print(json.dumps(status))
        return 0
    import time

    state = "running" if status["running"] else "not running"
    updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.get("updated_at", 0)))
    print(f"relay {status.get('fingerprint', '?')}  {state} (pid {status['pid']},"
          f" status of {updated})")
    print(f"listening: {', '.join(status.get('listen', []))}")
    if status.get("relay"):
        print(f"paste into a node: --relay {status['relay'][0]}")
    print(f"clients attached: {status.get('clients', 0)}"
          f"   handshakes under way: {status.get('pending', 0)}")
    print(f"forwarded: {status.get('frames_forwarded', 0)} frames,"
          f" {status.get('bytes_forwarded', 0)} bytes"
          f"   not here: {status.get('not_here', 0)}"
          f"   dropped (queue full): {status.get('dropped_queue_full', 0)}"
          f"   throttled: {status.get('throttled', 0)}")
    refusals = status.get("refusals") or {}
    shown = ", ".join(f"{k} {v}" for k, v in refusals.items() if v) or "none"
    print(f"refused or cut: {shown}")
    for key, count in refusals.items():  # in words (trial 4, B16: "protocol_error 2" alone)
        if count and key in _REFUSALS_SAID:
            last = status.get("last_protocol_error") if key == "protocol_error" else ""
            print(f"  {key}: {_REFUSALS_SAID[key]}" + (f" (the last: {last})" if last else ""))
    sys.stdout.flush()
    return 0
