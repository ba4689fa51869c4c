"""How a chat ends when nobody can ask it to: on SIGTERM or SIGHUP (its terminal closed), and
when its terminal is gone (trial 13c, B17: a chat whose tmux session was killed outlived it,
idle, its terminal deleted, and ignored SIGTERM until SIGKILL).

A signal asks the screen to leave as /quit does when nothing is asked (a chat attached to a
node leaves it running; a chat running its node stops it cleanly). The handlers are Python
signal handlers, not the event loop's: those run only when the loop gets control back, and a
chat blocked in a write to a terminal that reads nothing never gives it back. If the chat has
not ended GRACE seconds after the signal (or at a second signal), the terminal is taken for
gone: its descriptors are pointed at /dev/null, so no write blocks or fails any more, and
`Ended` unwinds whatever was waiting; the node's store is committed as it goes (durability
does not depend on a clean stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

GRACE = 5.0  # seconds a signalled chat has to end by itself
SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Ended(SystemExit):
    """The chat was signalled and did not end in GRACE seconds (or was signalled twice).
    A SystemExit: the event loop lets it through a callback instead of logging it."""


def terminal_gone(exc: BaseException) -> bool:
    """What the screen raises when its terminal went away: EOF on input (prompt_toolkit's
    EOFError), or EIO writing to a terminal hung up (the error it raises while drawing the
    last frame chains the EOFError)."""
    if isinstance(exc, EOFError):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.ENXIO, errno.EBADF)


def quiet_terminal() -> None:
    """stdin, stdout and stderr on /dev/null: nothing the chat still writes (the screen's last
    frame, the parting line) blocks on or fails at a terminal that is gone."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
        os.close(null)


class Ending:
    """While the chat runs: SIGTERM and SIGHUP end it. `leave` is what /quit does without a
    question (the screen's exit), set once the screen exists."""

    def __init__(self) -> None:
        self.leave: Callable[[], None] | None = None
        self.signalled = False
        self._saved: dict[int, Any] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[Ending]:
        for sig in (*SIGNALS, signal.SIGALRM):
            self._saved[sig] = signal.getsignal(sig)
        for sig in SIGNALS:
            signal.signal(sig, self._signal)
        signal.signal(signal.SIGALRM, self._late)
        try:
            yield self
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for number, handler in self._saved.items():
                signal.signal(number, handler)

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signalled:  # a second signal: at once
            self._late(signum, frame)
        self.signalled = True
        signal.setitimer(signal.ITIMER_REAL, GRACE)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # between two screens: nothing to leave, nothing to wait for
            self._late(signum, frame)
            return
        if self.leave is not None:
            loop.call_soon_threadsafe(self.leave)

    def _late(self, signum: int, frame: FrameType | None) -> None:
        quiet_terminal()
        raise Ended(0)
