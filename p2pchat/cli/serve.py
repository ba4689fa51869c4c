"""The commands that run until stopped: `node`, `chat` (which starts a node behind the screen)
and `relay`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from p2pchat.cli.identity import create_identity, load_identity, unlock_identity
from p2pchat.cli.output import fail
from p2pchat.home import ensure_home


def _with_settings(args: argparse.Namespace) -> argparse.Namespace:
    """The options as typed, with the home's settings (p2pchat settings) where none was typed,
    and last run's choices where neither says: a start told nothing listens where the last
    one did (its port too) and looks for people as it did, never wider (trial 9, B1). Only an
    option or a setting widens it (`--listen [::]:0`, `settings mdns on`)."""
    from p2pchat import settings
    from p2pchat.net.addresses import format_addr

    try:
        kept = settings.load(args.home)
    except settings.SettingsError as exc:
        fail(str(exc))
    last = settings.last_run(args.home)
    merged = argparse.Namespace(**vars(args))
    merged.keep_port = not args.listen  # a typed --listen (port 0 too) is told: a fresh port
    merged.listen = args.listen or kept.get("listen")
    merged.listen_from = "options" if args.listen else "settings" if merged.listen else \
        "default"
    if not merged.listen and last.host is not None:
        merged.listen, merged.listen_from = [format_addr((last.host, 0))], "last run"
    merged.relay = args.relay or kept.get("relay")
    merged.mdns_interface = args.mdns_interface or kept.get("mdns-interface")
    # A typed --mdns-interface is discovery on there, whatever the setting says.
    merged.no_mdns = args.no_mdns or (kept.get("mdns") is False and not args.mdns_interface)
    merged.mdns_from = "options" if args.no_mdns or args.mdns_interface else \
        "settings" if "mdns" in kept or "mdns-interface" in kept else "default"
    if merged.mdns_from == "default" and last.mdns is not None:
        merged.mdns_from = "last run"
        merged.no_mdns = last.mdns is False
        merged.mdns_interface = list(last.mdns) if isinstance(last.mdns, tuple) else None
    merged.presence = args.presence or kept.get("presence") or "public"
    merged.no_found_relays = getattr(args, "no_found_relays", False) or \
        kept.get("found-relays") is False
    return merged


# Tests only: seconds between a group's anti-entropy rounds (10 by default), for tests of real
# processes that would otherwise wait out a round to see what it carries (e.g. `delivered_to`).
# Anything but a number from 0.1 to 3600 is ignored.
GROUP_SYNC_ENV = "P2PCHAT_TEST_GROUP_SYNC_INTERVAL"


def _group_sync_interval(default: float) -> float:
    try:
        seconds = float(os.environ.get(GROUP_SYNC_ENV) or "nan")
    except ValueError:
        return default
    return seconds if 0.1 <= seconds <= 3600 else default


def _node_config(args: argparse.Namespace) -> Any:
    """The NodeConfig that `node` and `chat` build from their shared options and the home's
    settings."""
    from p2pchat.net.addresses import parse_addr
    from p2pchat.net.relay_connection import parse_relay
    from p2pchat.node import NodeConfig

    args = _with_settings(args)
    try:
        listen = tuple(parse_addr(text) for text in args.listen or ["[::]:0"])
    except ValueError as exc:
        fail(f"--listen: {exc}")
    try:
        relays = tuple(dict.fromkeys(parse_relay(text) for text in args.relay or []))
    except ValueError as exc:
        fail(f"--relay: {exc}")
    from p2pchat.cli.files import file_config

    return NodeConfig(
        listen=listen, mdns=not args.no_mdns,
        mdns_interfaces=tuple(args.mdns_interface) if args.mdns_interface else None,
        presence=args.presence, relays=relays, keep_port=args.keep_port, **file_config(args),
        found_relays=not args.no_found_relays,
        listen_from=args.listen_from, mdns_from=args.mdns_from,
        group_sync_interval=_group_sync_interval(NodeConfig.group_sync_interval),
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
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot start the node: {exc.strerror or exc}")
    return 0


def node_arguments(args: argparse.Namespace) -> list[str]:
    """The options of `parser._add_node_options` as parsed, written back as `node` arguments: what
    `chat` gives the node it starts (the passphrase goes its own way)."""
    argv = ["--presence", args.presence] if args.presence else []
    for option, values in (("--listen", args.listen), ("--mdns-interface", args.mdns_interface),
                           ("--relay", args.relay)):
        for value in values or []:
            argv += [option, value]
    if args.no_mdns:
        argv.append("--no-mdns")
    if getattr(args, "no_found_relays", False):
        argv.append("--no-found-relays")
    from p2pchat.cli.files import file_node_arguments

    return argv + file_node_arguments(args)


def cmd_chat(args: argparse.Namespace) -> int:
    from p2pchat.storage import keystore

    config = _node_config(args)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail("'p2pchat chat' needs a terminal; scripts can use the other commands")
    home = ensure_home(args.home)
    from p2pchat.tui.main import Background, StartError, run_chat  # prompt_toolkit only here

    unlocked: list[bytes | None] = []
    first_kept: list[dict[str, Any]] = []  # what the first run kept as settings, said at the end

    def unlock() -> Any:
        if not keystore.exists(home):  # a first run: create the identity, ask nothing twice
            print("Welcome to p2pchat. First, your identity (it stays on this machine).")
            stored, passphrase = create_identity(home, args)
            first_kept.append(_keep_first_run_places(home, args))
        else:
            never_started = _never_started(home)  # a home made with `init` (trial: its relay lost)
            stored, passphrase = unlock_identity(home, args)
            if never_started:
                first_kept.append(_keep_first_run_places(home, args))
        unlocked.append(passphrase)
        return stored

    def background(bound: list[str]) -> Background:
        # A typed --listen on the chat node's own addresses and ports (not ...:0 again): an
        # address a friend typed keeps working (trial 2, 16). Untyped, the background node
        # keeps the chat node's host, port and mDNS choice from the home as any start does
        # (its bound 0.0.0.0 and [::] would not be the "::" it was).
        kept = argparse.Namespace(**{**vars(args),
                                     "listen": (bound or args.listen) if args.listen else None})
        argv = [sys.executable, "-m", "p2pchat", "--home", str(home), "node",
                "--passphrase-file", "/dev/stdin", *node_arguments(kept)]
        return Background(argv, unlocked[0] if unlocked else None)

    from p2pchat.cli.files import DEFAULT_AUTO_ACCEPT

    typed = {"--listen": args.listen, "--relay": args.relay, "--no-mdns": args.no_mdns,
             "--mdns-interface": args.mdns_interface, "--presence": args.presence,
             "--no-found-relays": args.no_found_relays,
             # the file options too: a running node keeps its own (trial 5, 11)
             "--downloads": args.downloads,
             "--auto-accept-size": args.auto_accept_size
             if args.auto_accept_size != DEFAULT_AUTO_ACCEPT else None}
    try:
        return run_chat(home, config, unlock, background, typed)
    except StartError as exc:
        fail(str(exc))
    finally:
        if first_kept and first_kept[0]:
            from p2pchat.tui.farewell import say

            say(_kept_words(home, first_kept[0]))


def _never_started(home: Path) -> bool:
    """No node ever ran in `home` (no last-run file, no store): its first `chat` keeps what it
    was told as a first run does, if the identity came from `init`."""
    from p2pchat import settings
    from p2pchat.node.node import DB_FILE

    return not (home / settings.PORT_FILE).exists() and not (home / DB_FILE).exists()


def _keep_first_run_places(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The run that creates the home keeps where it was told to listen, its relays and whether
    to look for people as the home's settings, as `settings listen` / `settings relay` /
    `settings mdns off` would (trial 6, B10; trial 10, B1: --no-mdns was not kept). Settings
    already kept win. Returns what it kept, for `_kept_words` to say once the port is known."""
    from p2pchat import settings

    try:
        kept = settings.load(home)
    except settings.SettingsError:
        return {}  # said when the node starts
    typed = {key: value for key, value in (("listen", args.listen),
                                           ("relay", args.relay),
                                           ("mdns-interface", args.mdns_interface),
                                           ("mdns", ["off"] if args.no_mdns else None))
             if value and key not in kept}
    if not typed:
        return {}
    try:
        chosen = {k: settings.check(k, v) for k, v in typed.items()}
        settings.save(home, {**kept, **chosen})
    except (settings.SettingsError, OSError) as exc:
        print(f"p2pchat: note: could not keep {', '.join(typed)} for next time: {exc}",
              file=sys.stderr)
        return {}
    return chosen


def _kept_words(home: Path, kept: dict[str, Any]) -> str:
    """What the first run kept, in words, with the port it really got (trial 10, B6: "listen
    127.0.0.1:0 (the port too)" said neither which port nor that --no-mdns was kept)."""
    from p2pchat import settings
    from p2pchat.net.addresses import parse_addr

    said = []
    if kept.get("listen"):
        first, *others = [parse_addr(text) for text in kept["listen"]]
        port = first[1] or settings.last_run(home).port
        said.append(f"listen {' and '.join(h for h, _ in [first, *others])}"
                    + (f", port {port}" if port else ""))
    if kept.get("relay"):  # trial: a relay typed on the first chat was lost on restart
        said.append(f"relay {', '.join(relay.split('#')[0] for relay in kept['relay'])}")
    if kept.get("mdns") is False:
        said.append("discovery off")
    elif kept.get("mdns-interface"):
        said.append(f"discovery on {', '.join(kept['mdns-interface'])} only")
    return f"Kept for the next starts: {'; '.join(said)}; 'p2pchat settings' changes it."


def cmd_relay(args: argparse.Namespace) -> int:
    from p2pchat.relay.command import RelayError
    from p2pchat.relay.command import cmd_relay as run_relay

    try:
        return run_relay(args)
    except RelayError as exc:
        fail(str(exc))
