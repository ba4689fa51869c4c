"""`p2pchat search [WHO] TEXT`: messages that contain TEXT, in every conversation (as the chat's
/search) or with WHO only (trial 4, 25: `search ping` was a usage error)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from p2pchat.cli.output import fail, print_json
from p2pchat.tui.sanitize import clean

Call = Callable[..., Any]


@contextlib.contextmanager
def _reader(args: argparse.Namespace) -> Iterator[Call]:
    """The running node's read methods, or with none the store's (the key unlocked once)."""
    from p2pchat.cli.remote import _check_home
    from p2pchat.control_client import ControlClient, ControlError

    _check_home(args.home)
    try:
        client = ControlClient(args.home)
    except ControlError as exc:
        if exc.code != "no_node":
            fail(str(exc))
    except OSError as exc:
        fail(f"cannot talk to the node: {exc}")
    else:
        with client:
            yield client.call
        return
    from p2pchat.cli.identity import load_identity
    from p2pchat.offline import OfflineReader
    from p2pchat.storage import keystore

    header = keystore.read_header(args.home)
    body_key = load_identity(args.home, args).identity.derive_key("store")
    with OfflineReader(args.home, header.public_key, header.name, body_key) as reader:
        yield reader.call


def _conversations(call: Call) -> list[tuple[str, str]]:
    """(what `log` takes, the name to show) of every contact's and group's conversation."""
    found = [(str(c["fingerprint"]), clean(c["name"])) for c in call("contacts.list")
             if c.get("state") != "request"]
    return found + [(str(g["group"]), "#" + clean(g["title"])) for g in call("groups.list")
                    if g.get("role") != "invited"]


def cmd_search(args: argparse.Namespace) -> int:
    """Messages that contain TEXT (case-insensitive), oldest first in each conversation."""
    from p2pchat.cli.remote import _said
    from p2pchat.control_client import ControlError
    from p2pchat.node.config import CommandError

    if len(args.terms) > 2:
        fail("quote a TEXT with spaces: p2pchat search 'TEXT WITH SPACES' (every"
             " conversation), or p2pchat search WHO 'TEXT WITH SPACES'")
    who, text = (None, args.terms[0]) if len(args.terms) == 1 else args.terms
    wanted = text.casefold()
    count = searched = 0
    with _reader(args) as call:
        where = [(who, "")] if who is not None else _conversations(call)
        for conv, name in where:
            try:
                messages = call("log", **{"with": conv, "limit": None})
            except (CommandError, ControlError) as exc:
                if who is not None:
                    fail(str(exc))
                continue  # one we cannot read (blocked before any message, say): the others
            searched += 1
            for m in messages:
                if wanted not in str(m.get("text", "")).casefold():
                    continue
                count += 1
                if args.json:
                    print_json(m if who is not None else {**m, "in": name})
                else:
                    when = clean(m["sent_at"])[:19].replace("T", " ")
                    print(f"{when}  {f'[{name}] ' if name else ''}{_said(m)}")
    if not count and not args.json:
        scope = f"with {clean(who)}" if who is not None else \
            f"in {searched} conversation{'s' * (searched != 1)}"
        print(f"Nothing {scope} contains {clean(text)!r}.", file=sys.stderr)
    return 0
