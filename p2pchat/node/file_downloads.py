"""Downloads: the receiving side of files (docs/protocol.md section 13.3).

Which downloads fetch now and from whom (the sender; in a group the author or any linked member
that has not answered "not here"), what each asks for (`core.files.Download`), the hashes and
chunks that come back (verified, written into the partial file), progress saved about once a
second, the partial file checked again at resume, and the file given its name at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from p2pchat.core.file_records import (
    ANSWER_DONE,
    CHUNK_SIZE,
    FileAnswer,
    FileChunk,
    FileHashes,
    encode_file_record,
)
from p2pchat.core.files import Download
from p2pchat.net.link import Link
from p2pchat.node.file_disk import finish_part, place, verify_and_write, verify_part
from p2pchat.node.outbox import Outbox
from p2pchat.storage.files import FileTable, Transfer

log = logging.getLogger("p2pchat.node")

MAX_ACTIVE_PER_PEER = 2  # downloads fetched from one peer at once; the rest wait their turn
SAVE_EVERY = 1.0  # seconds between progress saves of one download
Key = tuple[bytes, bytes]  # (the offering peer, or a group file's author; the transfer id)


class Downloads:
    def __init__(self, key: bytes, folder: Path, *,
                 transfers: dict[tuple[bytes, bytes, bool], Transfer],
                 group_files: dict[bytes, Transfer], table: Callable[[], FileTable],
                 outbox: Outbox,
                 live_link: Callable[[bytes], Link | None],
                 group_members: Callable[[bytes], frozenset[bytes]],
                 display_name: Callable[[bytes], str],
                 spawn: Callable[[Any, str], asyncio.Task[Any]],
                 set_state: Callable[[Transfer, str], None],
                 fail: Callable[[Transfer, str], None],
                 progress: Callable[[Transfer], None],
                 close_file: Callable[[str], None]) -> None:
        """`transfers` and `group_files` are the `Files` part's own tables (read here, never
        changed); the callables change a transfer's state, fail it, report progress, and close
        a file the server may hold open."""
        self._key = key
        self.folder = folder
        self._transfers = transfers
        self._group_files = group_files
        self._table = table
        self._outbox = outbox
        self._live_link = live_link
        self._group_members = group_members
        self._display_name = display_name
        self._spawn = spawn
        self._set_state = set_state
        self._fail = fail
        self._progress = progress
        self._close_file = close_file
        self._downloads: dict[Key, Download] = {}
        self._active: dict[Key, bytes] = {}  # downloads fetching now -> the peer we ask
        self._tried: dict[Key, set[bytes]] = {}  # members that answered "not here"
        self._writers: dict[Key, int] = {}  # partial files open for writing
        self._last_save: dict[Key, float] = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def _db(self) -> FileTable:
        return self._table()

    def of(self, t: Transfer) -> Download | None:
        """The download of `t` in progress, if any."""
        return self._downloads.get((t.peer, t.id))

    def source_of(self, t: Transfer) -> bytes | None:
        """The peer `t` is being fetched from now, if any."""
        return self._active.get((t.peer, t.id))

    async def resume(self, t: Transfer) -> None:
        """At start: check the chunks marked in the partial file again, then fetch the rest."""
        assert t.hashes is not None
        verified = await asyncio.to_thread(verify_part, t.part, t.size, t.hashes,
                                           t.have or b"")
        if t.state != "receiving":
            return
        dl = self._downloads[(t.peer, t.id)] = Download(t.size, t.root, hashes=t.hashes,
                                                         have=verified)
        t.resumed_from = t.received = dl.received
        t.have = bytes(dl.have)
        self._db.save(t)
        self._outbox.schedule_flush()
        self.pump()

    def close(self) -> None:
        """Stopping: keep how far each download got, for the next start."""
        for key, dl in self._downloads.items():
            t = self._transfers.get((key[0], key[1], False))
            if t is not None and t.state == "receiving":
                t.have, t.received = bytes(dl.have), dl.received
                with contextlib.suppress(Exception):
                    self._db.save_progress(t)
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # the chunks handed to it are written
            self._pool = None
        for fd in self._writers.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._writers.clear()

    def forget(self, peer: bytes | None) -> None:
        """`peer`'s link went: what we asked of it is forgotten (protocol.md 13.3), and asked
        at once of another member that holds it, or of `peer` on its next link."""
        for key, source in list(self._active.items()):
            if source == peer:
                del self._active[key]
                dl = self._downloads.get(key)
                t = self._transfers.get((key[0], key[1], False))
                if dl is not None and t is not None:
                    dl.reset_requests()
                    self._save_progress(t, dl, force=True)
        self.pump()

    def retry_sources(self) -> None:
        """Forget which members said "not here", so they are asked again."""
        self._tried.clear()

    def ended(self, t: Transfer) -> None:
        """`t` ended before it was complete: close and drop its partial file."""
        key = (t.peer, t.id)
        fd = self._writers.pop(key, None)
        self._downloads.pop(key, None)
        self._active.pop(key, None)
        part, t.part = t.part, ""
        if part:
            self._close_file(part)
        if fd is not None or part:
            # After the writes still queued for it: a closed number could be reused.
            self._writer().submit(_drop, fd, part)

    def not_here(self, t: Transfer, source: bytes) -> None:
        """A member said it does not hold what we asked of it: ask the next one."""
        key = (t.peer, t.id)
        if self._active.get(key) != source:
            return
        self._tried.setdefault(key, set()).add(source)
        del self._active[key]
        dl = self._downloads.get(key)
        if dl is not None:
            dl.reset_requests()
        self.pump()

    def _source(self, t: Transfer) -> bytes | None:
        """Whom to fetch `t` from: its sender; for a group's file, its author or the first
        linked member that has not said "not here"."""
        if t.conv is None:
            return t.peer if self._linked(t.peer) else None
        tried = self._tried.get((t.peer, t.id), set())
        members = self._group_members(t.conv)
        for key in [t.peer, *sorted(members - {t.peer, self._key})]:
            if key not in tried and self._linked(key) and (key in members or key == t.peer):
                return key
        return None

    def _linked(self, key: bytes) -> bool:
        return self._usable(key) is not None

    def pump(self, now: float | None = None) -> None:
        """Start downloads (at most MAX_ACTIVE_PER_PEER per peer fetched from) and send what
        each asks for."""
        if now is None:
            now = asyncio.get_running_loop().time()
        for gone_key, was in list(self._active.items()):
            if self._usable(was) is None:  # its link went: fetched anew, from whoever has it
                del self._active[gone_key]
                stale = self._downloads.get(gone_key)
                if stale is not None:
                    stale.reset_requests()
        busy: dict[bytes, int] = {}
        for fetching_from in self._active.values():
            busy[fetching_from] = busy.get(fetching_from, 0) + 1
        for (peer, id_, outgoing), t in self._transfers.items():
            key = (peer, id_)
            if outgoing or t.state != "receiving" or key in self._active:
                continue
            if key not in self._downloads and t.hashes is not None:
                continue  # its partial file is still being checked
            source = self._source(t)
            if source is None or busy.get(source, 0) >= MAX_ACTIVE_PER_PEER:
                continue
            self._active[key] = source
            busy[source] = busy.get(source, 0) + 1
            if t.received:
                t.resumed_from = t.received
        out: dict[bytes, list[bytes]] = {}
        for key, source in list(self._active.items()):
            t = self._transfers[(key[0], key[1], False)]
            dl = self._download(t)
            out.setdefault(source, []).extend(encode_file_record(r)
                                              for r in dl.requests(now, t.id))
            if dl.failed is not None:
                self._fail(t, dl.failed)
        for source, requests in out.items():
            link = self._usable(source)
            if requests and link is not None:
                with contextlib.suppress(Exception):
                    link.send_records(requests)

    def _usable(self, source: bytes) -> Link | None:
        """`source`'s live link, open: the only place a request may be marked as asked, since
        one marked and never sent would wait out REQUEST_TIMEOUT on the next link."""
        link = self._live_link(source)
        if link is None or link.closed or not link.peer.up or link.peer.stranger:
            return None
        return link

    def _download(self, t: Transfer) -> Download:
        dl = self._downloads.get((t.peer, t.id))
        if dl is None:
            dl = self._downloads[(t.peer, t.id)] = Download(t.size, t.root, hashes=t.hashes,
                                                            have=bytearray(t.have or b""))
        return dl

    def _incoming(self, sender: bytes, id_: bytes) -> tuple[Transfer, Download] | None:
        """The download a record from `sender` belongs to: one we fetch from them now."""
        t = self._transfers.get((sender, id_, False)) or self._group_files.get(id_)
        if t is None or t.outgoing or t.state != "receiving" or \
                self._active.get((t.peer, t.id)) != sender:
            return None
        dl = self._downloads.get((t.peer, t.id))
        return None if dl is None else (t, dl)

    def on_hashes(self, peer: bytes, record: FileHashes) -> None:
        """A part of the hash list we asked for: checked against the root, then chunks."""
        found = self._incoming(peer, record.id)
        if found is None:
            return
        t, dl = found
        problem = dl.on_hashes(record.first, record.hashes)
        if problem is not None:
            self._fail(t, problem)
            return
        if dl.hashes is not None:
            t.hashes = dl.hashes
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self._fail(t, f"cannot create {self.folder}: {exc.strerror}")
                return
            t.part = str(self.folder / f".{t.id.hex()}.p2pchat-part")
            t.have = bytes(dl.have)
            self._db.save(t)
            self._outbox.schedule_lazy_flush()
        self.pump()

    def on_chunk(self, link: Link, peer: bytes, record: FileChunk,
                 warn: Callable[[Transfer], None]) -> None:
        """A chunk we asked `peer` for: hashed and written in the writer thread (FIFO, so
        the file's writes and its close keep their order; at most `core.files.CHECKING` of a
        download's chunks wait there); `_written` takes it from there."""
        found = self._incoming(peer, record.id)
        if found is None:
            return
        t, dl = found
        expected = dl.take_chunk(record.index, record.data)
        if expected == "unasked":
            return
        if isinstance(expected, str):  # the wrong length
            self._after_bad(link, t, dl, warn)
            return
        key = (t.peer, t.id)
        try:
            fd = self._writers.get(key)
            if fd is None:
                fd = self._writers[key] = os.open(t.part, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            self._fail(t, f"cannot write {t.part}: {exc.strerror}")
            return
        done = self._writer().submit(verify_and_write, fd, record.data,
                                     record.index * CHUNK_SIZE, expected)
        loop = asyncio.get_running_loop()
        done.add_done_callback(lambda f: loop.call_soon_threadsafe(
            self._written, f, link, peer, t, dl, record.index, warn))
        # The next request goes now, while this chunk is hashed and written: the sender's
        # pipeline stays full without more chunks in flight ahead of a chat record.
        self._ask(t, dl)

    def _writer(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="file-writer")
        return self._pool

    def _written(self, result: Future[bool], link: Link, peer: bytes, t: Transfer,
                 dl: Download, index: int, warn: Callable[[Transfer], None]) -> None:
        if t.state != "receiving" or self._downloads.get((t.peer, t.id)) is not dl:
            return  # ended meanwhile
        try:
            good = result.result()
        except OSError as exc:
            self._fail(t, f"cannot write {t.part}: {exc.strerror}")
            return
        if dl.checked(index, good) is not None:
            self._after_bad(link, t, dl, warn)
            return
        t.received = dl.received
        self._progress(t)
        if dl.done:
            self._active.pop((t.peer, t.id), None)
            self._spawn(self._finish(t, dl, peer), "finish file")
            return
        self._save_progress(t, dl)
        self._ask(t, dl)

    def _after_bad(self, link: Link, t: Transfer, dl: Download,
                   warn: Callable[[Transfer], None]) -> None:
        warn(t)
        if dl.failed is not None:
            self._fail(t, dl.failed)
        else:
            self._ask(t, dl)

    def _ask(self, t: Transfer, dl: Download) -> None:
        """The next requests of `t`, on the live link of the peer it is fetched from now. A
        chunk written after its link went (the writer thread is behind) asks nothing there:
        `forget` reset the requests, and ones marked as asked that no link carried would hold
        the next link back until they time out (REQUEST_TIMEOUT)."""
        source = self._active.get((t.peer, t.id))
        current = None if source is None else self._usable(source)
        if current is None:
            return
        requests = [encode_file_record(r)
                    for r in dl.requests(asyncio.get_running_loop().time(), t.id)]
        if requests:
            with contextlib.suppress(Exception):
                current.send_records(requests)

    def _save_progress(self, t: Transfer, dl: Download, force: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        key = (t.peer, t.id)
        if force or now - self._last_save.get(key, 0.0) >= SAVE_EVERY:
            self._last_save[key] = now
            t.have, t.received = bytes(dl.have), dl.received
            self._db.save_progress(t)
            self._outbox.schedule_lazy_flush()

    async def _finish(self, t: Transfer, dl: Download, source: bytes) -> None:
        """Every chunk is in: make the partial file durable, give it its name, say done."""
        key = (t.peer, t.id)
        fd = self._writers.pop(key, None)
        try:
            if fd is None:  # an empty file (or one whose chunks were all there at resume)
                fd = os.open(t.part, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(finish_part, fd, t.size)
            finally:
                os.close(fd)
            if t.state != "receiving":  # cancelled meanwhile
                return
            self._close_file(t.part)
            final = place(t.part, self.folder, t.name)
        except OSError as exc:
            self._fail(t, f"cannot save {t.name}: {exc.strerror}")
            return
        t.path, t.part, t.received, t.have = str(final), "", t.size, bytes(dl.have)
        self._downloads.pop(key, None)
        self._set_state(t, "done")
        log.info("received %s (%d bytes) from %s", final.name, t.size,
                 self._display_name(source))
        link = self._live_link(source)
        if link is not None and t.conv is None:
            with contextlib.suppress(Exception):
                link.send_record(encode_file_record(FileAnswer(t.id, ANSWER_DONE)))
        self.pump()


def _drop(fd: int | None, part: str) -> None:
    """Close a partial file and remove it (in the writer thread, after its writes)."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    if part:
        with contextlib.suppress(OSError):
            os.unlink(part)
