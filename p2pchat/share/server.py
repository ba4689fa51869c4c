"""The share-app HTTP server: asyncio, one request per connection, read-only, from a table.

Why not http.server: its ThreadingHTTPServer starts a thread per connection without a bound
and has no deadline on a slow client, and this server needs only GET and HEAD of a handful of
files. So it is a small asyncio server with every limit explicit: connections at once (and
from one address), the request head's size, the time to send it, and a slowest transfer rate.

What it serves is a table fixed when it starts: `/` (the page, made for the Host the client
used) and the exact paths of the files given to it. A request path is looked up in that table,
never joined to a folder, so no path can reach a file outside it: anything else is a 404.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO

from p2pchat.net.addresses import Address
from p2pchat.net.listen import bound_addresses, listen
from p2pchat.share.request import HttpError, Request, parse_request

log = logging.getLogger("p2pchat.share")

PAGE_PATHS = ("/", "/index.html")
Page = Callable[[str | None], bytes]


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 64
    max_per_host: int = 8
    max_head_bytes: int = 8192  # request line and headers
    head_timeout: float = 10.0  # seconds to send them
    stall_timeout: float = 30.0  # seconds without the client taking any of the response
    min_rate: int = 16 * 1024  # bytes/s: a response may take size / min_rate + stall_timeout
    chunk: int = 64 * 1024


class ShareServer:
    """Serves `page` at `/` and `files` (URL path -> file) as they are, nothing else."""

    def __init__(self, files: Mapping[str, Path], page: Page,
                 limits: ServerLimits | None = None) -> None:
        for url in files:
            if not url.startswith("/") or url in PAGE_PATHS:
                raise ValueError(f"not a file path to serve: {url!r}")
        self.files = dict(files)
        self.page = page
        self.limits = limits or ServerLimits()
        self.served = 0  # responses with a file sent in full
        self._server: asyncio.Server | None = None
        self._per_host: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> list[Address]:
        self._server = await listen(self._accept, host, port)
        return bound_addresses(self._server)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "?"
        over = len(self._tasks) >= self.limits.max_connections or \
            self._per_host.get(host, 0) >= self.limits.max_per_host
        self._tasks.add(task)
        self._per_host[host] = self._per_host.get(host, 0) + 1
        answered = False
        try:
            if over:  # said plainly rather than left hanging; the client may try again
                await self._send_head(writer, 503, "Service Unavailable", 0, "text/plain",
                                      extra="Retry-After: 2\r\n")
            else:
                await self._serve(reader, writer, host)
            # drain() only keeps the buffer under its high-water mark: the end of a response
            # may still be in it, and abort() would drop it. Close and let it go out.
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), self.limits.stall_timeout)
            answered = True
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nothing to tell anyone
        finally:
            if not answered:  # an error, a stall or stop(): no waiting for this client
                writer.transport.abort()
            self._tasks.discard(task)
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     peer: str) -> None:
        try:
            async with asyncio.timeout(self.limits.head_timeout):
                head = await self._read_head(reader)
            request = parse_request(head)
        except HttpError as exc:
            body = f"{exc.status} {exc.reason}\n".encode()
            allow = "Allow: GET, HEAD\r\n" if exc.status == 405 else ""
            await self._send_head(writer, exc.status, exc.reason, len(body), "text/plain",
                                  extra=allow)
            await self._send_bytes(writer, body)
            return
        if request.path in PAGE_PATHS:
            page = self.page(request.host)
            await self._send_head(writer, 200, "OK", len(page), "text/html; charset=utf-8",
                                  extra="Cache-Control: no-cache\r\nContent-Security-Policy:"
                                  " default-src 'none'; style-src 'unsafe-inline'\r\n")
            if request.method == "GET":
                await self._send_bytes(writer, page)
            return
        await self._send_file(writer, request, peer)

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes:
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                return buffer[:end]
            if len(buffer) >= self.limits.max_head_bytes:
                raise HttpError(431, "Request Header Fields Too Large")
            data = await reader.read(self.limits.max_head_bytes - len(buffer) + 3)
            if not data:
                raise asyncio.IncompleteReadError(buffer, None)
            buffer += data

    async def _send_file(self, writer: asyncio.StreamWriter, request: Request,
                         peer: str) -> None:
        path = self.files.get(request.path)
        handle = _open_regular(path) if path is not None else None
        if handle is None:
            body = b"404 Not Found\n"
            await self._send_head(writer, 404, "Not Found", len(body), "text/plain")
            await self._send_bytes(writer, body)
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size
            await self._send_head(writer, 200, "OK", size, "application/octet-stream")
            if request.method == "HEAD":
                return
            async with asyncio.timeout(size / self.limits.min_rate + self.limits.stall_timeout):
                while chunk := handle.read(self.limits.chunk):
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), self.limits.stall_timeout)
        self.served += 1
        log.info("%s got %s", peer, request.path.rsplit("/", 1)[-1])

    async def _send_head(self, writer: asyncio.StreamWriter, status: int, reason: str,
                         length: int, content_type: str, *, extra: str = "") -> None:
        head = (f"HTTP/1.1 {status} {reason}\r\nDate: {formatdate(usegmt=True)}\r\n"
                f"Server: p2pchat-share\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {length}\r\nConnection: close\r\n"
                f"X-Content-Type-Options: nosniff\r\n{extra}\r\n")
        await self._send_bytes(writer, head.encode("ascii"))

    async def _send_bytes(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), self.limits.stall_timeout)


def _open_regular(path: Path) -> BinaryIO | None:
    """The file opened for reading if it is (still) a regular file reached without a symlink;
    None otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")

