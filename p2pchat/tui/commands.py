"""What the input line means: a message to send or a / command; and what Tab may complete.

Pure functions: parsing never talks to the node. Names may contain spaces (a request from a
stranger whose name was taken is called "bob (ABCDEFG)"), so NAME is the rest of the line;
commands that take a NAME and then more text (/msg, /rename, /addr) are split by the controller,
which knows the names.

Adding a command is one `Spec` in COMMANDS (its place there is its place in /help) and one
handler in the controller's table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from p2pchat.core.identity import FingerprintError, parse_fingerprint
from p2pchat.core.text import split_text
from p2pchat.net.addresses import parse_addr

FINGERPRINT_CHARS = 56  # eight groups of seven, without dashes (see core/identity.py)


@dataclass(frozen=True)
class Spec:
    args: str  # as /help shows them; "" for none
    help: str
    # What Tab completes for the first argument: "" nothing, "name" a conversation,
    # "blocked" a blocked contact, "nearby" someone nearby, "path" a file's path (the caller
    # lists the directory being typed: `extra["path"]`).
    completes: str = ""
    takes_rest: bool = False  # everything after the verb is one argument (may be empty)


# name -> Spec; the order is the order of /help.
COMMANDS: dict[str, Spec] = {
    "/msg": Spec("NAME [TEXT]", "open NAME's conversation (contact or group), send TEXT;"
                 " or /to", "name"),
    "/add": Spec("FINGERPRINT NAME", "add a contact, + HOST:PORT if not found; /add NUMBER"
                 " or NAME", "nearby"),
    "/addr": Spec("NAME HOST:PORT...", "where to reach a contact discovery can't find (none:"
                  " discovery)", "name"),
    "/accept": Spec("NAME", "accept someone who asks to connect", "name"),
    "/block": Spec("NAME", "refuse all links and requests from someone (asks first)", "name"),
    "/unblock": Spec("NAME", "let a blocked contact reach you again", "blocked"),
    "/remove": Spec("NAME", "forget a contact; they may ask again (/block refuses them)",
                    "name"),
    "/rename": Spec("NAME NEWNAME", "call a contact something else", "name"),
    "/nick": Spec("NAME", "change your own name (linked contacts see it at once)",
                  takes_rest=True),
    "/contacts": Spec("", "contacts, requests and blocked people"),
    "/nearby": Spec("", "people on this network (then /add NUMBER)"),
    "/network": Spec("ACTION", "room passwords: join NAME [--via HOST:PORT] PASS; leave; list",
                     takes_rest=True),
    "/file": Spec("PATH", "send a file here (Tab: the path); /file accept|decline|cancel ID,"
                  " list", "path", takes_rest=True),
    "/search": Spec("TEXT", "find TEXT in every conversation, marked; then /jump N",
                    takes_rest=True),
    "/jump": Spec("N", "open result N of the last /search, at that message"),
    "/verify": Spec("NAME [yes|no]", "safety number and QR code; /verify NAME yes once they"
                    " matched", "name"),
    "/safety": Spec("NAME", "the safety number to compare with NAME in person", "name"),
    "/group": Spec("ACTION [NAME]", "create NAME [CONTACT...], list; in a group: invite/remove"
                   " NAME, admin/unadmin/transfer NAME, members, leave; accept/decline; forget"),
    "/receipts": Spec("[N]", "in a group: who has your last (Nth) message, who not yet (live)",
                      takes_rest=True),
    "/rekey": Spec("", "new session keys on every link, now"),
    "/peers": Spec("", "live links, nearby nodes and requests"),
    "/id": Spec("", "your name and fingerprint, to give to friends"),
    "/notices": Spec("", "the recent notices in full (a long one ends in … on its row)"),
    "/help": Spec("", "this list (Esc returns to the conversation)"),
    "/quit": Spec("", "leave (Ctrl-D on an empty line too)"),
}
# IRC habits: run like the others, told in one line of /help (IRC_HELP), not one each.
IRC_COMMANDS: dict[str, Spec] = {
    "/me": Spec("TEXT", "an action: others see * NAME TEXT", takes_rest=True),
    "/j": Spec("NAME", "open a conversation or group (never sends anything)", "name"),
    "/names": Spec("", "the open group's members, else your contacts"),
}
ALIASES = {"/to": "/msg", "/q": "/quit", "/query": "/msg", "/join": "/j"}
IRC_HELP = "  IRC: /me TEXT, /query NAME (/msg), /j NAME (opens, sends nothing), /names."
KEYS_HELP = (  # "Keys:" shares its row: the whole page fits 120x40 (tests/tui/test_tmux.py)
    "Keys: Alt+Enter or Ctrl-J starts a new line; Ctrl-U clears all before the cursor.",
    "  Tab completes commands and names. Alt+Up/Down, Ctrl-P/N or Alt+1..9 (the list's"
    " numbers) switch conversation, Alt+A to the next unread; each keeps its draft.",
    "  PageUp/PageDown, Home/End (Ctrl-Home/Ctrl-End while typing) and the mouse wheel scroll."
    " Esc closes this page and clears the notices (a key typed right after it is typed).",
    "  Ctrl-D deletes a character, and quits on an empty line; Ctrl-C quits (asking first if"
    " a draft would be lost). //text sends text starting with /. A y/n question: y or n, then"
    " Enter.",
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
class AddNearby:
    """/add with a number or name from /nearby instead of a fingerprint."""

    who: str


@dataclass(frozen=True)
class Named:
    """A command with one argument: a NAME (maybe followed by more), or TEXT."""

    command: str
    who: str


@dataclass(frozen=True)
class Plain:
    """A command without arguments."""

    command: str


Command = SendText | AddContact | AddNearby | Named | Plain

GROUP_ACTIONS_WITH_NAME = ("create", "invite", "remove", "admin", "unadmin", "transfer")
# An invitation, or a group left: NAME, or the conversation open now (issue 22).
GROUP_ACTIONS_NAME_OR_CURRENT = ("accept", "decline", "forget")
GROUP_ACTIONS = (*GROUP_ACTIONS_WITH_NAME, "members", "leave", "list",
                 *GROUP_ACTIONS_NAME_OR_CURRENT)


_GAPS = re.compile(r"[^\S\n]")  # whitespace but a new line


def canonical(verb: str) -> str:
    verb = verb.lower()
    return ALIASES.get(verb, verb)


def parse(line: str) -> Command | None:
    """The command typed on the input line; None for an empty line."""
    if not line.strip():
        return None
    if not line.startswith("/"):
        return SendText(line)
    if line.startswith("//"):
        return SendText(line[1:])  # "//" escapes a message that starts with a slash
    # Any whitespace ends the verb, a tab or a no-break space too (s36 hunt1 F2: a pasted
    # `/network<TAB>join ...` was an "unknown command" quoting the passphrase); the gaps of
    # a NAME are spaces (/network reads its own words: a passphrase is kept as typed).
    verb, rest = (*line.split(None, 1), "")[:2]
    verb = canonical(verb)
    rest = rest.strip() if verb in ("/network", "/file") else _GAPS.sub(" ", rest).strip()
    spec = COMMANDS.get(verb) or IRC_COMMANDS.get(verb)
    if verb == "/me":
        if not rest:
            raise ParseError("usage: /me TEXT")
        return SendText(f"/me {rest}")  # shown as an action; other clients see "/me TEXT"
    if spec is None:
        raise ParseError(f"unknown command {verb}: /help lists them")
    if verb == "/add":
        return _parse_add(rest)
    if verb == "/group":
        parse_group(rest)  # a mistake is told before anything runs
    if spec.args:
        if not rest and not spec.takes_rest:
            raise ParseError(f"usage: {usage(verb)}")
        return Named(verb[1:], rest)
    if rest:
        raise ParseError(f"{verb} takes no arguments")
    return Plain(verb[1:])


def _looks_like_fingerprint(words: list[str]) -> bool:
    """A fingerprint attempt (then a typo is an error), not a name from /nearby."""
    groups = words[:8]
    return ("-" in words[0] or len(words[0]) >= 15
            or (len(groups) == 8 and all(len(w) == 7 for w in groups)))


def _parse_add(rest: str) -> AddContact | AddNearby:
    words = rest.split()
    if not words:
        raise ParseError(f"usage: {usage('/add')}")
    if not _looks_like_fingerprint(words):
        return AddNearby(rest)  # a number or name from /nearby
    # The fingerprint may be typed in groups separated by spaces: take words until it is whole.
    taken, letters = 0, 0
    while taken < len(words) and letters < FINGERPRINT_CHARS:
        letters += len(words[taken].replace("-", ""))
        taken += 1
    fingerprint, words = " ".join(words[:taken]), words[taken:]
    try:
        parse_fingerprint(fingerprint)  # a typo is caught here, before the node is asked
    except FingerprintError as exc:
        raise ParseError(f"that fingerprint is not valid: {exc}") from None
    addrs: list[str] = []
    while len(words) > 1 and _is_addr(words[-1]):
        addrs.insert(0, words.pop())  # addresses trail; at least one word stays the name
    if not words:
        raise ParseError(f"a name is needed: /add {fingerprint[:15]}... NAME")
    return AddContact(fingerprint, " ".join(words), tuple(addrs))


def parse_group(rest: str) -> tuple[str, str]:
    """/group's argument as (action, NAME): NAME for create, invite and remove, else ""."""
    action, _, name = rest.partition(" ")
    action, name = action.lower(), name.strip()
    if action not in GROUP_ACTIONS:
        raise ParseError(f"usage: {usage('/group')}")
    if action in GROUP_ACTIONS_NAME_OR_CURRENT:
        return action, name
    if (action in GROUP_ACTIONS_WITH_NAME) != bool(name):
        raise ParseError(f"/group {action} {'NAME' if not name else 'takes no name'}")
    return action, name


def _is_addr(word: str) -> bool:
    try:
        parse_addr(word)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class NetworkCommand:
    """/network join NAME PASSPHRASE, /network leave NAME, /network list."""

    action: str
    name: str = ""
    passphrase: str = field(default="", repr=False)
    via: str = ""  # join --via HOST:PORT: the member to ask (discovery off, trial 4, B3)


_NETWORK_USAGE = ("usage: /network join NAME [--via HOST:PORT] PASSPHRASE, /network leave"
                  " NAME, /network list")
# A word of /network join's line: a quoted name ("my class", as README allows), or a word;
# any whitespace (a tab, a no-break space, a newline) is a gap (s36 hunt1 F2, F13).
_TOKEN = re.compile(r"""\s*("[^"\n]*"(?=\s|$)|'[^'\n]*'(?=\s|$)|\S+)""")


def _via(word: str) -> bool:
    return word.lower() == "--via" or word.lower().startswith("--via=")


def parse_network(rest: str) -> NetworkCommand:
    """The arguments of /network (the passphrase is the rest of the line: it may have spaces)."""
    words = rest.split(None, 1)
    action = words[0].lower() if words else ""
    args = words[1].strip() if len(words) > 1 else ""
    if action == "list" and not args:
        return NetworkCommand("list")
    if action == "leave" and args and len(args.split()) == 1:
        return NetworkCommand("leave", args)
    if action == "create":  # where, not only how not (trial 14b, B12)
        name = args.split()[0] if args else ""
        name = name if name.isprintable() and name else "NAME"  # never the passphrase
        raise ParseError(f"networks are created from the command line: p2pchat network create"
                         f" {name} (it makes the passphrase the others join with); here:"
                         f" /network join {name} PASSPHRASE")
    if action != "join":
        raise ParseError(_NETWORK_USAGE)
    via, name, pos = "", "", 0
    while (token := _TOKEN.match(args, pos)) is not None:
        word, pos = token.group(1), token.end()
        if _via(word) and not via:
            via = word.partition("=")[2]
            if not via and (address := _TOKEN.match(args, pos)) is not None:
                via, pos = address.group(1), address.end()
            continue
        if name:
            pos = token.start(1)
            break
        if word[:1] in "\"'":
            if len(word) < 2 or word[-1] != word[0]:
                raise ParseError(f"the name's {word[0]} is not closed: /network join"
                                 " \"NAME WITH SPACES\" PASSPHRASE")
            word = word[1:-1]
        name = word
    passphrase = args[pos:].strip() if name else ""
    if name and passphrase and (via or not _via(passphrase.split()[0])):
        return NetworkCommand("join", name, passphrase, via)
    raise ParseError(_NETWORK_USAGE)


# `network join NAME ` anywhere in a line, whatever is before it: a "/" lost or mistyped
# (`?network`, `\network`, `／network`, `/ network`), after other text (a draft left in the
# input, trial 9 B12), on a second line, or inside a command that sends (`/me network ...`,
# `/nick network ...`): the passphrase is never shown nor sent (s36 hunt1 F1, F3, F6, F8, F9).
_SECRET_AFTER = re.compile(r"network(?:\s|[-_])+join\s+", re.IGNORECASE)
# A near miss of it (trial 14a, B3: `/netwrok join club PASS` showed the passphrase): after a
# mark typed for the "/" (`/`, `//`, `?`, `\`...), a word close to "network" (or its start,
# "/net"), a word close to "join" (or "create", which a user may think takes one).
_MARK = re.compile(r"[^\w\s]+")
_NEAR_SECRET = re.compile(r"\s*([A-Za-z]+)(?:\s|[-_])+([A-Za-z]+)\s+")
# IRC's channel key: `/join #class PASS` (s36 hunt1 F5); no key has a use here.
_IRC_KEY = re.compile(r"(?:^|(?<=\s))/j(?:oin)?\s+#\S+\s", re.IGNORECASE)
# What `--via` is followed by while it is an address (typed, or being typed): shown.
_ADDR_LIKE = re.compile(r"(?:[\w.\-]+|\[[0-9A-Fa-f:.]*\]?)?:\d*|[\d.]+|\[[0-9A-Fa-f:.]*")
NEAR_MISS = 2  # edits (a swap of two letters is one) from the word meant


def _edits(typed: str, word: str) -> int:
    """The optimal-string-alignment distance: insertions, deletions, changes and swaps."""
    rows = [list(range(len(word) + 1))]
    for i, a in enumerate(typed, 1):
        row = [i] + [0] * len(word)
        for j, b in enumerate(word, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a != b))
            if i > 1 and j > 1 and a == word[j - 2] and typed[i - 2] == b:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _near_passphrase_command(verb: str, action: str) -> bool:
    verb, action = verb.lower(), action.lower()
    network = (len(verb) >= 3 and "network".startswith(verb)) \
        or _edits(verb, "network") <= NEAR_MISS
    return network and len(action) >= 3 and any(
        _edits(action, meant) <= NEAR_MISS for meant in ("join", "create"))


def _joins(text: str) -> list[int]:
    """Where each `network join ` (or a near miss after a mark) in `text` ends."""
    ends = [found.end() for found in _SECRET_AFTER.finditer(text)]
    for mark in _MARK.finditer(text):  # each in turn: `/msg bob /netwrok join ...`
        near = _NEAR_SECRET.match(text, mark.end())
        if near is not None and _near_passphrase_command(near.group(1), near.group(2)):
            ends.append(near.end())
    return sorted(ends)


def _passphrase_at(text: str, pos: int) -> int | None:
    """After `join `: where the passphrase begins, past the NAME (maybe quoted) and any
    `--via HOST:PORT` (an address, not a secret: masked, a typo in it could not be seen,
    trial 5, B11); len(text) while "--via" is being typed; None while the NAME is."""
    named, after_via = False, False
    while (token := _TOKEN.match(text, pos)) is not None:
        word, pos = token.group(1), token.end()
        typing = pos == len(text)
        if after_via and _ADDR_LIKE.fullmatch(word):
            after_via = False
        elif _via(word):
            after_via = word.lower() == "--via"
        elif not named:
            if typing:
                return None
            named = True
        elif typing and word.startswith("-") and "--via".startswith(word.lower()):
            return len(text)
        else:
            return token.start(1)  # `--via PASS`, the address forgotten, is starred (F4)
    return len(text) if named else None


def _secret_after(text: str) -> int | None:
    """Where the passphrase begins in `text`, or None (see secret_start)."""
    starts = [at for end in _joins(text) if (at := _passphrase_at(text, end)) is not None]
    key = _IRC_KEY.search(text)
    if key is not None:
        starts.append(key.end())
    return min(starts) if starts else None


def secret_start(text: str) -> int | None:
    """Where the passphrase of a typed `/network join NAME PASSPHRASE` (or a near miss of it,
    anywhere in the line) begins, or None: the screen masks it from there and the input
    history never keeps the line."""
    return _secret_after(text)


def holds_secret(text: str) -> bool:
    """The input's mask would star some of `text`: it holds a passphrase. Such text never
    leaves as a message, whatever the path (trial 14a, B1, B2)."""
    start = secret_start(text)
    return start is not None and bool(text[start:].strip())


def masked(text: str) -> str:
    """`text` as the input shows it: the passphrase starred, one star a character. Every
    place that quotes a typed line back (answers, refusals, /notices) quotes it so."""
    start = secret_start(text)
    if start is None:
        return text
    return text[:start] + "".join(ch if ch == "\n" else "*" for ch in text[start:])


def secret_without_slash(text: str) -> bool:
    """`network join NAME PASSPHRASE` typed as a message, without its "/" or after other text:
    never sent, the passphrase would go out in clear to whoever the conversation is with."""
    return not text.lstrip().startswith("/") and secret_start(text) is not None


def as_command(text: str) -> str:
    """` /help`: blanks typed before a known command; the line runs as that command (trial
    14a, B1: it went out as a message, the passphrase of ` /network join` with it)."""
    stripped = text
    while stripped[:1] and (stripped[0].isspace() or unicodedata.category(stripped[0]) == "Cf"):
        stripped = stripped[1:]  # a soft hyphen or a zero-width space from a paste (F11)
    if stripped == text or not stripped.startswith("/") or stripped.startswith("//"):
        return text
    verb = canonical(stripped.split(maxsplit=1)[0])
    return stripped if verb in COMMANDS or verb in IRC_COMMANDS else text


def usage(command: str) -> str:
    args = (COMMANDS.get(command) or IRC_COMMANDS[command]).args
    return f"{command} {args}" if args else command


def help_lines() -> list[str]:
    lines = ["Enter sends what you type to the open conversation. Commands:"]
    width = max(len(usage(cmd)) for cmd in COMMANDS)
    lines += [f"  {usage(cmd):<{width}}  {spec.help}" for cmd, spec in COMMANDS.items()]
    return [*lines, IRC_HELP, *KEYS_HELP]


def complete(text: str, names: Iterable[str],
             extra: Mapping[str, Iterable[str]] | None = None) -> list[tuple[str, int]]:
    """Completions for the text before the cursor: (replacement, start position) pairs.

    `names` are the conversations; `extra` maps a Spec.completes kind ("blocked", "nearby") to
    its candidates. The start position is negative, counted back from the cursor, as
    prompt_toolkit wants.
    """
    if not text.startswith("/") or text.startswith("//"):
        # In a message, the word being typed completes to a name (as weechat does nicks).
        word = text.rsplit(None, 1)[-1] if text and not text[-1].isspace() else ""
        wanted = word.casefold()
        return [(name, -len(word)) for name in sorted(set(names), key=str.casefold)
                if wanted and " " not in name and name.casefold().startswith(wanted)
                and name.casefold() != wanted]
    verb, space, rest = text.partition(" ")
    if not space:
        # A command that takes more gets its space too: what is typed next is its argument.
        specs = COMMANDS | IRC_COMMANDS
        verbs = list(specs) + list(ALIASES)
        return [(cmd + " " * bool(specs[canonical(cmd)].args), -len(text)) for cmd in verbs
                if cmd.startswith(verb.lower())]
    spec = COMMANDS.get(canonical(verb)) or IRC_COMMANDS.get(canonical(verb))
    if canonical(verb) == "/group":
        return _complete_group(rest, names, extra or {})
    if canonical(verb) == "/network" and " " not in rest.lstrip():
        action = rest.lstrip().lower()
        return [(a + " " * (a != "list"), -len(action)) for a in ("join", "leave", "list")
                if a.startswith(action) and (a != action or a != "list")]
    if spec is None or not spec.completes:
        return []
    if spec.completes == "name":
        candidates: Iterable[str] = names
    else:
        candidates = (extra or {}).get(spec.completes, ())
    # A completed name gets its space, as a command does (a path may go on: no space there).
    return _arguments(rest, candidates, space=spec.completes != "path")


def _arguments(typed: str, candidates: Iterable[str], *,
               space: bool = True) -> list[tuple[str, int]]:
    """The candidates that complete the argument being typed, each with the space after it."""
    prefix = typed.lstrip()
    wanted = prefix.casefold()
    names = sorted(set(candidates), key=str.casefold)

    def bare(name: str) -> str:  # "ca" completes "@carol" and "#carol" (trial 13c, B11)
        folded = name.casefold()
        return folded[1:] if folded[:1] in "@#" and wanted[:1] not in "@#" else folded

    # A whole name typed is kept, first (trial 12: "/msg bob" Tab gave a longer "bob (X)").
    longer = [(name + " " * space, -len(prefix)) for name in names
              if bare(name).startswith(wanted) and name.casefold() != wanted]
    whole = [name for name in names if name.casefold() == wanted] if longer and space else []
    return [(name + " ", -len(prefix)) for name in whole] + longer


# What the NAME of each /group action is: `extra`'s key for its candidates, None for
# conversation names (a member of the open group need not be a contact).
_GROUP_NAMES: dict[str, str | None] = {
    "invite": "contacts", "remove": None, "admin": None, "unadmin": None, "transfer": None,
    "accept": "invited", "decline": "invited", "forget": "ended"}


def _complete_group(rest: str, names: Iterable[str],
                    extra: Mapping[str, Iterable[str]]) -> list[tuple[str, int]]:
    """/group ACTION, then what that action's NAME is: a contact to invite, a pending
    invitation to accept or decline, a group left to forget."""
    action, space, name = rest.lstrip().partition(" ")
    if not space:
        takes = (*GROUP_ACTIONS_WITH_NAME, *_GROUP_NAMES)
        # A whole action word that takes a NAME still completes: Tab adds its space (and the
        # menu then offers the names), as a whole command word does.
        return [(a + " " * (a in takes), -len(action)) for a in GROUP_ACTIONS
                if a.startswith(action.lower()) and (a != action.lower() or a in takes)]
    if action.lower() not in _GROUP_NAMES:
        return []
    kind = _GROUP_NAMES[action.lower()]
    return _arguments(name, names if kind is None else extra.get(kind, ()))


def split_message(text: str, limit: int) -> list[str]:
    """A message too long to send, as parts of at most `limit` UTF-8 bytes each (core.text's
    split_text). Each part is sent as typed text, so one that starts with "/" gets the "//"
    escape (it is never a command)."""
    parts = split_text(text, limit - 1)  # room for an escape
    return ["/" + part if part.startswith("/") else part for part in parts]
