"""The chat's /search and /jump: text in every conversation (and removed contacts' kept
histories), and opening a result at its message. One part of the controller
(tui/controller.py), composed into it as the other command parts are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.conversation import Conversation, conversation_label
from p2pchat.tui.kept_history import KeptHistory, kept_line
from p2pchat.tui.state import ChatState

MAX_FOUND = 200  # /search results shown


class SearchCommands:
    """/search TEXT and /jump N."""

    def __init__(self, state: ChatState, backend: ChatBackend, kept: KeptHistory, *,
                 switch_to: Callable[[Conversation], Awaitable[None]], history_limit: int,
                 max_conversations: int) -> None:
        self._state = state
        self._backend = backend
        self._kept = kept
        self._switch_to = switch_to
        self._history_limit = history_limit  # messages read per conversation, as opening it
        self._max_conversations = max_conversations

    async def cmd_search(self, text: str) -> None:
        """TEXT in every conversation, the open one first; /jump N opens result N."""
        if not text:
            raise BackendError("usage", "usage: /search TEXT")
        wanted = text.casefold()
        current = self._state.current
        convs = [c for c in self._state.order() if c.state != "request"]
        convs.sort(key=lambda c: c is not current)  # stable: the open one first
        found: list[tuple[Conversation, Any]] = []
        for conv in convs[:self._max_conversations]:
            if not conv.loaded:
                self._state.load_history(conv.id,
                                        await self._backend.history(
                                            conv.id, self._history_limit,
                                            changes=conv.kind == "group"))
            found += [(conv, m) for m in conv.messages
                      if not m.system and wanted in m.text.casefold()]
            if len(found) >= MAX_FOUND:
                break
        found = found[:MAX_FOUND]
        self._state.found = [(conv.id, m.id) for conv, m in found]
        self._state.search_term = text
        convs_now = list(self._state.conversations.values())
        lines = [f"  {n}. [{conversation_label(convs_now, conv)}"
                 f"{', removed' * (conv.state == 'removed')}]"
                 f" {m.sent_at[:16].replace('T', ' ')} {m.author_name}:"
                 f" {' '.join(m.text.split())}" for n, (conv, m) in enumerate(found, 1)]
        where = f"searched {len(convs)} conversation{'s' * (len(convs) != 1)}"
        kept = await self._kept.search(wanted)  # removed contacts' kept histories: no /jump
        lines += [f"  -. [{name}, removed]{kept_line(m, name)[1:]}" for name, m in kept]
        found_count = len(found) + len(kept)
        tail = ["", "/jump N opens result N at that message; Esc ends the marking."]
        matches = f"{found_count or 'no'} match{'es' * (found_count != 1)}"
        self._state.show_page(f"{matches} for {text!r} ({where})",
                             [*lines, *tail] if lines else ["  nothing"], source="search")

    async def cmd_jump(self, number: str) -> None:
        """/jump N: open result N of the last /search at its message."""
        if not number.isdigit() or not 1 <= int(number) <= len(self._state.found):
            raise BackendError("usage", f"/jump N: a result of the last /search (1 to"
                                        f" {len(self._state.found)})" if self._state.found
                               else "/search TEXT first, then /jump N")
        conv_id, message_id = self._state.found[int(number) - 1]
        conv = self._state.conversations.get(conv_id)
        if conv is None:
            raise BackendError("unknown_contact", "that conversation is gone")
        await self._switch_to(conv)
        self._state.jump_to = message_id
