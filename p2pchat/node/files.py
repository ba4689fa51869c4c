"""Files: sending and receiving files over the peers' sessions (docs/protocol.md section 13).

The sender offers (name, size, root hash) and keeps the offer in the store; `FileServer`
(node/file_server.py) answers requests for hashes and chunks. The receiver keeps a
`core.files.Download` per transfer, asks for what it lacks a few chunks at a time, verifies each
chunk, writes it into a partial file in the downloads folder and gives the file its name once
every chunk is in. Progress (the verified chunks) is saved about once a second, and the chunks
so marked are checked again on disk when the node restarts, so a transfer resumes from what
really is there.

In a group the offer is a group message (its body carries the offer); a member fetches from the
author or from any member that holds the file or the chunk, trying the next when one answers
"not here". Chat never waits behind file data: a download asks for at most `WINDOW` chunks at a
time, a node fetches at most `MAX_ACTIVE_PER_PEER` downloads from one peer at once, and a sender
serves chunks only once the link has drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from p2pchat.clock import wall_ns
from p2pchat.core.errors import ProtocolError
from p2pchat.core.file_records import (
    ANSWER_CANCELLED,
    ANSWER_DECLINED,
    ANSWER_DONE,
    ANSWER_FAILED,
    ANSWER_NOT_HERE,
    MAX_WIRE_FILE_SIZE,
    FileAnswer,
    FileChunk,
    FileGet,
    FileHashes,
    FileHashGet,
    FileOffer,
    FileRecord,
    decode_file_body,
    decode_file_record,
    encode_file_body,
    encode_file_record,
)
from p2pchat.core.file_records import (
    REVISION as FILES_REVISION,
)
from p2pchat.core.files import HASH_LEN, safe_file_name
from p2pchat.core.identity import fingerprint, short_fingerprint
from p2pchat.core.messages import Envelope
from p2pchat.core.text import human_size
from p2pchat.events import EventBus
from p2pchat.net.link import Link
from p2pchat.node.config import CommandError
from p2pchat.node.file_disk import hash_file, space_problem
from p2pchat.node.file_downloads import Downloads
from p2pchat.node.file_server import FileServer, Holding
from p2pchat.node.outbox import Outbox
from p2pchat.storage.files import OPEN_STATES, FileTable, Transfer
from p2pchat.storage.store import Store

log = logging.getLogger("p2pchat.node")

AUTO_ACCEPT_SIZE = 64 * 1024 * 1024  # from contacts, files up to this size need no accept
MAX_OPEN_OFFERS_PER_PEER = 16  # offers waiting or running from one peer; more are declined
PROGRESS_EVERY = 0.25  # seconds between progress events of one transfer
RETRY_SOURCES_EVERY = 2.0  # seconds before members that answered "not here" are asked again
_ANSWER_STATE = {ANSWER_DECLINED: "declined", ANSWER_CANCELLED: "cancelled",
                 ANSWER_DONE: "done", ANSWER_FAILED: "failed"}
_STATE_ANSWER = {v: k for k, v in _ANSWER_STATE.items()}


class Files:
    def __init__(self, key: bytes, downloads: Path, *, store: Callable[[], Store],
                 outbox: Outbox, events: EventBus, live_link: Callable[[bytes], Link | None],
                 contact_key: Callable[[str], bytes], is_contact: Callable[[bytes], bool],
                 display_name: Callable[[bytes], str],
                 group_conv: Callable[[str], bytes | None],
                 group_members: Callable[[bytes], frozenset[bytes]],
                 post_group: Callable[[str, list[bytes]], Awaitable[Any]],
                 spawn: Callable[[Any, str], asyncio.Task[Any]],
                 auto_accept_size: int = AUTO_ACCEPT_SIZE,
                 max_file_size: int = MAX_WIRE_FILE_SIZE) -> None:
        self._key = key
        self.folder = downloads
        self._store = store
        self._outbox = outbox
        self._events = events
        self._live_link = live_link
        self._contact_key = contact_key
        self._is_contact = is_contact
        self._display_name = display_name
        self._group_conv = group_conv
        self._group_members = group_members
        self._post_group = post_group
        self._spawn = spawn
        self.auto_accept_size = auto_accept_size
        self.max_file_size = min(max_file_size, MAX_WIRE_FILE_SIZE)
        self._transfers: dict[tuple[bytes, bytes, bool], Transfer] = {}
        self._group_files: dict[bytes, Transfer] = {}  # id -> a group's file we send or get
        self.server = FileServer(holding=self._holding, on_served=self._served,
                                 on_error=self._read_failed, spawn=spawn)
        self.downloads = Downloads(
            key, downloads, transfers=self._transfers, group_files=self._group_files,
            table=lambda: self._db, outbox=outbox, live_link=live_link, group_members=group_members,
            display_name=display_name, spawn=spawn, set_state=self._set_state,
            fail=self._fail, progress=self._progress, close_file=self.server.close_file)
        self._last_event: dict[tuple[bytes, bytes, bool], float] = {}
        # A group's file: bytes served to each member (in memory; bounded by the members).
        self._served_to: dict[bytes, dict[bytes, int]] = {}
        self._last_retry = 0.0
        self._warned: set[tuple[bytes, str]] = set()

    @property
    def _db(self) -> FileTable:
        return self._store().files

    # ------------------------------------------------------------ start and stop

    def load(self) -> None:
        """At start: the stored transfers, with partial files checked before they resume."""
        for t in self._db.load_all():
            self._add(t)
            if not t.outgoing and t.state == "receiving" and t.hashes is not None:
                self._spawn(self.downloads.resume(t), "verify partial file")

    def _add(self, t: Transfer) -> None:
        self._transfers[(t.peer, t.id, t.outgoing)] = t
        if t.conv is not None:
            self._group_files[t.id] = t

    def close(self) -> None:
        """Stopping: save progress and close what is open."""
        self.downloads.close()
        self.server.close()

    # ------------------------------------------------------------ commands

    async def send(self, who: str, paths: list[str]) -> list[dict[str, Any]]:
        """Offer each file to a contact, or in a group (as a group message); the offers are
        stored before this returns."""
        conv = None
        try:
            peer = self._contact_key(who)
        except CommandError:
            conv = self._group_conv(who)
            if conv is None:
                raise
            peer = self._key
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
            files.append(Transfer(secrets.token_bytes(16), peer, True, path.name, size, root,
                                  "offered", path=str(path), hashes=hashes,
                                  created_at=wall_ns() // 1_000_000, conv=conv))
        for t in files:
            self._db.add(t)
            self._add(t)
            if conv is not None:  # served for as long as the group lasts: read when asked
                t.hashes = None
        if conv is not None:
            await self._post_group(who, [encode_file_body(
                FileOffer(t.id, t.name, t.size, t.root),
                f"sent a file: {t.name} ({human_size(t.size)})") for t in files])
        else:
            await self._outbox.durable()
            link = self._live_link(peer)
            for t in files:
                if link is not None:
                    self._offer(link, t)
        for t in files:
            self._emit_state(t)
        return [self.view(t) for t in files]

    def listing(self) -> list[dict[str, Any]]:
        """Every transfer, each way, as the API shows it."""
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
        """Accept an offered file (free space checked first)."""
        t = self._find(id_text)
        if t.outgoing or t.state != "offered":
            raise CommandError("bad_state", f"{t.name!r} is {t.state}, not an offer to you")
        problem = space_problem(self.folder, t.size)
        if problem is not None:
            raise CommandError("no_space", problem)
        t.error = ""
        self._set_state(t, "receiving")
        await self._outbox.durable()
        self.downloads.pump()
        return self.view(t)

    async def decline(self, id_text: str) -> dict[str, Any]:
        """Decline an offered file; the sender is told."""
        t = self._find(id_text)
        if t.outgoing or t.state != "offered":
            raise CommandError("bad_state", f"{t.name!r} is {t.state}, not an offer to you")
        self._end(t, "declined", tell=True)
        await self._outbox.durable()
        return self.view(t)

    async def cancel(self, id_text: str) -> dict[str, Any]:
        """Cancel a transfer either way; the peer is told."""
        t = self._find(id_text)
        if t.state not in OPEN_STATES:
            raise CommandError("bad_state", f"{t.name!r} is already {t.state}")
        self._end(t, "cancelled", tell=True)
        await self._outbox.durable()
        return self.view(t)

    def view(self, t: Transfer) -> dict[str, Any]:
        """How a transfer looks from outside (docs/api.md, transfer)."""
        return transfer_view(t, self._display_name, self._served_to.get(t.id))

    # ------------------------------------------------------------ links

    def on_link_up(self, link: Link, peer: bytes) -> None:
        """Offers still open go (again) to a contact; downloads resume."""
        for (owner, _, outgoing), t in self._transfers.items():
            if owner == peer and outgoing and t.conv is None and t.state in OPEN_STATES:
                self._offer(link, t)
        self.downloads.pump()

    def forget(self, link: Link) -> None:
        """A link ended: what it was serving or fetching stops."""
        self.server.forget(link)
        self.downloads.forget(link.remote_key)

    def tick(self, now: float) -> None:
        """The node's timer: retry sources now and then, and keep downloads going."""
        if now - self._last_retry >= RETRY_SOURCES_EVERY:
            self._last_retry = now
            self.downloads.retry_sources()
        self.downloads.pump(now)

    # ------------------------------------------------------------ records

    def on_record(self, link: Link, peer: bytes, data: bytes) -> None:
        """A file record from a contact or a fellow member (docs/protocol.md 13)."""
        try:
            record = decode_file_record(data)
        except ProtocolError as exc:
            log.warning("closing link to %s: %s", short_fingerprint(peer), exc)
            link.close(f"bad record: {exc}")
            return
        if isinstance(record, FileOffer):
            if self._is_contact(peer):
                self._on_offer(link, peer, record)
        elif isinstance(record, FileAnswer):
            self._on_answer(peer, record)
        elif isinstance(record, FileGet | FileHashGet):
            self.server.request(link, peer, record)
        elif isinstance(record, FileHashes):
            self.downloads.on_hashes(peer, record)
        elif isinstance(record, FileChunk):
            self.downloads.on_chunk(link, peer, record, lambda t: self._warn_once(
                peer, "bad chunk", "file %r from %s: a chunk failed its hash", t.name,
                self._display_name(peer)))

    def on_group_body(self, conv: bytes, env: Envelope, body: bytes) -> None:
        """A group message: when it offers a file, the offer (from a member who is not a
        contact, it always waits for accept)."""
        offer = decode_file_body(body)
        if offer is None or env.author == self._key or \
                (env.author, offer.id, False) in self._transfers:
            return
        self._new_offer(None, env.author, offer, conv)

    def _offer(self, link: Link, t: Transfer) -> None:
        """Offer `t` on `link`, or say on the transfer why its peer cannot take it."""
        if self._send(link, FileOffer(t.id, t.name, t.size, t.root)) or t.error:
            return
        t.error = (f"their p2pchat is too old for files (protocol revision "
                   f"{link.session.peer_revision}, files need {FILES_REVISION}): the offer waits"
                   " until they update")
        self._emit_state(t)

    def _send(self, link: Link, record: FileRecord) -> bool:
        """Send a file record; False (and nothing sent) to a peer whose protocol revision
        predates files, which would close the link on it (protocol.md 12)."""
        if link.session.peer_revision < FILES_REVISION:
            peer = link.remote_key or b""
            self._warn_once(peer, "revision", "no file records to %s: its protocol revision %d"
                            " predates files", self._display_name(peer),
                            link.session.peer_revision)
            return False
        with contextlib.suppress(Exception):
            link.send_record(encode_file_record(record))
        return True

    def _warn_once(self, peer: bytes, what: str, message: str, *args: Any) -> None:
        if (peer, what) not in self._warned and len(self._warned) < 4096:
            self._warned.add((peer, what))
            log.warning(message, *args)

    def _on_offer(self, link: Link, peer: bytes, offer: FileOffer) -> None:
        t = self._transfers.get((peer, offer.id, False))
        if t is None:
            self._new_offer(link, peer, offer, None)
        elif t.state in _STATE_ANSWER:
            self._send(link, FileAnswer(offer.id, _STATE_ANSWER[t.state]))
        elif t.state == "receiving":
            self.downloads.pump()

    def _new_offer(self, link: Link | None, peer: bytes, offer: FileOffer,
                   conv: bytes | None) -> None:
        who = self._display_name(peer)
        waiting = sum(1 for (p, _, out), x in self._transfers.items()
                      if p == peer and not out and x.state in OPEN_STATES)
        if waiting >= MAX_OPEN_OFFERS_PER_PEER or offer.size > self.max_file_size:
            # Not stored: endless refused offers must cost nothing.
            self._warn_once(peer, "offers", "declined file offers from %s: %d open already, or"
                            " over the size limit of %d bytes", who, waiting, self.max_file_size)
            if link is not None:
                self._send(link, FileAnswer(offer.id, ANSWER_DECLINED))
            return
        t = Transfer(offer.id, peer, False, safe_file_name(offer.name), offer.size, offer.root,
                     "offered", created_at=wall_ns() // 1_000_000, conv=conv)
        if offer.size <= self.auto_accept_size and self._is_contact(peer):
            problem = space_problem(self.folder, offer.size)
            if problem is None:
                t.state = "receiving"
            else:
                t.error = problem
        self._db.add(t)
        self._add(t)
        self._outbox.schedule_flush()
        self._emit_state(t)
        if t.state == "offered":
            self._events.emit({"type": "file_offer", **self.view(t)})
        self.downloads.pump()

    def _on_answer(self, peer: bytes, answer: FileAnswer) -> None:
        if answer.answer == ANSWER_NOT_HERE:
            g = self._group_files.get(answer.id)
            if g is not None and not g.outgoing:
                self.downloads.not_here(g, peer)
            return
        state = _ANSWER_STATE[answer.answer]
        t = self._transfers.get((peer, answer.id, True))
        if t is None or t.state not in OPEN_STATES or t.conv is not None:
            t = self._transfers.get((peer, answer.id, False))
            if t is None or t.state not in OPEN_STATES or state == "done" or t.conv is not None:
                return
        if t.outgoing and state == "done":
            t.received = t.size
        self._end(t, state, tell=False)

    # ------------------------------------------------------------ serving

    def _holding(self, requester: bytes, id_: bytes) -> Holding | None:
        t = self._transfers.get((requester, id_, True))
        if t is not None and t.conv is None:
            if t.state not in ("offered", "sending"):
                return None
            if t.state == "offered":
                self._set_state(t, "sending")
            return Holding(t, t.path, lambda i: True, partial(_piece, t.hashes))
        g = self._group_files.get(id_)
        if g is None or requester not in self._group_members(g.conv or b""):
            return None
        if g.outgoing or g.state == "done":  # its hash list is in the store, not held
            return Holding(g, g.path, lambda i: True, partial(self._db.hash_piece, g))
        dl = self.downloads.of(g)
        if g.state == "receiving" and dl is not None and g.part:
            return Holding(g, g.part, dl.has, partial(_piece, g.hashes))
        return Holding(g, "", lambda i: False, partial(_piece, None))

    def _served(self, t: Transfer, requester: bytes, end: int, length: int) -> None:
        if t.conv is not None:
            served = self._served_to.setdefault(t.id, {})
            served[requester] = served.get(requester, 0) + length
        if t.outgoing and end > t.received:
            t.received = end
            self._progress(t)

    def _read_failed(self, t: Transfer, error: str) -> None:
        if t.outgoing and t.conv is None:
            self._fail(t, error)
        else:
            log.warning("cannot serve %r: %s", t.name, error)

    # ------------------------------------------------------------ states and events

    def _set_state(self, t: Transfer, state: str) -> None:
        t.state = state
        self._db.save(t)
        if state not in OPEN_STATES:  # stored; a group's file is served from the store's
            t.hashes = None
        self._outbox.schedule_flush()
        self._emit_state(t)

    def _fail(self, t: Transfer, error: str) -> None:
        t.error = error
        log.warning("file %r %s %s failed: %s", t.name, "to" if t.outgoing else "from",
                    self._display_name(t.peer), error)
        self._end(t, "failed", tell=True)

    def _end(self, t: Transfer, state: str, *, tell: bool) -> None:
        """The transfer is over: close its file, drop a partial one, tell the peer (between
        contacts; a group's file ends for this node alone)."""
        if not t.outgoing:
            self.downloads.ended(t)
        else:
            self.server.close_file(t.path)
        self._set_state(t, state)
        link = self._live_link(t.peer) if tell and t.conv is None else None
        if link is not None:
            self._send(link, FileAnswer(t.id, _STATE_ANSWER[state]))
        if not t.outgoing:
            self.downloads.pump()

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


def transfer_view(t: Transfer, display_name: Callable[[bytes], str],
                  served: dict[bytes, int] | None = None) -> dict[str, Any]:
    """How a transfer looks from outside (docs/api.md, transfer), from the node or, with none
    running, from the store (p2pchat/offline.py). `served`: for a group's file, the bytes this
    node sent each member that fetched from it (since the node started)."""
    view = {"id": t.id.hex(), "name": t.name, "size": t.size, "state": t.state,
            "direction": "out" if t.outgoing else "in", "path": t.path,
            "received": t.received, "resumed_from": t.resumed_from,
            "fingerprint": fingerprint(t.peer), "peer": display_name(t.peer),
            "error": t.error}
    if t.conv is not None:
        view["group"] = t.conv.hex()
        view["members"] = [{"fingerprint": fingerprint(key), "peer": display_name(key),
                            "sent": sent} for key, sent in sorted((served or {}).items())]
    return view


def _piece(hashes: bytes | None, first: int, count: int) -> bytes | None:
    """`count` hashes from chunk `first` on of a hash list held in memory (None: none held)."""
    return None if hashes is None else hashes[first * HASH_LEN:(first + count) * HASH_LEN]
