"""Histories the node keeps with people who are no longer contacts (/remove keeps them): read
from the chat as a page, by fingerprint or by the name they had here, and covered by /search
(notes/s31/trial2.md 27: `/msg FINGERPRINT` said "no conversation named…")."""

from __future__ import annotations

from typing import Any

from p2pchat.core.identity import FingerprintError, fingerprint, parse_fingerprint
from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState

HISTORY_LIMIT = 500  # messages shown on the page
MAX_KEPT = 200  # removed contacts remembered by name this session


def _fingerprint(text: str) -> str | None:
    try:
        return fingerprint(parse_fingerprint(text))  # as the node spells it
    except (FingerprintError, ValueError):
        return None


class KeptHistory:
    """Who was removed here (fingerprint -> the name they had), and their kept logs."""

    def __init__(self, state: ChatState, backend: ChatBackend) -> None:
        self._state = state
        self._backend = backend
        self.removed: dict[str, str] = {}

    def note_removed(self, fingerprint: str, name: str) -> None:
        self.removed.pop(fingerprint, None)
        self.removed[fingerprint] = name
        while len(self.removed) > MAX_KEPT:
            del self.removed[next(iter(self.removed))]

    def find(self, who: str) -> tuple[str, str] | None:
        """(fingerprint, name) of a removed contact typed by name or fingerprint."""
        wanted = who.strip().casefold()
        wanted = wanted[1:] if wanted.startswith("@") else wanted  # @NAME: a contact's name
        for key, name in reversed(self.removed.items()):
            if name.casefold() == wanted:
                return key, name
        typed = _fingerprint(who)
        if typed is None:
            return None
        return typed, self.removed.get(typed) or typed[:7]

    async def messages(self, fingerprint: str) -> list[dict[str, Any]]:
        try:
            return [m for m in await self._backend.history(fingerprint, HISTORY_LIMIT)
                    if isinstance(m, dict)]
        except BackendError:
            return []  # the node keeps nothing for that key

    async def show(self, who: str) -> bool:
        """The kept history of `who` as a read-only page; False if `who` is nobody we know."""
        found = self.find(who) or await self._by_kept_name(who)
        if found is None:
            return False
        key, name = found
        messages = await self.messages(key)
        if not messages and key not in self.removed:
            return False
        if key not in self.removed:  # removed before this screen: the name their lines had
            name = next((clean(m.get("author_name")) for m in messages
                         if not m.get("own") and m.get("author_name")), name)
        self.removed.setdefault(key, name)  # /search covers it from now on
        lines = [kept_line(m, name) for m in messages] or ["  nothing kept"]
        # The title fits a row; the long fingerprint goes in the page (round 2, 7).
        self._state.show_page(f"History with {name}, no longer a contact (read-only)",
                              [f"/add {key} NAME to write again.", "", *lines])
        return True

    async def _by_kept_name(self, who: str) -> tuple[str, str] | None:
        """One removed before this screen started, by the name they had: the node keeps it
        with their history (`log @NAME`; issue 23, B3: `/msg Carol S` found nothing)."""
        name = who.strip().removeprefix("@")
        messages = await self.messages(f"@{name}") if name else []
        peer = next((clean(m.get("conversation")) for m in messages if m.get("conversation")),
                    "")
        if not peer or self._state.conversations.get(peer) is not None:
            return None  # nothing kept, or one the list has (found there, by its name)
        self.note_removed(peer, name)
        return peer, name

    async def search(self, wanted: str) -> list[tuple[str, dict[str, Any]]]:
        """(name, message) for every kept message containing `wanted` (casefolded)."""
        found = []
        for key, name in list(self.removed.items()):
            conv = self._state.conversations.get(key)
            if conv is not None and conv.state != "request":
                continue  # a contact again: its conversation is searched (trial 3, 27: twice)
            found += [(name, m) for m in await self.messages(key)
                      if wanted in str(m.get("text") or "").casefold()]
        return found


def kept_line(message: dict[str, Any], name: str) -> str:
    who = "you" if message.get("own") else name
    when = clean(message.get("sent_at"))[:16].replace("T", " ")
    return f"  {when} {who}: {' '.join(clean(message.get('text')).split())}"
