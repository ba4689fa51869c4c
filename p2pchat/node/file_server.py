"""Serving files: answering peers' requests for hash lists and chunks, in order, one link at a
time, and only once the link has drained, so a chat record (written to the link directly) never
has more than a chunk or two of file data ahead of it (docs/protocol.md section 13.3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2pchat.core.file_records import (
    ANSWER_NOT_HERE,
    CHUNK_SIZE,
    FileAnswer,
    FileChunk,
    FileGet,
    FileHashes,
    FileHashGet,
    FileRecord,
    encode_file_record,
)
from p2pchat.core.files import chunk_count, chunk_len
from p2pchat.core.identity import short_fingerprint
from p2pchat.net.link import Link
from p2pchat.storage.files import Transfer

log = logging.getLogger("p2pchat.node")

MAX_QUEUED_REQUESTS = 64  # requests a peer may have waiting with us, per link
MAX_OPEN_FILES = 16  # files kept open for reading


@dataclass
class Holding:
    """A file we may serve to one requester: the transfer, where its bytes are, which chunks,
    and its hash list (`hashes(first, count)`: that piece, or None when we hold none)."""

    transfer: Transfer
    path: str
    has: Callable[[int], bool]
    hashes: Callable[[int, int], bytes | None]


class FileServer:
    def __init__(self, *, holding: Callable[[bytes, bytes], Holding | None],
                 on_served: Callable[[Transfer, bytes, int, int], None],
                 on_error: Callable[[Transfer, str], None],
                 spawn: Callable[[Any, str], asyncio.Task[Any]]) -> None:
        """`holding(requester, id)`: what we hold of that file for them (None: not theirs to
        ask for, the request is ignored); `on_served(transfer, requester, end, length)`: a
        chunk of `length` bytes ending at byte `end` went out; `on_error`: the file cannot be
        read."""
        self._holding = holding
        self._on_served = on_served
        self._on_error = on_error
        self._spawn = spawn
        self._queues: dict[Link, deque[FileGet | FileHashGet]] = {}
        self._fds: dict[str, int] = {}

    def request(self, link: Link, peer: bytes, request: FileGet | FileHashGet) -> None:
        """Queue a peer's request for hashes or a chunk; served once its link drains."""
        queue = self._queues.get(link)
        if queue is None:
            queue = self._queues[link] = deque()
            self._spawn(self._serve(link, peer, queue), "serve file chunks")
        if len(queue) >= MAX_QUEUED_REQUESTS:
            log.warning("closing link to %s: too many file requests", short_fingerprint(peer))
            link.close("too many file requests")
            return
        queue.append(request)

    def forget(self, link: Link) -> None:
        """A link ended: drop its queue."""
        self._queues.pop(link, None)

    def close_file(self, path: str) -> None:
        """Close the file kept open for serving `path`."""
        fd = self._fds.pop(path, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        """Stopping: close every file kept open for serving."""
        for path in list(self._fds):
            self.close_file(path)

    async def _serve(self, link: Link, peer: bytes, queue: deque[FileGet | FileHashGet]) -> None:
        try:
            while queue and not link.closed:  # bounded: the queue only drains here
                if not await link.drained():
                    return
                request = queue.popleft()
                held = self._holding(peer, request.id)
                if held is None:
                    continue
                record = self._answer(held, request, peer)
                if record is not None:
                    with contextlib.suppress(Exception):
                        link.send_record(encode_file_record(record))
        finally:
            if self._queues.get(link) is queue:
                del self._queues[link]

    def _answer(self, held: Holding, request: FileGet | FileHashGet,
                peer: bytes) -> FileRecord | None:
        t = held.transfer
        if isinstance(request, FileHashGet):
            hashes = held.hashes(request.first, request.count)
            if hashes is None:
                return FileAnswer(t.id, ANSWER_NOT_HERE)
            return FileHashes(t.id, request.first, hashes) if hashes else None
        if request.index >= chunk_count(t.size):
            return None
        if not held.has(request.index):
            return FileAnswer(t.id, ANSWER_NOT_HERE)
        try:
            fd = self._fds.get(held.path)
            if fd is None:
                if len(self._fds) >= MAX_OPEN_FILES:
                    self.close_file(next(iter(self._fds)))
                fd = self._fds[held.path] = os.open(held.path, os.O_RDONLY)
            data = os.pread(fd, chunk_len(t.size, request.index), request.index * CHUNK_SIZE)
        except OSError as exc:
            self._on_error(t, f"cannot read {held.path}: {exc.strerror}")
            return None
        if len(data) != chunk_len(t.size, request.index):
            self._on_error(t, f"{held.path} changed since it was offered")
            return None
        self._on_served(t, peer, request.index * CHUNK_SIZE + len(data), len(data))
        return FileChunk(t.id, request.index, data)
