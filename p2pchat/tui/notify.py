"""Telling the user about a message they are not looking at: bell, title, desktop notice.

The terminal title carries the unread total; the bell rings (unless turned off with
$P2PCHAT_BELL=0) and a desktop notification appears (where `notify-send` exists) when the total
grows. Only the count and the sender's name leave the screen, never the text.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from p2pchat.tui.state import ChatState

BELL_ENV = "P2PCHAT_BELL"
DESKTOP_ENV = "P2PCHAT_DESKTOP_NOTIFY"
# In the home once the screen said desktop notifications are unavailable: said once per home,
# not at every start (notes/s31/trial3.md 18); /peers still says it.
TOLD_FILE = "desktop-notify-told"


class Notifier:
    def __init__(self, write: Callable[[str], None] | None = None, *, bell: bool | None = None,
                 desktop: bool | None = None) -> None:
        self._out = write
        self.bell = os.environ.get(BELL_ENV, "1") != "0" if bell is None else bell
        wants_desktop = os.environ.get(DESKTOP_ENV, "1") != "0" if desktop is None else desktop
        self._notify_send = shutil.which("notify-send") if wants_desktop else None
        self._wants_desktop = wants_desktop
        self._told_unavailable = False
        self._told_file: Path | None = None
        self._last_total = 0
        self._last_title = ""

    def update(self, state: ChatState) -> None:
        total = state.unread_total
        title = f"p2pchat ({total})" if total else "p2pchat"
        if self._out is None:
            return
        if title != self._last_title:
            self._last_title = title
            self._write(f"\x1b]2;{title}\x07")
        if total > self._last_total:
            if self.bell:
                self._write("\x07")
            self._desktop(state, total)
            why = self.unavailable()
            if why and not self._told_unavailable:  # once, when one would have shown
                self._told_unavailable = True
                if self._tell_once():  # a one-off: it goes at the next command
                    state.notice("info", why, key="passing:notify")
        self._last_total = total

    def remember_in(self, home: Path) -> None:
        """Say "no desktop notifications" once for this home, ever (a flag file there)."""
        self._told_file = home / TOLD_FILE

    def _tell_once(self) -> bool:
        """Whether to say it now: not yet said for this home (then it is marked as said)."""
        if self._told_file is None:
            return True
        if self._told_file.exists():
            return False
        with contextlib.suppress(OSError):  # a read-only home: said again next time
            self._told_file.touch(mode=0o600)
        return True

    def status_lines(self) -> list[str]:
        """What /peers (the status page) says about notifications: unavailable, and why."""
        if self.unavailable() is None:
            return []
        why = "notify-send is missing" if self._notify_send is None else "no graphical session"
        return [f"No desktop notifications here ({why}); the bell and the title tell."]

    def _write(self, text: str) -> None:
        assert self._out is not None
        with contextlib.suppress(OSError, ValueError):  # a closed terminal: nothing to tell
            self._out(text)

    def unavailable(self) -> str | None:
        """Why no desktop notification shows although they are wanted; None if they work."""
        if not self._wants_desktop:
            return None
        if self._notify_send is None:
            return (f"no desktop notifications here: notify-send is missing (install libnotify;"
                    f" {DESKTOP_ENV}=0 stops this note). The bell and the title still tell.")
        if not os.environ.get("DISPLAY", "") + os.environ.get("WAYLAND_DISPLAY", ""):
            return ("no desktop notifications here: no graphical session. The bell and the"
                    " title still tell.")
        return None

    def _desktop(self, state: ChatState, total: int) -> None:
        if self._notify_send is None or not os.environ.get("DISPLAY", "") + os.environ.get(
                "WAYLAND_DISPLAY", ""):
            return
        senders = sorted(c.name for c in state.conversations.values() if c.unread)
        body = f"{total} unread from {', '.join(senders[:3])}"
        try:
            subprocess.Popen([self._notify_send, "p2pchat", body], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self._notify_send = None

