"""What the input line means: a message to send or a / command; and what Tab may complete.

Pure functions: parsing never talks to the node. Names may contain spaces (a request from a
stranger whose name was taken is called "bob (ABCDEFG)"), so NAME is the rest of the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from p2pchat.core.identity import FingerprintError, parse_fingerprint
from p2pchat.net.addresses import parse_addr

FINGERPRINT_CHARS = 56  # eight groups of seven, without dashes (see core/identity.py)

# name -> (arguments, what it does); the order is the order of /help.
COMMANDS: dict[str, tuple[str, str]] = {
    "/add": ("FINGERPRINT NAME [HOST:PORT]", "add a contact (the address if mDNS can't find them)"),
    "/accept": ("NAME", "accept someone who asks to connect"),
    "/block": ("NAME", "refuse all links and requests from someone"),
    "/remove": ("NAME", "forget a contact (the history is kept)"),
    "/to": ("NAME", "switch to the conversation with NAME (a contact or a group)"),
    "/group": ("create NAME | invite NAME | remove NAME | members | leave | list",
               "groups; invite, remove, members and leave act on the selected group"),
    "/peers": ("", "live links, nearby nodes and requests"),
    "/id": ("", "your name and fingerprint"),
    "/safety": ("NAME", "the safety number to compare with NAME in person"),
    "/help": ("", "this list"),
    "/quit": ("", "leave (Ctrl-C and Ctrl-D too)"),
}
NAME_COMMANDS = ("/accept", "/block", "/remove", "/to", "/safety")
KEYS_HELP = (
    "Tab/Shift-Tab or Ctrl-N/Ctrl-P: next/previous conversation (Tab completes after /)",
    "PageUp/PageDown: scroll    Esc: clear these notices    //text sends text starting with /",
)


class ParseError(ValueError):
    """What was typed makes no sense; the message says how to type it."""


@dataclass(frozen=True)
class SendText:
    text: str


@dataclass(frozen=True)
class AddContact:
    fingerprint: str
    name: str
    addrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Named:
    """A command about one contact: accept, block, remove, to or safety."""

    command: str
    who: str


@dataclass(frozen=True)
class Plain:
    """A command without arguments: peers, id, help or quit."""

    command: str


@dataclass(frozen=True)
class GroupCommand:
    """/group ACTION [NAME]: create, invite, remove, members, leave or list."""

    action: str
    name: str = ""


GROUP_ACTIONS_WITH_NAME = ("create", "invite", "remove")
GROUP_ACTIONS = (*GROUP_ACTIONS_WITH_NAME, "members", "leave", "list")

Command = SendText | AddContact | Named | Plain | GroupCommand


def parse(line: str) -> Command | None:
    """The command typed on the input line; None for an empty line."""
    if not line.strip():
        return None
    if not line.startswith("/"):
        return SendText(line)
    if line.startswith("//"):
        return SendText(line[1:])  # "//" escapes a message that starts with a slash
    verb, _, rest = line.partition(" ")
    verb = verb.lower()
    rest = rest.strip()
    if verb not in COMMANDS:
        raise ParseError(f"unknown command {verb}: /help lists them")
    if verb == "/add":
        return _parse_add(rest)
    if verb == "/group":
        return _parse_group(rest)
    if verb in NAME_COMMANDS:
        if not rest:
            raise ParseError(f"usage: {usage(verb)}")
        return Named(verb[1:], rest)
    if rest:
        raise ParseError(f"{verb} takes no arguments")
    return Plain(verb[1:])


def _parse_add(rest: str) -> AddContact:
    words = rest.split()
    # The fingerprint may be typed in groups separated by spaces: take words until it is whole.
    taken, letters = 0, 0
    while taken < len(words) and letters < FINGERPRINT_CHARS:
        letters += len(words[taken].replace("-", ""))
        taken += 1
    fingerprint, words = " ".join(words[:taken]), words[taken:]
    if not fingerprint:
        raise ParseError(f"usage: {usage('/add')}")
    try:
        parse_fingerprint(fingerprint)  # a typo is caught here, before the node is asked
    except FingerprintError as exc:
        raise ParseError(f"that fingerprint is not valid: {exc}") from None
    addrs: list[str] = []
    while len(words) > 1 and _is_addr(words[-1]):
        addrs.insert(0, words.pop())  # addresses trail; at least one word stays the name
    if not words:
        raise ParseError(f"a name is needed: {usage('/add')}")
    return AddContact(fingerprint, " ".join(words), tuple(addrs))


def _parse_group(rest: str) -> GroupCommand:
    action, _, name = rest.partition(" ")
    action, name = action.lower(), name.strip()
    if action not in GROUP_ACTIONS:
        raise ParseError(f"usage: {usage('/group')}")
    if (action in GROUP_ACTIONS_WITH_NAME) != bool(name):
        raise ParseError(f"/group {action} {'NAME' if not name else 'takes no name'}")
    return GroupCommand(action, name)


def _is_addr(word: str) -> bool:
    try:
        parse_addr(word)
    except ValueError:
        return False
    return True


def usage(command: str) -> str:
    args = COMMANDS[command][0]
    return f"{command} {args}" if args else command


def help_lines() -> list[str]:
    lines = ["Type a message and Enter to send it to the selected conversation. Commands:"]
    lines += [f"  {usage(cmd):<36} {what}" for cmd, (_, what) in COMMANDS.items()]
    return lines + list(KEYS_HELP)


def complete(text: str, names: Iterable[str]) -> list[tuple[str, int]]:
    """Completions for the text before the cursor: (replacement, start position) pairs.

    The start position is negative, counted back from the cursor, as prompt_toolkit wants.
    """
    if not text.startswith("/") or text.startswith("//"):
        return []
    verb, space, rest = text.partition(" ")
    if not space:
        return [(cmd, -len(text)) for cmd in COMMANDS if cmd.startswith(verb.lower())]
    if verb.lower() not in NAME_COMMANDS:
        return []
    prefix = rest.lstrip()
    wanted = prefix.casefold()
    return [(name, -len(prefix)) for name in sorted(set(names), key=str.casefold)
            if name.casefold().startswith(wanted)]
