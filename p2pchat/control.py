"""The local control API: a Unix socket in the home, JSON lines (see docs/api.md).

Each request is one line `{"id": any, "method": "...", "params": {...}}` and gets one line back:
`{"id": ..., "ok": true, "result": ...}` or
`{"id": ..., "ok": false, "error": {"code": ..., "message": ...}}`.
After `{"method": "subscribe"}` the connection also receives `{"event": {...}}` lines.
Only the owner can connect: the socket is mode 0600 inside a 0700 home.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from p2pchat.home import socket_path
from p2pchat.node import CommandError, Node
from p2pchat.storage.store import StoreError

log = logging.getLogger("p2pchat.control")

MAX_LINE = 256 * 1024
MAX_CLIENTS = 32
EVENT_BATCH = 256  # events written to a subscriber at once
# One encoder for every line: json.dumps builds a new one per call when given any option.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _params(request: dict[str, Any]) -> dict[str, Any]:
    params = request.get("params", {})
    if not isinstance(params, dict):
        raise CommandError("bad_request", "params must be an object")
    return params


def _stop(node: Node) -> dict[str, Any]:
    """`p2pchat stop` (trial 4, B15): the node stops as on SIGTERM (runner.py), just after this
    answer is written. A chat screen's node is the screen's to stop."""
    if node.config.in_chat_screen:
        raise CommandError("in_chat_screen", f"this node runs in a chat screen (pid"
                                             f" {os.getpid()}): quit that chat to stop it")
    import signal

    asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
    return {"pid": os.getpid(), "stopping": True}


def _text(params: dict[str, Any], key: str, required: bool = True) -> str:
    value = params.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise CommandError("bad_request", f"'{key}' must be a string")
    return value


def _strings(params: dict[str, Any], key: str, required: bool = True) -> list[str]:
    value = params.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise CommandError("bad_request", f"'{key}' must be a list of strings")
    return value


def _limit(params: dict[str, Any]) -> int | None:
    value = params.get("limit")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CommandError("bad_request", "'limit' must be a whole number")
    return value


class Lines:
    """The writing side of one control connection: replies and events, one JSON line each,
    in the order they were sent."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()
        self._sending = 0  # sends begun and not finished, waiting for the lock or to drain
        self._wrote_now = False  # an event went out at once in this loop turn

    async def send(self, *objs: dict[str, Any]) -> None:
        self._sending += 1
        try:
            async with self._lock:
                self._writer.write(b"".join(_encode(obj).encode() + b"\n" for obj in objs))
                await self._writer.drain()
        finally:
            self._sending -= 1

    def send_event_now(self, event: Mapping[str, Any]) -> bool:
        """Write an event at once (a received message reaches its screen a loop turn sooner)
        when nothing sent before it can still be on its way: no send in progress, nothing left
        to drain. Only the first of a turn: the rest of a burst queues and the forwarder sends
        it in one write. False: queue it (events.EventBus), to be sent in order."""
        transport = self._writer.transport
        if (self._wrote_now or self._sending or transport.is_closing()
                or transport.get_write_buffer_size()):
            return False
        self._writer.write(_encode({"event": event}).encode() + b"\n")
        self._wrote_now = True
        asyncio.get_running_loop().call_soon(self._turn_over)
        return True

    def _turn_over(self) -> None:
        self._wrote_now = False


class ControlServer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.path = socket_path(node.home)
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[Any]] = set()
        node_ = node
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "status": self._sync(lambda p: node_.status()),
            "stop": self._sync(lambda p: _stop(node_)),
            "peers": self._sync(lambda p: node_.peers()),
            "contacts.list": self._sync(lambda p: node_.list_contacts()),
            "contacts.add": lambda p: node_.add_contact(
                _text(p, "fingerprint"), _text(p, "name"), _strings(p, "addrs", required=False)),
            "contacts.addr": lambda p: node_.set_contact_addrs(_text(p, "who"),
                                                               _strings(p, "addrs")),
            "contacts.accept": lambda p: node_.accept_contact(
                _text(p, "who"), _text(p, "name", required=False) or None,
                p.get("anyway") is True),
            "contacts.block": lambda p: node_.block_contact(_text(p, "who")),
            "contacts.remove": lambda p: node_.remove_contact(_text(p, "who")),
            "contacts.unblock": lambda p: node_.unblock_contact(_text(p, "who")),
            "contacts.rename": lambda p: node_.rename_contact(_text(p, "who"), _text(p, "name")),
            "contacts.verify": self._sync(lambda p: node_.verify_contact(
                _text(p, "who"), p.get("verified", True) is not False)),
            "rekey": self._sync(lambda p: node_.rekey()),
            "rename_self": self._sync(lambda p: node_.rename_self(_text(p, "name"))),
            "read": self._sync(lambda p: node_.mark_read(_text(p, "with"), _text(p, "id"))),
            "unread": self._sync(lambda p: node_.unread()),
            "send": lambda p: (node_.send_many(_text(p, "to"), _strings(p, "texts")) if "texts" in p
                               else node_.send(_text(p, "to"), _text(p, "text"))),
            "log": self._sync(lambda p: node_.history(_text(p, "with"), _limit(p),
                                                      changes=p.get("changes") is True)),
            "network.join": lambda p: node_.networks.join(
                _text(p, "name"), _text(p, "passphrase"), _text(p, "via", required=False)),
            "network.leave": lambda p: node_.networks.leave(_text(p, "name")),
            "network.list": self._sync(lambda p: node_.networks.view()),
            "network.reload": self._sync(lambda p: node_.networks.reload()),
            "groups.create": lambda p: node_.create_group(
                _text(p, "title"), _strings(p, "invite", required=False)),
            "groups.invite": lambda p: node_.invite_to_group(_text(p, "group"), _text(p, "who")),
            "groups.remove": lambda p: node_.remove_from_group(
                _text(p, "group"), _text(p, "member")),
            "groups.admin": lambda p: node_.admin_group(_text(p, "group"), _text(p, "member")),
            "groups.unadmin": lambda p: node_.unadmin_group(
                _text(p, "group"), _text(p, "member")),
            "groups.transfer": lambda p: node_.transfer_group(
                _text(p, "group"), _text(p, "member")),
            "groups.leave": lambda p: node_.leave_group(_text(p, "group")),
            "groups.accept": lambda p: node_.accept_group(_text(p, "group"),
                                                          p.get("wait") is True),
            "groups.decline": lambda p: node_.decline_group(_text(p, "group")),
            "groups.forget": lambda p: node_.forget_group(_text(p, "group")),
            "groups.list": self._sync(lambda p: node_.list_groups()),
            "groups.members": self._sync(lambda p: node_.group_members(_text(p, "group"))),
            "file.send": lambda p: node_.file_send(_text(p, "to"), _strings(p, "paths")),
            "file.list": self._sync(lambda p: node_.files.listing()),
            "file.accept": lambda p: node_.file_accept(_text(p, "id")),
            "file.decline": lambda p: node_.file_decline(_text(p, "id")),
            "file.cancel": lambda p: node_.file_cancel(_text(p, "id")),
        }

    @staticmethod
    def _sync(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        async def call(params: dict[str, Any]) -> Any:
            return fn(params)

        return call

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a node that died; the home lock is ours
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._on_client, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        for task in list(self._clients):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _on_client(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._clients) >= MAX_CLIENTS:
            writer.close()
            return
        assert task is not None
        self._clients.add(task)
        subscription: asyncio.Task[None] | None = None
        lines = Lines(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than MAX_LINE
                    await lines.send({"id": None, "ok": False, "error": {
                        "code": "bad_request", "message": "request line too long"}})
                    break
                if not line:
                    break
                response, subscribe = await self._handle(line)
                await lines.send(response)
                if subscribe and (subscription is None or subscription.done()):
                    # A subscriber that lagged subscribes again on the same connection.
                    subscription = asyncio.create_task(self._forward_events(lines))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if subscription is not None:
                subscription.cancel()
            self._clients.discard(task)
            writer.close()

    async def _forward_events(self, lines: Lines) -> None:
        queue = self.node.events.subscribe(write_now=lines.send_event_now)
        try:
            while True:
                # Whatever is waiting goes out in one write (a burst of received messages is
                # one syscall, not one each); at most EVENT_BATCH, so a write stays bounded.
                batch = [await queue.get()]
                while len(batch) < EVENT_BATCH and not queue.empty() and batch[-1] is not None:
                    batch.append(queue.get_nowait())
                lagged = batch[-1] is None
                events = [{"event": event} for event in batch if event is not None]
                if lagged:
                    events.append({"event": {"type": "lagged"}})
                await lines.send(*events)
                if lagged:
                    return
        finally:
            self.node.events.unsubscribe(queue)

    async def _handle(self, line: bytes) -> tuple[dict[str, Any], bool]:
        request_id: Any = None
        try:
            request = json.loads(line)
        except ValueError:  # not JSON, or not even UTF-8
            return {"id": None, "ok": False, "error": {
                "code": "bad_request", "message": "a request is one JSON object per line"}}, False
        try:
            if not isinstance(request, dict):
                raise CommandError("bad_request", "a request is a JSON object")
            request_id = request.get("id")
            method = request.get("method")
            if method == "subscribe":
                return {"id": request_id, "ok": True, "result": "subscribed"}, True
            handler = self._methods.get(method) if isinstance(method, str) else None
            if handler is None:
                raise CommandError("unknown_method", f"no method {method!r}")
            result = await handler(_params(request))
            return {"id": request_id, "ok": True, "result": result}, False
        except CommandError as exc:
            error = {"code": exc.code, "message": str(exc)}
        except StoreError as exc:
            log.error("storage error: %s", exc)
            error = {"code": "storage", "message": str(exc)}
        except Exception:  # a bug must not take the node down, and must be visible
            log.exception("control request failed")
            error = {"code": "internal",
                     "message": "internal error (a bug: the node's log has the details)"}
        return {"id": request_id, "ok": False, "error": error}, False
