"""A blocking client of the control API, for the CLI and for scripts."""

from __future__ import annotations

import json
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from p2pchat.home import socket_path

# Replies can be large (a whole conversation log); they come from our own node.
MAX_REPLY = 64 * 1024 * 1024
# Events that arrive while a call waits for its reply, kept for events(); as many as the node
# keeps for a subscriber.
MAX_KEPT_EVENTS = 4096


class ControlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ControlClient:
    def __init__(self, home: Path, timeout: float | None = 30.0) -> None:
        path = socket_path(home)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            self._sock.close()
            raise ControlError(
                "no_node",
                f"no node is running for {home}: start one with 'p2pchat --home {home} node'",
            ) from None
        self._file = self._sock.makefile("rb")
        self._next_id = 0
        self._timeout = timeout
        self._kept: deque[dict[str, Any]] = deque()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, **params: Any) -> Any:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params}
        self._wait_at_most(self._timeout)
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self._keep(reply["event"])  # events interleave with replies once subscribed
                continue
            if not reply.get("ok"):
                error = reply.get("error") or {}
                raise ControlError(str(error.get("code")), str(error.get("message")))
            return reply.get("result")

    def events(self) -> Iterator[dict[str, Any]]:
        """The node's events, as they come (hours apart, maybe: no timeout while waiting), with
        those a `call` read meanwhile. Ends after a `{"type": "lagged"}` event: events were
        lost, so re-read what matters and subscribe again."""
        self.call("subscribe")
        while True:
            if self._kept:
                event = self._kept.popleft()
            else:
                self._wait_at_most(None)
                reply = self._read()
                if "event" not in reply:
                    continue
                event = reply["event"]
            yield event
            if isinstance(event, dict) and event.get("type") == "lagged":
                return

    def _wait_at_most(self, timeout: float | None) -> None:
        if self._sock.gettimeout() != timeout:  # settimeout costs system calls even unchanged
            self._sock.settimeout(timeout)

    def _keep(self, event: Any) -> None:
        if self._kept and self._kept[-1].get("type") == "lagged":
            return  # already lost some: the subscriber re-reads anyway
        if len(self._kept) >= MAX_KEPT_EVENTS:
            self._kept.append({"type": "lagged"})
        elif isinstance(event, dict):
            self._kept.append(event)

    def _read(self) -> dict[str, Any]:
        line = self._file.readline(MAX_REPLY + 1)
        if not line:
            raise ControlError("disconnected", "the node closed the control connection")
        if not line.endswith(b"\n"):
            raise ControlError("bad_reply", "the node's reply was cut short or too long")
        try:
            value = json.loads(line)
        except ValueError:
            raise ControlError("bad_reply", "the node sent something that is not JSON") from None
        if not isinstance(value, dict):
            raise ControlError("bad_reply", "the node sent something that is not an object")
        return value
