"""Files in the chat screen: what the transfers look like in their conversation (an offer with
how to accept or decline it, a progress bar), what /file means, and Tab completion of paths.

`Transfers` is pure: it applies the node's `file`, `file_offer` and `file_progress` events (and
`file.list` results), sanitising everything on the way in. `path_completions` reads the
directory being typed (the only I/O here, injected for tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from p2pchat.core.text import human_size as human
from p2pchat.tui.sanitize import clean

MAX_TRANSFERS = 500  # kept for the screen; the oldest finished ones give way
MAX_PATH_COMPLETIONS = 50
BAR = 20
FINAL = ("done", "failed", "declined", "cancelled")
FILE_ACTIONS = ("accept", "decline", "cancel", "list")


@dataclass
class Transfer:
    id: str
    name: str
    size: int
    state: str
    direction: str  # "in" or "out"
    conversation: str  # the peer's fingerprint, or the group's id
    peer: str
    received: int = 0
    path: str = ""
    error: str = ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


class Transfers:
    def __init__(self) -> None:
        self.by_id: dict[str, Transfer] = {}

    def load(self, transfers: Iterable[dict[str, Any]]) -> None:
        self.by_id.clear()
        for t in transfers:
            self.apply({"type": "file", **t})

    def apply(self, event: Mapping[str, Any]) -> str | None:
        """One file event; a notice to show (an offer waiting, a transfer ended), or None."""
        id_ = clean(event.get("id"))
        if not id_:
            return None
        t = self.by_id.get(id_)
        if event.get("type") == "file_progress":
            if t is not None:
                t.received = _int(event.get("received"))
            return None
        group = event.get("group")
        fresh = Transfer(id_, clean(event.get("name")), _int(event.get("size")),
                         clean(event.get("state")), clean(event.get("direction")),
                         clean(group if group else event.get("fingerprint")),
                         clean(event.get("peer")), _int(event.get("received")),
                         clean(event.get("path")), clean(event.get("error")))
        before = t.state if t is not None else None
        self.by_id[id_] = fresh
        self._bound()
        if event.get("type") == "file_offer":
            return (f"{fresh.peer} offers {fresh.name} ({human(fresh.size)}): /file accept"
                    f" {id_[:8]} or /file decline {id_[:8]}")
        if before is not None and before != fresh.state and fresh.state in FINAL:
            where = f": {fresh.path}" if fresh.state == "done" and fresh.direction == "in" \
                else f" ({fresh.error})" if fresh.error else ""
            return f"{fresh.name} {fresh.state}{where}"
        return None

    def _bound(self) -> None:
        if len(self.by_id) > MAX_TRANSFERS:
            old = next((k for k, t in self.by_id.items() if t.state in FINAL),
                       next(iter(self.by_id)))
            del self.by_id[old]

    def of(self, conversation: str) -> list[Transfer]:
        return [t for t in self.by_id.values() if t.conversation == conversation]

    def find(self, prefix: str) -> Transfer | None:
        found = [t for t in self.by_id.values() if t.id.startswith(prefix.lower())]
        return found[0] if len(found) == 1 else None


def line(t: Transfer) -> tuple[str, str]:
    """(style class, text) of one transfer in its conversation."""
    arrow = "sending" if t.direction == "out" else "from " + t.peer
    if t.state == "offered" and t.direction == "in":
        return ("class:notice.request",
                f"  [file] {t.peer} offers {t.name} ({human(t.size)}): /file accept {t.id[:8]},"
                f" /file decline {t.id[:8]}")
    if t.state in ("receiving", "sending") or (t.state == "offered" and t.received):
        done = t.received / t.size if t.size else 1.0
        fill = int(BAR * min(1.0, done))
        return ("class:notice.info",
                f"  [file] {t.name} {arrow} [{'#' * fill}{'.' * (BAR - fill)}] {done:4.0%}"
                f" {human(t.received)}/{human(t.size)}  (/file cancel {t.id[:8]})")
    tail = f": {t.path}" if t.state == "done" and t.direction == "in" else \
        f" ({t.error})" if t.error else ""
    return ("class:notice.info", f"  [file] {t.name} ({human(t.size)}) {t.state}{tail}")


def parse_file(rest: str) -> tuple[str, str]:
    """/file's argument: ("send", PATH), or (action, ID) for accept, decline and cancel, or
    ("list", "")."""
    word, _, arg = rest.strip().partition(" ")
    if word in FILE_ACTIONS and (bool(arg.strip()) == (word != "list")):
        return word, arg.strip()
    return "send", rest.strip()


def path_completions(typed: str, listdir: Callable[[str], list[str]] = os.listdir,
                     isdir: Callable[[str], bool] = os.path.isdir) -> list[str]:
    """What `typed` (a path being written) may complete to: entries of its directory that
    start with its last part (directories with a trailing slash; hidden ones only when a dot
    is typed)."""
    head, _, part = typed.rpartition("/")
    folder = os.path.expanduser(head + "/" if head or typed.startswith("/") else ".")
    try:
        names = listdir(folder)
    except OSError:
        return []
    out = []
    for name in sorted(names):
        if not name.startswith(part) or (name.startswith(".") and not part.startswith(".")):
            continue
        if clean(name) != name:
            continue  # a name that could drive the terminal is not offered
        full = (head + "/" if head or typed.startswith("/") else "") + name
        out.append(full + "/" if isdir(os.path.join(folder, name)) else full)
        if len(out) >= MAX_PATH_COMPLETIONS:
            break
    return out
