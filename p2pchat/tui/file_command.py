"""/file in the chat screen: send files to the open conversation, or accept, decline, cancel
or list transfers (the node does the work; what it answers lands in `state.transfers`)."""

from __future__ import annotations

import os

from p2pchat.core.text import human_size as human
from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.files import line, parse_file
from p2pchat.tui.state import ChatState


async def file_command(backend: ChatBackend, state: ChatState, rest: str) -> None:
    action, arg = parse_file(rest)
    if action == "list":
        transfers = await backend.files()
        state.transfers.load(transfers)
        state.show_page("Files", [line(t)[1] for t in state.transfers.by_id.values()]
                        or ["  no transfers yet: /file PATH sends one"])
        return
    if action == "send":
        conv = state.current
        if conv is None or conv.state == "request":
            raise BackendError("usage", "open a conversation first: /msg NAME, then /file PATH")
        if not arg:
            raise BackendError("usage", "/file PATH: which file?")
        path = os.path.abspath(os.path.expanduser(arg))
        for t in await backend.send_files(conv.id, [path]):
            state.apply({"type": "file", **t})
            state.notice("info", f"offered {t.get('name')} ({human(int(t.get('size') or 0))})"
                                 f" to {conv.name}")
        return
    known = state.transfers.find(arg)
    result = await backend.file_action(action, known.id if known is not None else arg)
    state.apply({"type": "file", **result})
