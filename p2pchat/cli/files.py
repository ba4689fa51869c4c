"""`p2pchat file`: send files, list transfers, accept, decline, cancel (over the control socket);
and the file options of `node` and `chat` (--downloads, --auto-accept-size)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from p2pchat.cli.output import fail, print_json
from p2pchat.core.text import human_size as human
from p2pchat.tui.sanitize import clean

FINAL_STATES = ("done", "failed", "declined", "cancelled")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
DEFAULT_AUTO_ACCEPT = "64M"


def parse_size(text: str) -> int:
    """"64M", "1.5G", "1000" (bytes) -> bytes; ValueError when it is not a size."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if found is None:
        raise ValueError(f"{text!r} is not a size (like 500K, 64M or 2G)")
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def add_file_node_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--downloads", metavar="DIR", type=Path,
                        help="where received files go (default: the home's downloads folder)")
    parser.add_argument("--auto-accept-size", metavar="SIZE", default=DEFAULT_AUTO_ACCEPT,
                        help="files from contacts up to this size are saved without asking;"
                        f" larger ones wait for 'file accept' (default {DEFAULT_AUTO_ACCEPT};"
                        " 0 asks for every file)")


def file_config(args: argparse.Namespace) -> dict[str, Any]:
    """The NodeConfig fields the file options set."""
    try:
        auto = parse_size(args.auto_accept_size)
    except ValueError as exc:
        fail(f"--auto-accept-size: {exc}")
    downloads = args.downloads.expanduser().resolve() if args.downloads else None
    return {"downloads": downloads, "auto_accept_size": auto}


def file_node_arguments(args: argparse.Namespace) -> list[str]:
    argv = ["--auto-accept-size", args.auto_accept_size]
    if args.downloads:
        argv += ["--downloads", str(args.downloads.expanduser().resolve())]
    return argv


def add_file_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")
        return sub

    send = action("send", "offer files to a contact or a group (in a terminal: wait, with a"
                  " progress bar)")
    send.add_argument("who", help="a contact's name or fingerprint, or a group's name or id")
    send.add_argument("paths", nargs="+", metavar="PATH", help="the files to send")
    send.add_argument("--wait", action="store_true",
                      help="wait until every file is received, declined or failed (the"
                      " default in a terminal)")
    send.add_argument("--no-wait", action="store_true", help="return once the offers are made")
    action("list", "list transfers, both ways")
    for name, help in (("accept", "accept a file offered to you"),
                       ("decline", "decline a file offered to you"),
                       ("cancel", "stop a transfer, either way")):
        action(name, help).add_argument("id", help="the transfer's id (or its first characters)")


def cmd_file(args: argparse.Namespace) -> int:
    from p2pchat.cli.remote import _call, _read

    if args.action == "send":
        return _send(args)
    if args.action == "list":  # from the store when no node runs, as `contacts` does
        transfers = _read(args, "file.list")
        if args.json:
            print_json(transfers)
        else:
            for t in transfers:
                print(_line(t))
            if not transfers:
                print("no transfers")
        return 0
    result = _call(args, f"file.{args.action}", id=args.id)
    if args.json:
        print_json(result)
    else:
        print(_line(result))
    return 0


def _line(t: dict[str, Any]) -> str:
    arrow = "->" if t["direction"] == "out" else "<-"
    done = f"{human(t['received'])}/{human(t['size'])}"
    where = f"  {clean(t['path'])}" if t.get("path") else ""
    error = f"  ({clean(t['error'])})" if t.get("error") else ""
    return (f"{t['id'][:12]}  {arrow} {clean(t['peer'])}  {clean(t['name'])}  {t['state']}"
            f"  {done}{where}{error}")


def _send(args: argparse.Namespace) -> int:
    from p2pchat.cli.remote import _check_home
    from p2pchat.control_client import ControlClient, ControlError

    _check_home(args.home)
    paths = [str(Path(p).expanduser().resolve()) for p in args.paths]
    tty = sys.stderr.isatty()
    wait = args.wait or (tty and not args.no_wait)
    try:
        with ControlClient(args.home, timeout=None) as client:
            if wait:
                client.call("subscribe")
            sent = client.call("file.send", to=args.who, paths=paths)
            if not wait or all("group" in t for t in sent):  # members fetch when they like
                _print_sent(args, sent)
                return 0
            final = _follow(client, sent, bar=tty)
    except ControlError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot talk to the node: {exc}")
    _print_sent(args, final)
    return 0 if all(t["state"] == "done" for t in final) else 1


def _print_sent(args: argparse.Namespace, transfers: list[dict[str, Any]]) -> None:
    if args.json:
        print(json.dumps(transfers))
    else:
        for t in transfers:
            print(_line(t))


def _follow(client: Any, sent: list[dict[str, Any]], *, bar: bool) -> list[dict[str, Any]]:
    """Wait until every offered file has ended, drawing a progress bar on stderr in a terminal."""
    state = {t["id"]: t for t in sent}
    for event in client.events():
        kind = event.get("type")
        if kind == "lagged":
            for t in client.call("file.list"):
                if t["id"] in state:
                    state[t["id"]] = t
        elif kind in ("file", "file_progress") and event.get("id") in state \
                and event.get("direction") == "out":
            state[event["id"]].update({k: v for k, v in event.items() if k != "type"})
        else:
            continue
        if bar:
            _draw(list(state.values()))
        if all(t["state"] in FINAL_STATES for t in state.values()):
            break
    if bar:
        print(file=sys.stderr)
    return list(state.values())


def _draw(transfers: list[dict[str, Any]]) -> None:
    size = sum(t["size"] for t in transfers) or 1
    done = sum(t["size"] if t["state"] == "done" else t["received"] for t in transfers)
    width = 30
    fill = int(width * done / size)
    waiting = sum(1 for t in transfers if t["state"] == "offered" and not t["received"])
    note = f"  waiting for {waiting} to be accepted" if waiting else ""
    sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {100 * done // size:3d}%"
                     f"  {human(done)}/{human(size)}{note}\x1b[K")
    sys.stderr.flush()
