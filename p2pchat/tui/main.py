"""`p2pchat chat`: attach to the home's running node, or run one in this process.

In-process, the node also serves its control socket, so the CLI and scripts work alongside the
UI exactly as with `p2pchat node`. Its log goes to the notice area instead of stderr, which the
full-screen UI owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.control import ControlServer
from p2pchat.control_client import ControlClient, ControlError
from p2pchat.node import CommandError, Node, NodeConfig
from p2pchat.tui.app import ChatApp
from p2pchat.tui.backend import BackendError, ChatBackend, ControlBackend, NodeBackend
from p2pchat.tui.state import ChatState

PROBE_TIMEOUT = 5.0
MAX_EARLY_RECORDS = 100


class StartError(Exception):
    """The chat cannot start; the message says why and what to do."""


class _NoticeHandler(logging.Handler):
    """Node warnings as notice lines (stderr belongs to the full-screen UI)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._state: ChatState | None = None
        self._redraw: Callable[[], None] = lambda: None
        self._early: list[str] = []  # logged before the UI existed

    def show_in(self, state: ChatState, redraw: Callable[[], None]) -> None:
        self._state, self._redraw = state, redraw
        for text in self._early:
            state.notice("warning", text)
        self._early.clear()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "shown_as_event", False):
            return  # e.g. a key mismatch: its event already shows it, in full
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if self._state is None:
            if len(self._early) < MAX_EARLY_RECORDS:
                self._early.append(text)
            return
        self._state.notice("warning", text)
        self._redraw()


def run_chat(home: Path, config: NodeConfig, unlock: Callable[[], Any]) -> int:
    """Run the UI until the user quits. `unlock()` gives the stored identity (it may ask for
    the passphrase), and is called only when no node is running for `home`."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise StartError("'p2pchat chat' needs a terminal; scripts can use the other commands")
    if _node_answers(home):
        asyncio.run(_attached(home))
        return 0
    stored = unlock()
    asyncio.run(_in_process(home, stored, config))
    return 0


def _node_answers(home: Path) -> bool:
    try:
        with ControlClient(home, timeout=PROBE_TIMEOUT) as client:
            client.call("status")
    except ControlError as exc:
        if exc.code == "no_node":
            return False
        raise StartError(f"the node for {home} answers oddly: {exc}") from None
    except OSError as exc:
        raise StartError(f"a node runs for {home} but does not answer: {exc}") from None
    return True


async def _attached(home: Path) -> None:
    try:
        backend = await ControlBackend.connect(home)
    except BackendError as exc:
        raise StartError(f"cannot attach to the node for {home}: {exc}") from None
    try:
        await _run_app(backend, None)
    finally:
        await backend.close()


async def _in_process(home: Path, stored: Any, config: NodeConfig) -> None:
    handler = _NoticeHandler()
    logger = logging.getLogger("p2pchat")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # nothing may write to the terminal under the UI
    node = Node(home, stored.identity, stored.name, config)
    try:
        try:
            await node.start()
        except CommandError as exc:
            if exc.code == "busy":  # a node started since we looked: use it
                await _attached(home)
                return
            raise StartError(str(exc)) from None
        except OSError as exc:
            raise StartError(f"cannot start the node: {exc.strerror or exc}") from None
        control = ControlServer(node)
        try:
            await control.start()
            if not stored.sealed:
                handler.emit(logging.makeLogRecord(
                    {"msg": "note: this identity is stored without a passphrase"}))
            await _run_app(NodeBackend(node), handler)
        finally:
            with contextlib.suppress(Exception):
                await control.stop()
            await node.stop()  # links closed, store committed, lock released
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


async def _run_app(backend: ChatBackend, handler: _NoticeHandler | None) -> None:
    app = ChatApp(backend)
    if handler is not None:
        handler.show_in(app.state, app.redraw)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGHUP)
    for sig in signals:  # a closed terminal or a kill still stops the node cleanly
        loop.add_signal_handler(sig, app.exit)
    try:
        await app.run()
    except BackendError as exc:
        raise StartError(f"cannot read from the node: {exc}") from None
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
