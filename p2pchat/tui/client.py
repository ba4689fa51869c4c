"""An asyncio client of the control API (JSON lines on the home's Unix socket, docs/api.md).

The blocking `p2pchat.control_client` serves the CLI; the UI needs replies and the event stream
on one connection without blocking its event loop, so replies are matched to requests by id and
`{"event": ...}` lines go to a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from p2pchat.control_client import MAX_REPLY, ControlError
from p2pchat.home import socket_path

# Events the UI has not drawn yet; past this the stream is treated as lagged, as the node does.
EVENT_BACKLOG = 4096


class AsyncControlClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        # None marks the end of the stream (the node went away, or we fell behind).
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._closed = False
        self._lagged = False
        self._read_task = asyncio.create_task(self._read_loop(), name="control-reader")

    @classmethod
    async def connect(cls, home: Path, timeout: float = 30.0) -> AsyncControlClient:
        """Connect to the node of `home`; ControlError("no_node") when none answers there."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(socket_path(home)), limit=MAX_REPLY), timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError("no_node", f"no node is running for {home}") from None
        return cls(reader, writer, timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(self, method: str, **params: Any) -> Any:
        if self._closed:
            raise ControlError("disconnected", "the node closed the control connection")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            line = json.dumps({"id": request_id, "method": method, "params": params})
            self._writer.write(line.encode() + b"\n")
            await self._writer.drain()
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            raise ControlError("timeout", f"the node did not answer '{method}' in time") from None
        except (ConnectionError, OSError) as exc:
            raise ControlError("disconnected", f"lost the node: {exc}") from None
        finally:
            self._waiting.pop(request_id, None)

    async def subscribe(self) -> None:
        """From now on events arrive in `self.events`."""
        await self.call("subscribe")

    async def close(self) -> None:
        self._writer.close()
        self._read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._read_task
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._finish(ControlError("disconnected", "the control connection was closed"))

    async def _read_loop(self) -> None:
        error = ControlError("disconnected", "the node closed the control connection")
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):
                    error = ControlError("bad_reply", "the node's reply was cut short")
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    error = ControlError("bad_reply", "the node sent something that is not JSON")
                    break
                if isinstance(message, dict):
                    self._dispatch(message)
        except (ConnectionError, OSError, ValueError) as exc:  # ValueError: a line over limit
            error = ControlError("disconnected", f"lost the node: {exc}")
        self._finish(error)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "event" in message:
            event = message["event"]
            if not isinstance(event, dict) or self._lagged:
                return
            if self.events.qsize() >= EVENT_BACKLOG:
                # Like the node's own rule: say so once, then drop; the reader re-subscribes.
                self._lagged = True
                self.events.put_nowait({"type": "lagged"})
                self.events.put_nowait(None)
                return
            self.events.put_nowait(event)
            return
        request_id = message.get("id")
        future = self._waiting.get(request_id) if isinstance(request_id, int) else None
        if future is None or future.done():
            return
        if message.get("ok"):
            future.set_result(message.get("result"))
        else:
            err = message.get("error") or {}
            future.set_exception(ControlError(str(err.get("code")), str(err.get("message"))))

    def _finish(self, error: ControlError) -> None:
        if self._closed:
            return
        self._closed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self.events.put_nowait(None)
