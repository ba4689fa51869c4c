"""Files: sending and receiving files over the peers' sessions (docs/protocol.md section 12).

The sender offers (name, size, root hash), keeps the offer in the store and answers requests for
hashes and chunks by reading the file; the receiver keeps a `core.files.Download` per transfer,
asks for what it lacks a few chunks at a time, verifies each chunk, writes it into a partial file
in the downloads folder, and renames it once every chunk is in. Progress (the verified chunks)
is saved about once a second, and the chunks so marked are verified again on disk when the node
restarts, so a transfer resumes from what really is there.

Chat never waits behind file data: a download asks for at most `WINDOW` chunks at a time, a
node runs at most `MAX_ACTIVE_PER_PEER` downloads per peer, and a sender serves chunk requests
from a small per-link queue only while the link has drained, so a chat record (written straight
to the link) has at most a few chunks ahead of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.clock import wall_ns
from p2pchat.core.errors import ProtocolError
from p2pchat.core.file_records import (
    ANSWER_CANCELLED,
    ANSWER_DECLINED,
    ANSWER_DONE,
    ANSWER_FAILED,
    CHUNK_SIZE,
    MAX_WIRE_FILE_SIZE,
    FileAnswer,
    FileChunk,
    FileGet,
    FileHashes,
    FileHashGet,
    FileOffer,
    FileRecord,
    decode_file_record,
    encode_file_record,
)
from p2pchat.core.files import (
    HASH_LEN,
    Download,
    chunk_count,
    chunk_hash,
    chunk_len,
    numbered,
    root_hash,
    safe_file_name,
)
from p2pchat.core.identity import fingerprint, short_fingerprint
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.config import CommandError
from p2pchat.node.outbox import Outbox
from p2pchat.storage.files import OPEN_STATES, FileStore, Transfer
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")

AUTO_ACCEPT_SIZE = 64 * 1024 * 1024  # from contacts, files up to this size need no accept
MAX_OPEN_OFFERS_PER_PEER = 16  # offers waiting or running from one peer; more are declined
MAX_ACTIVE_PER_PEER = 2  # downloads from one peer that fetch at once; the rest wait their turn
MAX_QUEUED_REQUESTS = 64  # chunk/hash requests a peer may have waiting with us, per link
FREE_SPACE_MARGIN = 16 * 1024 * 1024  # left free on the disk after a download
PROGRESS_EVERY = 0.25  # seconds between progress events of one transfer
SAVE_EVERY = 1.0  # seconds between progress saves of one download
_ANSWER_STATE = {ANSWER_DECLINED: "declined", ANSWER_CANCELLED: "cancelled",
                 ANSWER_DONE: "done", ANSWER_FAILED: "failed"}
_STATE_ANSWER = {v: k for k, v in _ANSWER_STATE.items()}


def hash_file(path: Path) -> tuple[int, bytes, bytes]:
    """(size, chunk hashes, root) of a file, reading it once (run in a thread)."""
    hashes = bytearray()
    size = 0
    with path.open("rb") as handle:
        while True:
            data = handle.read(CHUNK_SIZE)
            if not data and size:
                break
            hashes += chunk_hash(data)
            size += len(data)
            if len(data) < CHUNK_SIZE:
                break
    return size, bytes(hashes), root_hash(size, bytes(hashes))


def verify_part(path: str, size: int, hashes: bytes, have: bytearray) -> bytearray:
    """The chunks marked in `have` that really are on disk (run in a thread at resume)."""
    out = bytearray(len(have))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return out
    try:
        for index in range(chunk_count(size)):
            if have[index >> 3] & (1 << (index & 7)):
                data = os.pread(fd, chunk_len(size, index), index * CHUNK_SIZE)
                if chunk_hash(data) == hashes[index * HASH_LEN:(index + 1) * HASH_LEN]:
                    out[index >> 3] |= 1 << (index & 7)
    finally:
        os.close(fd)
    return out


class Files:
    def __init__(self, key: bytes, downloads: Path, *, store: Callable[[], Store],
                 outbox: Outbox, events: EventBus, live_link: Callable[[bytes], Link | None],
                 contact_key: Callable[[str], bytes], is_contact: Callable[[bytes], bool],
                 display_name: Callable[[bytes], str],
                 spawn: Callable[[Any, str], asyncio.Task[Any]],
                 auto_accept_size: int = AUTO_ACCEPT_SIZE,
                 max_file_size: int = MAX_WIRE_FILE_SIZE) -> None:
        self._key = key
        self.downloads = downloads
        self._db = FileStore(store)
        self._outbox = outbox
        self._events = events
        self._live_link = live_link
        self._contact_key = contact_key
        self._is_contact = is_contact
        self._display_name = display_name
        self._spawn = spawn
        self.auto_accept_size = auto_accept_size
        self.max_file_size = min(max_file_size, MAX_WIRE_FILE_SIZE)
        self._transfers: dict[tuple[bytes, bytes, bool], Transfer] = {}
        self._downloads: dict[tuple[bytes, bytes], Download] = {}
        self._active: dict[bytes, set[bytes]] = {}  # peer -> ids of downloads fetching now
        self._fds: dict[tuple[bytes, bytes, bool], int] = {}
        self._queues: dict[Link, deque[FileGet | FileHashGet]] = {}
        self._last_event: dict[tuple[bytes, bytes, bool], float] = {}
        self._last_save: dict[tuple[bytes, bytes], float] = {}
        self._warned: set[tuple[bytes, str]] = set()

    # ------------------------------------------------------------ start and stop

    def load(self) -> None:
        for t in self._db.load_all():
            self._transfers[(t.peer, t.id, t.outgoing)] = t
            if not t.outgoing and t.state == "receiving" and t.hashes is not None:
                self._spawn(self._verify_resume(t), "verify partial file")

    async def _verify_resume(self, t: Transfer) -> None:
        assert t.hashes is not None
        have = bytearray(t.have or b"")
        dl = Download(t.size, t.root, hashes=t.hashes, have=have)
        verified = await asyncio.to_thread(verify_part, t.part, t.size, t.hashes, dl.have)
        dl = Download(t.size, t.root, hashes=t.hashes, have=verified)
        if t.state != "receiving":
            return
        self._downloads[(t.peer, t.id)] = dl
        t.resumed_from = t.received = dl.received
        t.have = bytes(dl.have)
        self._db.save(t)
        self._outbox.schedule_flush()
        self._pump(t.peer)

    def close(self) -> None:
        for key, t in self._transfers.items():
            dl = self._downloads.get((key[0], key[1]))
            if dl is not None and t.state == "receiving":
                t.have, t.received = bytes(dl.have), dl.received
                with contextlib.suppress(Exception):
                    self._db.save_progress(t)
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    # ------------------------------------------------------------ commands

    async def send(self, who: str, paths: list[str]) -> list[dict[str, Any]]:
        """Offer each file to a contact; the offers are stored before this returns."""
        peer = self._contact_key(who)
        if not paths:
            raise CommandError("bad_file", "no file to send")
        files = []
        for text in paths:
            path = Path(text).expanduser()
            try:
                path = path.resolve(strict=True)
                if not path.is_file():
                    raise CommandError("bad_file", f"{text} is not a file")
                size, hashes, root = await asyncio.to_thread(hash_file, path)
            except OSError as exc:
                raise CommandError("bad_file", f"cannot read {text}: {exc.strerror}") from None
            if size > MAX_WIRE_FILE_SIZE:
                raise CommandError("bad_file", f"{text} is larger than 64 GiB")
            files.append((path, size, hashes, root))
        made = []
        for path, size, hashes, root in files:
            t = Transfer(secrets.token_bytes(16), peer, True, path.name, size, root, "offered",
                         path=str(path), hashes=hashes, created_at=wall_ns() // 1_000_000)
            self._db.add(t)
            self._transfers[(peer, t.id, True)] = t
            made.append(t)
        await self._outbox.durable()
        link = self._live_link(peer)
        for t in made:
            if link is not None:
                self._send(link, FileOffer(t.id, t.name, t.size, t.root))
            self._emit_state(t)
        return [self.view(t) for t in made]

    def listing(self) -> list[dict[str, Any]]:
        return [self.view(t) for t in self._transfers.values()]

    def _find(self, id_text: str) -> Transfer:
        text = id_text.strip().lower()
        found = [t for t in self._transfers.values() if t.id.hex().startswith(text)] \
            if len(text) >= 4 else []
        if not found:
            raise CommandError("unknown_file", f"no transfer with id {id_text!r}: see "
                               "'p2pchat file list'")
        if len(found) > 1:
            raise CommandError("unknown_file", f"{id_text!r} matches several transfers: give "
                               "more of the id")
        return found[0]

    async def accept(self, id_text: str) -> dict[str, Any]:
        t = self._find(id_text)
        if t.outgoing or t.state != "offered":
            raise CommandError("bad_state", f"{t.name!r} is {t.state}, not an offer to you")
        problem = self._space_problem(t.size)
        if problem is not None:
            raise CommandError("no_space", problem)
        self._set_state(t, "receiving")
        await self._outbox.durable()
        self._pump(t.peer)
        return self.view(t)

    async def decline(self, id_text: str) -> dict[str, Any]:
        t = self._find(id_text)
        if t.outgoing or t.state != "offered":
            raise CommandError("bad_state", f"{t.name!r} is {t.state}, not an offer to you")
        self._end(t, "declined", tell=True)
        await self._outbox.durable()
        return self.view(t)

    async def cancel(self, id_text: str) -> dict[str, Any]:
        t = self._find(id_text)
        if t.state not in OPEN_STATES:
            raise CommandError("bad_state", f"{t.name!r} is already {t.state}")
        self._end(t, "cancelled", tell=True)
        await self._outbox.durable()
        return self.view(t)

    def view(self, t: Transfer) -> dict[str, Any]:
        return {"id": t.id.hex(), "name": t.name, "size": t.size, "state": t.state,
                "direction": "out" if t.outgoing else "in", "path": t.path,
                "received": t.received, "resumed_from": t.resumed_from,
                "fingerprint": fingerprint(t.peer), "peer": self._display_name(t.peer),
                "error": t.error}

    # ------------------------------------------------------------ links

    def on_link_up(self, link: Link, peer: bytes) -> None:
        """Offers still open go (again) to the peer; our downloads from it resume."""
        for (owner, _, outgoing), t in self._transfers.items():
            if owner == peer and outgoing and t.state in ("offered", "sending"):
                self._send(link, FileOffer(t.id, t.name, t.size, t.root))
        self._pump(peer)

    def forget(self, link: Link) -> None:
        self._queues.pop(link, None)
        peer = link.remote_key
        if peer is None:
            return
        for id_ in self._active.pop(peer, set()):
            dl = self._downloads.get((peer, id_))
            t = self._transfers.get((peer, id_, False))
            if dl is not None and t is not None:
                dl.reset_requests()
                self._save_progress(t, dl, force=True)

    def tick(self, now: float) -> None:
        for peer in list(self._active):
            self._pump(peer, now)

    # ------------------------------------------------------------ records

    def on_record(self, link: Link, peer: bytes, data: bytes) -> None:
        try:
            record = decode_file_record(data)
        except ProtocolError as exc:
            log.warning("closing link to %s: %s", short_fingerprint(peer), exc)
            link.close(f"bad record: {exc}")
            return
        if isinstance(record, FileOffer):
            self._on_offer(link, peer, record)
        elif isinstance(record, FileAnswer):
            self._on_answer(peer, record)
        elif isinstance(record, FileGet | FileHashGet):
            self._on_request(link, peer, record)
        elif isinstance(record, FileHashes):
            self._on_hashes(peer, record)
        elif isinstance(record, FileChunk):
            self._on_chunk(link, peer, record)

    def _send(self, link: Link, record: FileRecord) -> None:
        with contextlib.suppress(Exception):
            link.send_record(encode_file_record(record))

    def _warn_once(self, peer: bytes, what: str, message: str, *args: Any) -> None:
        if (peer, what) not in self._warned and len(self._warned) < 4096:
            self._warned.add((peer, what))
            log.warning(message, *args)

    def _on_offer(self, link: Link, peer: bytes, offer: FileOffer) -> None:
        t = self._transfers.get((peer, offer.id, False))
        if t is not None:
            if t.state in _STATE_ANSWER:
                self._send(link, FileAnswer(offer.id, _STATE_ANSWER[t.state]))
            elif t.state == "receiving":
                self._pump(peer)
            return
        who = self._display_name(peer)
        waiting = sum(1 for (p, _, out), x in self._transfers.items()
                      if p == peer and not out and x.state in OPEN_STATES)
        if waiting >= MAX_OPEN_OFFERS_PER_PEER:
            self._warn_once(peer, "offers", "declined file offers from %s: %d already open",
                            who, waiting)
            self._send(link, FileAnswer(offer.id, ANSWER_DECLINED))
            return
        if offer.size > self.max_file_size:
            # Not stored: endless refused offers must cost nothing.
            self._warn_once(peer, "size", "declined a file from %s: %d bytes is over the "
                            "limit of %d", who, offer.size, self.max_file_size)
            self._send(link, FileAnswer(offer.id, ANSWER_DECLINED))
            return
        name = safe_file_name(offer.name)
        t = Transfer(offer.id, peer, False, name, offer.size, offer.root, "offered",
                     created_at=wall_ns() // 1_000_000)
        if offer.size <= self.auto_accept_size and self._is_contact(peer):
            problem = self._space_problem(offer.size)
            if problem is None:
                t.state = "receiving"
            else:
                t.error = problem
        self._db.add(t)
        self._transfers[(peer, offer.id, False)] = t
        self._outbox.schedule_flush()
        self._emit_state(t)
        if t.state == "offered":
            self._events.emit({"type": "file_offer", **self.view(t)})
        self._pump(peer)

    def _on_answer(self, peer: bytes, answer: FileAnswer) -> None:
        state = _ANSWER_STATE[answer.answer]
        t = self._transfers.get((peer, answer.id, True))
        if t is None or t.state not in OPEN_STATES:
            t = self._transfers.get((peer, answer.id, False))
            if t is None or t.state not in OPEN_STATES or state == "done":
                return
        if t.outgoing and state == "done":
            t.received = t.size
        self._end(t, state, tell=False)
        self._outbox.schedule_flush()

    # ------------------------------------------------------------ sending

    def _on_request(self, link: Link, peer: bytes, request: FileGet | FileHashGet) -> None:
        t = self._transfers.get((peer, request.id, True))
        if t is None or t.state not in ("offered", "sending"):
            return  # ended (its answer went or goes on the next offer round): nothing to send
        queue = self._queues.get(link)
        if queue is None:
            queue = self._queues[link] = deque()
            self._spawn(self._serve(link, queue), "serve file chunks")
        if len(queue) >= MAX_QUEUED_REQUESTS:
            log.warning("closing link to %s: too many file requests", short_fingerprint(peer))
            link.close("too many file requests")
            return
        queue.append(request)

    async def _serve(self, link: Link, queue: deque[FileGet | FileHashGet]) -> None:
        """Answer a link's requests in order, each only once what went before has drained."""
        try:
            while queue and not link.closed:
                if not await link.drained():
                    return
                request = queue.popleft()
                peer = link.remote_key
                assert peer is not None
                t = self._transfers.get((peer, request.id, True))
                if t is None or t.state not in ("offered", "sending"):
                    continue
                record = self._answer(t, request)
                if record is not None:
                    self._send(link, record)
        finally:
            if self._queues.get(link) is queue:
                del self._queues[link]

    def _answer(self, t: Transfer, request: FileGet | FileHashGet) -> FileRecord | None:
        if t.state == "offered":
            self._set_state(t, "sending")
        if isinstance(request, FileHashGet):
            assert t.hashes is not None
            hashes = t.hashes[request.first * HASH_LEN:(request.first + request.count) * HASH_LEN]
            return FileHashes(t.id, request.first, hashes) if hashes else None
        if request.index >= chunk_count(t.size):
            return None
        key = (t.peer, t.id, True)
        try:
            fd = self._fds.get(key)
            if fd is None:
                fd = self._fds[key] = os.open(t.path, os.O_RDONLY)
            data = os.pread(fd, chunk_len(t.size, request.index), request.index * CHUNK_SIZE)
        except OSError as exc:
            self._fail(t, f"cannot read {t.path}: {exc.strerror}")
            return None
        end = request.index * CHUNK_SIZE + len(data)
        if end > t.received:
            t.received = end
            self._progress(t)
        return FileChunk(t.id, request.index, data)

    # ------------------------------------------------------------ receiving

    def _pump(self, peer: bytes, now: float | None = None) -> None:
        """Start downloads from `peer` up to MAX_ACTIVE_PER_PEER and send what each asks for."""
        link = self._live_link(peer)
        if link is None or link.closed or link.peer.stranger:
            return
        if now is None:
            now = asyncio.get_running_loop().time()
        active = self._active.setdefault(peer, set())
        for (owner, id_, outgoing), t in self._transfers.items():
            if len(active) >= MAX_ACTIVE_PER_PEER:
                break
            if owner == peer and not outgoing and t.state == "receiving" and id_ not in active:
                if (peer, id_) not in self._downloads and t.hashes is not None:
                    continue  # its partial file is still being checked
                active.add(id_)
                if t.received:
                    t.resumed_from = t.received
        requests: list[bytes] = []
        for id_ in list(active):
            t = self._transfers[(peer, id_, False)]
            dl = self._download(t)
            requests += [encode_file_record(r) for r in dl.requests(now, id_)]
            if dl.failed is not None:
                self._fail(t, dl.failed)
        if requests:
            with contextlib.suppress(Exception):
                link.send_records(requests)
        if not active:
            self._active.pop(peer, None)

    def _download(self, t: Transfer) -> Download:
        dl = self._downloads.get((t.peer, t.id))
        if dl is None:
            dl = self._downloads[(t.peer, t.id)] = Download(t.size, t.root, hashes=t.hashes,
                                                            have=bytearray(t.have or b""))
        return dl

    def _on_hashes(self, peer: bytes, record: FileHashes) -> None:
        t = self._transfers.get((peer, record.id, False))
        dl = self._downloads.get((peer, record.id))
        if t is None or dl is None or t.state != "receiving":
            return
        problem = dl.on_hashes(record.first, record.hashes)
        if problem is not None:
            self._warn_once(peer, "hashes", "file %r from %s failed: %s", t.name,
                            self._display_name(peer), problem)
            self._fail(t, problem)
            return
        if dl.hashes is not None:
            t.hashes = dl.hashes
            try:
                self.downloads.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self._fail(t, f"cannot create {self.downloads}: {exc.strerror}")
                return
            t.part = str(self.downloads / f".{t.id.hex()}.p2pchat-part")
            t.have = bytes(dl.have)
            self._db.save(t)
            self._outbox.schedule_lazy_flush()
        self._pump(peer)

    def _on_chunk(self, link: Link, peer: bytes, record: FileChunk) -> None:
        t = self._transfers.get((peer, record.id, False))
        dl = self._downloads.get((peer, record.id))
        if t is None or dl is None or t.state != "receiving":
            return
        verdict = dl.check_chunk(record.index, record.data)
        if verdict == "bad":
            self._warn_once(peer, "bad chunk", "file %r from %s: a chunk failed its hash",
                            t.name, self._display_name(peer))
            if dl.failed is not None:
                self._fail(t, dl.failed)
                return
        elif verdict is None:
            key = (peer, t.id, False)
            try:
                fd = self._fds.get(key)
                if fd is None:
                    fd = self._fds[key] = os.open(t.part, os.O_WRONLY | os.O_CREAT, 0o600)
                os.pwrite(fd, record.data, record.index * CHUNK_SIZE)
            except OSError as exc:
                self._fail(t, f"cannot write {t.part}: {exc.strerror}")
                return
            dl.mark(record.index)
            t.received = dl.received
            self._progress(t)
            if dl.done:
                self._spawn(self._finish(t, dl), "finish file")
                return
            self._save_progress(t, dl)
        else:
            return
        now = asyncio.get_running_loop().time()
        requests = [encode_file_record(r) for r in dl.requests(now, t.id)]
        if requests:
            link.send_records(requests)

    def _save_progress(self, t: Transfer, dl: Download, force: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        key = (t.peer, t.id)
        if force or now - self._last_save.get(key, 0.0) >= SAVE_EVERY:
            self._last_save[key] = now
            t.have, t.received = bytes(dl.have), dl.received
            self._db.save_progress(t)
            self._outbox.schedule_lazy_flush()

    async def _finish(self, t: Transfer, dl: Download) -> None:
        """Every chunk is in: flush the partial file to disk, give it its name, say done."""
        self._active.get(t.peer, set()).discard(t.id)
        key = (t.peer, t.id, False)
        fd = self._fds.pop(key, None)
        try:
            if fd is None:  # an empty file (or one whose chunks were all there at resume)
                fd = os.open(t.part, os.O_WRONLY | os.O_CREAT, 0o600)
            os.ftruncate(fd, t.size)
            await asyncio.to_thread(os.fsync, fd)
            os.close(fd)
            final = self._place(t)
        except OSError as exc:
            self._fail(t, f"cannot save {t.name}: {exc.strerror}")
            return
        if t.state != "receiving":  # cancelled meanwhile
            return
        t.path, t.part, t.received = str(final), "", t.size
        t.have = bytes(dl.have)
        self._downloads.pop((t.peer, t.id), None)
        self._set_state(t, "done")
        log.info("received %s (%d bytes) from %s", final.name, t.size,
                 self._display_name(t.peer))
        link = self._live_link(t.peer)
        if link is not None:
            self._send(link, FileAnswer(t.id, ANSWER_DONE))
        self._pump(t.peer)

    def _place(self, t: Transfer) -> Path:
        """Link the partial file to the first free name (never replacing a file), then drop
        the partial name."""
        for n in range(1000):
            final = self.downloads / numbered(t.name, n)
            try:
                os.link(t.part, final)
            except FileExistsError:
                continue
            os.unlink(t.part)
            return final
        raise OSError(0, f"no free name for {t.name}")

    def _space_problem(self, size: int) -> str | None:
        try:
            self.downloads.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.downloads).free
        except OSError as exc:
            return f"cannot use {self.downloads}: {exc.strerror}"
        if free < size + FREE_SPACE_MARGIN:
            return (f"not enough free space in {self.downloads}: the file needs {size} bytes, "
                    f"{free} are free")
        return None

    # ------------------------------------------------------------ states and events

    def _set_state(self, t: Transfer, state: str) -> None:
        t.state = state
        self._db.save(t)
        self._outbox.schedule_flush()
        self._emit_state(t)

    def _fail(self, t: Transfer, error: str) -> None:
        t.error = error
        log.warning("file %r %s %s failed: %s", t.name, "to" if t.outgoing else "from",
                    self._display_name(t.peer), error)
        self._end(t, "failed", tell=True)

    def _end(self, t: Transfer, state: str, *, tell: bool) -> None:
        """The transfer is over: close its file, drop a partial one, tell the peer."""
        key = (t.peer, t.id, t.outgoing)
        fd = self._fds.pop(key, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if not t.outgoing:
            self._downloads.pop((t.peer, t.id), None)
            self._active.get(t.peer, set()).discard(t.id)
            if t.part:
                with contextlib.suppress(OSError):
                    os.unlink(t.part)
                t.part = ""
        self._set_state(t, state)
        if tell:
            link = self._live_link(t.peer)
            if link is not None:
                self._send(link, FileAnswer(t.id, _STATE_ANSWER[state]))
        if not t.outgoing:
            self._pump(t.peer)

    def _emit_state(self, t: Transfer) -> None:
        self._events.emit({"type": "file", **self.view(t)})

    def _progress(self, t: Transfer) -> None:
        if not self._events.wanted:
            return
        now = asyncio.get_running_loop().time()
        key = (t.peer, t.id, t.outgoing)
        if now - self._last_event.get(key, 0.0) >= PROGRESS_EVERY:
            self._last_event[key] = now
            self._events.emit({"type": "file_progress", "id": t.id.hex(), "name": t.name,
                               "size": t.size, "received": t.received,
                               "direction": "out" if t.outgoing else "in"})


def digest_file(path: Path) -> str:
    """BLAKE2b-256 hex of a whole file (for tests and the benchmark)."""
    h = hashlib.blake2b(digest_size=32)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
