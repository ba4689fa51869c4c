"""`p2pchat chat`: attach to the home's running node, or run one in this process.

In-process, the node also serves its control socket, so the CLI and scripts work alongside the
UI exactly as with `p2pchat node`. Its log goes to the notice area instead of stderr, which the
full-screen UI owns. The screen is drawn first; the node (and mDNS, the slow part) starts
behind it. Leaving can hand the node over to a background `p2pchat node` that the next
`p2pchat chat` attaches to.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.control import ControlServer
from p2pchat.control_client import ControlClient, ControlError
from p2pchat.home import stop_command
from p2pchat.net.addresses import format_addr
from p2pchat.node import CommandError, Node, NodeConfig
from p2pchat.tui.app import ChatApp
from p2pchat.tui.backend import BackendError, ControlBackend, NodeBackend
from p2pchat.tui.commands import masked
from p2pchat.tui.conversation import Me
from p2pchat.tui.ending import Ended, Ending, quiet_terminal, terminal_gone
from p2pchat.tui.farewell import say, say_as_is
from p2pchat.tui.news import ATTACHED
from p2pchat.tui.state import ChatState

PROBE_TIMEOUT = 5.0
MAX_EARLY_RECORDS = 100
BACKGROUND_LOG = "node.log"
BACKGROUND_WAIT = 15.0  # seconds for the background node to answer


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
        # "note: ..." informs (no passphrase on this identity): it ages like other news
        self._state.notice("info" if text.startswith("note:") else "warning", text)
        self._redraw()


@dataclasses.dataclass(frozen=True)
class Background:
    """How to start this home's node in the background: the `p2pchat node` command line and
    the passphrase (None for an unsealed identity), handed over on the child's stdin."""

    argv: list[str]
    passphrase: bytes | None


def run_chat(home: Path, config: NodeConfig, unlock: Callable[[], Any],
             background: Callable[[list[str]], Background] | None = None,
             typed_options: dict[str, Any] | None = None) -> int:
    """Run the UI until the user quits. `unlock()` gives the stored identity (it may ask for
    the passphrase), and is called only when no node is running for `home`. `typed_options`:
    the node options on the command line (option -> value), which a node already running
    does not take."""
    if _node_answers(home):
        status = _node_status(home)
        ignored = ignored_options(typed_options or {}, status)
        with Ending().installed() as ending, contextlib.suppress(Ended):
            asyncio.run(_attached(home, ignored, followed_options(
                typed_options or {}, ignored, status), ending=ending))
        return 0
    stored = unlock()
    bound: list[str] = []  # where the chat's node listened: the kept node listens there too
    with Ending().installed() as ending, contextlib.suppress(Ended):
        choice = asyncio.run(_in_process(home, stored, config, bound, ending))
        if choice == "background" and background is not None:
            _start_background(home, background(bound))
    return 0


def _node_status(home: Path) -> dict[str, Any]:
    try:
        with ControlClient(home, timeout=PROBE_TIMEOUT) as client:
            status = client.call("status")
    except (ControlError, OSError):
        return {}
    return status if isinstance(status, dict) else {}


def ignored_options(typed: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """The typed options the running node does not already follow (what the status cannot
    show counts as not followed)."""
    listening = [str(a) for a in status.get("listen") or []]
    relays = [str(r.get("relay") or "").split("#")[0] for r in status.get("relays") or []
              if isinstance(r, dict)]

    def listens(addr: str) -> bool:
        # A typed port 0 asked for a fresh port, which a running node does not take (trial 5,
        # 11: said nothing while the port stayed): ignored, and where it listens is said.
        return addr in listening

    def followed(option: str, value: Any) -> bool:
        if option == "--listen":
            return all(listens(a) for a in value)
        if option == "--relay":
            return all(r.split("#")[0] in relays for r in value)
        if option == "--no-mdns":
            return status.get("mdns") is False
        if option == "--presence":
            return bool(status.get("presence") == value)
        if option == "--no-found-relays":
            return status.get("found_relays") is False
        return False  # --mdns-interface: the status does not say

    return [option for option, value in typed.items() if value and not followed(option, value)]


def followed_options(typed: dict[str, Any], ignored: list[str],
                     status: dict[str, Any]) -> list[str]:
    """The typed options the running node does follow already, each saying how (a typed
    option the screen never mentioned read as ignored, or forgotten)."""
    told = []
    for option, value in typed.items():
        if not value or option in ignored:
            continue
        if option == "--listen":
            where = ", ".join(str(a) for a in status.get("listen") or [])
            told.append(f"--listen {where}")
        else:
            told.append(option)
    return told


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


async def _node_status_of(backend: ControlBackend) -> dict[str, Any]:
    try:
        return await backend.status()
    except BackendError:
        return {}


def _say_attached(app: ChatApp, home: Path, pid: int | None, ignored: list[str],
                  followed: list[str], listening: list[str]) -> None:
    """One sentence naming every typed option (one left out read as ignored, trial 5, 11:
    `--no-mdns --listen 127.0.0.1:0` said nothing at all), with the pid to stop (trial 2, B10)."""
    running = f"Your node was already running{f' (pid {pid})' if pid else ''}"
    kept = f"; it keeps {' and '.join(followed)} as it runs" if followed else ""
    # Not kill (trial 4, B15); a long --home would push the rest off the notice row.
    stop = "quit, 'p2pchat stop'" + ("" if stop_command(home) == "p2pchat stop"
                                     else " with your --home")
    then = f" To change that: {stop} and start again ('p2pchat settings' keeps options for" \
        " every start)."
    where = f" (it listens on {', '.join(listening)})" if "--listen" in ignored and listening \
        else ""
    app.state.notice("warning", f"{running}, so {' '.join(ignored)} did nothing{where}{kept}."
                                f"{then}", key=ATTACHED)


async def _attached(home: Path, typed_options: list[str] | None = None,
                    followed: list[str] | None = None, *, ending: Ending) -> None:
    try:
        backend = await ControlBackend.connect(home)
    except BackendError as exc:
        raise StartError(f"cannot attach to the node for {home}: {exc}") from None
    app = ChatApp(backend)
    app.notifier.remember_in(home)  # its note said once per home
    if typed_options:  # what the node follows already is said only along with these
        status = await _node_status_of(backend)
        pid = status.get("pid")
        pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        _say_attached(app, home, pid, typed_options, followed or [],
                      [str(a) for a in status.get("listen") or []])
    try:
        await _run_app(app, None, ending)
    finally:
        await backend.close()
    if app.state.connected:
        say(left_attached(app.state.node_in_chat_screen, app.state.node_pid, home))


def left_attached(in_chat_screen: bool, pid: int | None, home: Path) -> str:
    """The parting line of a chat attached to a node, true as it is printed: `p2pchat stop`
    may have run since /quit (trial 13c, B17: "still running" was said of a node just
    stopped). The node's pid says it (a node stopped by SIGSTOP still runs); without one, its
    control socket."""
    if pid is not None:
        try:
            os.kill(pid, 0)
            running = True
        except ProcessLookupError:
            running = False
        except OSError:  # not ours to signal, but there
            running = True
    else:
        running = _node_answers_quietly(home)
    if running:
        return left_running(in_chat_screen, pid, home)
    return (f"Your node{f' (pid {pid})' if pid else ''} has stopped since you quit: you are"
            " offline until it runs again ('p2pchat chat' starts it).")


def left_running(in_chat_screen: bool, pid: int | None, home: Path) -> str:
    """What a chat attached to a node says as it leaves, the node answering at that moment:
    it runs on. Not "in the background": it may be a `p2pchat node` in another terminal
    (trial 11)."""
    if in_chat_screen:
        return (f"Another chat screen{f' (pid {pid})' if pid else ''} runs your node: you stay"
                " online while it is open, and quitting it decides whether the node stays.")
    stop = f"'{stop_command(home)}' stops it"  # not kill (trial 4, B15)
    return (f"Your node is still running{f' (pid {pid})' if pid else ''}: you stay online."
            f" 'p2pchat chat' attaches to it again; {stop}.")


async def _in_process(home: Path, stored: Any, config: NodeConfig,
                      bound: list[str] | None = None, ending: Ending | None = None) -> str:
    """Run the node here with the screen; returns how the user left ("quit", "background").
    `bound` gets the addresses the node listened on (ports resolved)."""
    handler = _NoticeHandler()
    logger = logging.getLogger("p2pchat")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # nothing may write to the terminal under the UI
    # mDNS starts once the screen is up: it is most of the start-up time.
    node = Node(home, stored.identity, stored.name,
                dataclasses.replace(config, mdns=False, mdns_deferred=config.mdns,
                                    in_chat_screen=True))
    control = ControlServer(node)
    app = ChatApp(NodeBackend(node))
    app.notifier.remember_in(home)
    app.state.starting = True
    app.state.me = Me(stored.name, stored.identity.fingerprint,
                      stored.identity.public_key.hex())  # known before the node is up
    busy: list[bool] = []
    failed: list[str] = []

    async def start_node() -> None:
        try:
            await node.start()
        except CommandError as exc:
            if exc.code == "busy":  # a node started since we looked: use it instead
                busy.append(True)
            else:
                failed.append(str(exc))
            app.exit()
            raise BackendError(exc.code, str(exc)) from None  # nothing more to load
        except OSError as exc:
            failed.append(f"cannot start the node: {exc.strerror or exc}")
            app.exit()
            raise BackendError("start", failed[-1]) from None
        await control.start()
        if not stored.sealed:
            handler.emit(logging.makeLogRecord(
                {"msg": "note: this identity is stored without a passphrase"}))
        app.state.starting = False
        if config.mdns:
            app.state.discovering = True

            async def discover() -> None:
                try:
                    await node.start_discovery()
                finally:  # the status line says what discovery does now, on or failed
                    app.state.discovering = False
                    app.state.set_status(node.status())
                    app.redraw()
            app.controller.spawn_guarded(discover, "mdns-start")

    try:
        await _run_app(app, handler, ending, started=start_node)
    finally:
        with contextlib.suppress(Exception):
            await control.stop()
        if bound is not None:
            bound.extend(format_addr(a) for a in node.listen_addresses)
        await node.stop()  # links closed, store committed, lock released
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    if busy:
        await _attached(home, ending=ending or Ending())
        return "quit"
    if failed:
        raise StartError(failed[0])
    if app.quit_choice == "quit":
        say("You are offline now: your node stopped with the chat.")
    return app.quit_choice


def _start_background(home: Path, background: Background) -> None:
    """Start `p2pchat node` detached, give it the passphrase, and wait until it answers."""
    log_path = home / BACKGROUND_LOG
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        child = subprocess.Popen(
            background.argv, stdin=subprocess.PIPE, stdout=fd, stderr=fd,
            start_new_session=True,  # the terminal closing does not stop it
        )
    except OSError as exc:
        raise StartError(f"cannot start a background node: {exc}") from None
    finally:
        os.close(fd)
    assert child.stdin is not None
    with contextlib.suppress(OSError):
        child.stdin.write((background.passphrase or b"") + b"\n")
    with contextlib.suppress(OSError):
        child.stdin.close()
    deadline = time.monotonic() + BACKGROUND_WAIT
    while time.monotonic() < deadline and child.poll() is None:
        if _node_answers_quietly(home):
            say(f"Your node keeps running in the background (pid {child.pid}; its log is"
                f" {log_path}). 'p2pchat chat' attaches to it; '{stop_command(home)}'"
                " stops it.")
            return
        time.sleep(0.1)  # polling a child process, not synchronising tests
    raise StartError(f"the background node did not start; see {log_path}")


def _node_answers_quietly(home: Path) -> bool:
    try:
        return _node_answers(home)
    except StartError:
        return False


@contextlib.contextmanager
def logs_as_notices(handler: _NoticeHandler) -> Any:
    """While the full screen runs, every logger's warnings (asyncio's "Task exception was
    never retrieved", prompt_toolkit's, a library's) become notices: with no handler on the
    root logger, Python's last-resort handler writes them to stderr, on the screen's rows
    (notes/s33/trial9.md B10: stray text on the input row, gone at the next redraw)."""
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


async def _run_app(app: ChatApp, handler: _NoticeHandler | None, ending: Ending | None, *,
                   started: Callable[[], Any] | None = None) -> None:
    handler = handler or _NoticeHandler()  # attached to a running node: the others' logs
    handler.show_in(app.state, app.redraw)
    if ending is not None:  # SIGTERM, SIGHUP: leave as /quit does, asking nothing
        ending.leave = app.exit
    try:
        with logs_as_notices(handler):
            await _run_app_shown(app, started)
    finally:
        if ending is not None and ending.signalled:  # nobody asked: typed text is not lost
            for name, text in app.drafts.texts():
                say(f"Not sent (the chat was ended by a signal), typed for {name}:")
                say_as_is(masked(text))  # a passphrase as the input showed it (14a B3)


async def _run_app_shown(app: ChatApp, started: Callable[[], Any] | None) -> None:
    try:
        await app.run(started=started)
    except BackendError as exc:
        raise StartError(f"cannot read from the node: {exc}") from None
    except (EOFError, OSError) as exc:
        if not terminal_gone(exc):
            raise
        # The terminal went away (EOF, or EIO drawing the last frame): the chat ends as /quit
        # does, and says nothing more there (trial 13c, B17).
        quiet_terminal()
