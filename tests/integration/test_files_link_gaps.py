"""A link that goes mid-download: what was asked on it is forgotten, and the next link asks at
once (docs/protocol.md 13.3), never waiting out the request timeout.

The race it pins down (seen as a resumed download stalling ~15 s after the sender's restart):
a chunk that arrived on a link is still being hashed and written when the link goes; its
completion used to ask for the next chunks on the dead link, mark them as asked, and send
nothing, so the next link waited REQUEST_TIMEOUT before asking for them again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import p2pchat.core.files as core_files
import p2pchat.node.file_downloads as file_downloads
from p2pchat.core.file_records import ANSWER_DONE, CHUNK_SIZE, FileAnswer, FileChunk, FileGet
from p2pchat.node import Node
from tests.aio import until
from tests.hostile_peer import HostilePeer, hostile_contact
from tests.integration.test_files_hostile import (
    Offer,
    recv_file,
    send,
    serve_hashes,
    transfer_of,
)
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


def _linked(node: Node, key: bytes) -> bool:
    link = node.links.by_peer.get(key)
    return link is not None and not link.closed


async def test_a_chunk_written_after_its_link_went_leaves_nothing_outstanding(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stall would last an hour: only an immediate ask on the next link passes.
    monkeypatch.setattr(core_files, "REQUEST_TIMEOUT", 3600.0)
    gate = threading.Event()
    real_write = file_downloads.verify_and_write

    def held_write(*args: object) -> bool:
        assert gate.wait(30), "the test never let the write go"
        return real_write(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(file_downloads, "verify_and_write", held_write)
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(os.urandom(CHUNK_SIZE * 12))
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as first:
        await send(first, offer.record)
        await serve_hashes(first, offer)
        asked = [await recv_file(first) for _ in range(core_files.WINDOW)]
        assert asked == [FileGet(offer.id, i) for i in range(core_files.WINDOW)]
        # Chunk 0 arrives; its write is held (the writer thread is behind), and the node asks
        # for the next chunk at once, as it should.
        await send(first, FileChunk(offer.id, 0, offer.chunks[0]))
        assert await recv_file(first) == FileGet(offer.id, core_files.WINDOW)
    # The link goes while chunk 0 is still being written.
    await until(lambda: not _linked(node, mallory.public_key), 10, "the link to go")
    gate.set()  # the write completes after its link went
    await until(lambda: (transfer_of(node, offer) or {}).get("received") == CHUNK_SIZE, 10,
                "chunk 0 to be written")
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as second:
        # The next link: everything still lacking (1..4 were outstanding on the old link) is
        # asked for at once, before mallory sends anything on it.
        again = [await recv_file(second) for _ in range(core_files.WINDOW)]
        assert again == [FileGet(offer.id, i) for i in range(1, 1 + core_files.WINDOW)]
        for _ in range(4 * len(offer.chunks)):  # bounded: serve what is asked until done
            for get in again:
                assert isinstance(get, FileGet)
                await send(second, FileChunk(offer.id, get.index, offer.chunks[get.index]))
            got = await recv_file(second)
            if got == FileAnswer(offer.id, ANSWER_DONE):
                break
            again = [got]
        await until(lambda: (transfer_of(node, offer) or {}).get("state") == "done", 10,
                    "the download to complete")
    t = transfer_of(node, offer)
    assert t is not None and Path(str(t["path"])).read_bytes() == offer.data
