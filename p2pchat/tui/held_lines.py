"""Lines typed behind a command that failed: none of them runs (notes/s33/trial8.md, B1).

`/msg dave` Enter `oops` Enter in one burst: the lines leave the input before `/msg dave` has
run. When it is refused (no such name, an ambiguous one) the conversation open is still the
old one, and "oops" went there: to the wrong people. As lines typed behind a pending y/n
question wait, lines typed behind a failed command are not run: they come back to the input
(quoted in the notice if something was typed since), saying which command failed.

A line typed a moment after such a refusal is no safer (trial 13a, B6: `/query bob` refused as
ambiguous, `/me waves` typed a second later went to the group still open): the first message
(plain text or /me) entered within HOLD_AFTER_SWITCH seconds of a refused conversation switch
(/msg, /query, /j), in the conversation still open, stays in the input once, saying so; Enter
again sends it there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from p2pchat.tui.commands import masked, secret_start
from p2pchat.tui.conversation import Notice

MAX_HELD_SHOWN = 60  # characters of the failed command the notice repeats


def is_command(line: str) -> bool:
    return line.startswith("/") and not line.startswith("//")


def refused(line: str, before: Iterable[Notice], after: Iterable[Notice]) -> bool:
    """`line` was a command, and running it said an error: it did not do what the lines
    typed after it count on."""
    earlier = {id(n) for n in before}
    return is_command(line) and any(n.kind == "error" and id(n) not in earlier for n in after)


def take_queued(lines: asyncio.Queue[str]) -> list[str]:
    """Every line waiting to run, in the order typed (the queue is left empty)."""
    taken: list[str] = []
    while not lines.empty():
        taken.append(lines.get_nowait())
    return taken


def without_secret(line: str) -> str:
    """A held `/network join NAME PASSPHRASE` comes back without its passphrase: only the
    input's first line is masked, and a quoted line would show it in clear."""
    start = secret_start(line)
    return line if start is None else line[:start] + "PASSPHRASE"


def hold_behind(failed: str, lines: asyncio.Queue[str],
                hand_back: Callable[[str, str], None]) -> int:
    """Take the lines queued behind `failed` (a command that failed) and hand them back, in
    one piece, with why; the number of lines held. `failed` itself is not: Up recalls it."""
    held = [without_secret(line) for line in take_queued(lines)]
    if not held:
        return 0
    hand_back("\n".join(held), _behind(failed, held))
    return len(held)


def _behind(failed: str, held: list[str]) -> str:
    """Why the lines `held` behind `failed` did not run ("" when none were)."""
    if not held:
        return ""
    verb = masked(failed).split("\n")[0]  # as the input showed it (trial 14a, B3)
    verb = verb if len(verb) <= MAX_HELD_SHOWN else verb[:MAX_HELD_SHOWN] + "…"
    what = "the line" if len(held) == 1 else f"the {len(held)} lines"
    # Back in the input, or quoted after this if something was typed since (hand_back).
    return f"not sent: {verb} failed, so {what} typed after it did not run"


SWITCHING = frozenset({"/msg", "/to", "/query", "/j", "/join"})  # open another conversation
HOLD_AFTER_SWITCH = 3.0  # seconds: about the time to type a short line without reading


def is_message(line: str) -> bool:
    """A line that goes to the open conversation: text, `//text` or /me."""
    return not is_command(line) or line.split(maxsplit=1)[0].casefold() == "/me"


class AfterSwitchRefused:
    """The last conversation switch refused, when, and where the screen stayed."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last: tuple[float, str, str | None] | None = None

    def ran(self, line: str, ok: bool, where: str | None) -> None:
        """`line` ran (`ok`: not refused) with the conversation `where` open after it."""
        switch = is_command(line) and line.split(maxsplit=1)[0].casefold() in SWITCHING
        self._last = (self._clock(), line, where) if switch and not ok else None

    def hold(self, line: str, where: str | None) -> str | None:
        """Why `line`, entered now in `where`, waits once (None: it goes)."""
        if self._last is None or not is_message(line) or not line.strip():
            return None
        at, failed, there = self._last
        self._last = None
        if there != where or self._clock() - at > HOLD_AFTER_SWITCH:
            return None
        return (f"{_behind(failed, [line])} (it stays in the input; Enter sends it here, Up"
                " brings the command back to correct)")
