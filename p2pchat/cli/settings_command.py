"""`p2pchat settings`: what the home keeps about how its node runs (p2pchat/settings.py)."""

from __future__ import annotations

import argparse
from typing import Any

from p2pchat.cli.output import fail, print_json
from p2pchat.cli.plain_start import plain_start
from p2pchat.home import ensure_home


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    from p2pchat.settings import KEYS

    parser.add_argument("key", nargs="?", metavar="KEY", choices=list(KEYS),
                        help="; ".join(f"{key}: {meaning}" for key, (meaning, _) in KEYS.items()))
    parser.add_argument("value", nargs="*", metavar="VALUE", help="the new value(s)")
    parser.add_argument("--unset", action="store_true", help="forget KEY: back to the default")
    parser.add_argument("--json", action="store_true", help="print a JSON object")


def cmd_settings(args: argparse.Namespace) -> int:
    from p2pchat import settings

    home = ensure_home(args.home)
    try:
        kept: dict[str, Any] = settings.load(home)
        if args.key and args.unset:
            kept.pop(args.key, None)
            settings.save(home, kept)
        elif args.key and args.value:
            kept[args.key] = settings.check(args.key, args.value)
            settings.save(home, kept)
        elif args.key:
            fail(f"give a value for {args.key}, or --unset to forget it")
        elif args.value or args.unset:
            fail("name the setting: p2pchat settings KEY VALUE..., or KEY --unset")
    except settings.SettingsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot save the settings: {exc.strerror or exc}")
    if args.json:
        print_json(kept)
        return 0
    if not kept:
        print("No settings kept.")
    for key, value in kept.items():
        shown = " ".join(value) if isinstance(value, list) else \
            ("on" if value is True else "off" if value is False else value)
        print(f"{key:<15} {shown}{_port_note(home, key, value)}")
    print(plain_start(home))  # settings, else the last run's, else defaults (trial 11)
    if args.key and _node_runs(home):
        print("Your node is running: it keeps its options until it restarts.")
    return 0


def _port_note(home: Any, key: str, value: Any) -> str:
    """A listen setting on port 0 keeps the port the node got (trial 10, B6: "which port, if
    the setting says :0?"): the port, in words."""
    from p2pchat.settings import last_run

    port = last_run(home).port
    if key != "listen" or not port or not str(value[0]).endswith(":0"):
        return ""
    return f"  (port {port}, kept from the last run)"


def _node_runs(home: Any) -> bool:
    """A node answers for `home` (only then is there one that keeps its old options)."""
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(home, timeout=5.0) as client:
            client.call("status")
    except (ControlError, OSError):
        return False
    return True
