"""What a hostile contact can do with files, played by hand against a real node (issue 27).

Mallory is a contact who turns hostile: a real Session over a real socket (tests/hostile_peer.py)
that sends file records of its own making. Each test shows the rule that holds: refused or
bounded with one clear warning, nothing written outside the downloads folder, memory bounded.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import p2pchat.core.files as core_files
from p2pchat.core.file_records import (
    ANSWER_DECLINED,
    ANSWER_DONE,
    ANSWER_FAILED,
    CHUNK_SIZE,
    FileAnswer,
    FileChunk,
    FileGet,
    FileHashes,
    FileHashGet,
    FileOffer,
    FileRecord,
    decode_file_record,
    encode_file_record,
    file_record_code,
)
from p2pchat.core.files import chunk_hash, root_hash
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import ContactRequest
from p2pchat.core.session import SessionConfig
from p2pchat.node import Node
from tests.aio import until
from tests.hostile_peer import HostilePeer, hostile_contact
from tests.integration.test_node_hardening import _vm_hwm_kib
from tests.local_nodes import MakeLocalNode
from tests.nodes import NodeProcess

pytestmark = pytest.mark.timeout(60)


class Offer:
    """A file mallory offers, with the hashes and chunks an honest sender would send."""

    def __init__(self, data: bytes, name: str = "f.bin") -> None:
        self.data = data
        self.chunks = [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)] or [b""]
        self.hashes = b"".join(chunk_hash(c) for c in self.chunks)
        self.id = os.urandom(16)
        self.record = FileOffer(self.id, name, len(data), root_hash(len(data), self.hashes))


async def send(peer: HostilePeer, *records: FileRecord) -> None:
    await peer.send_many([encode_file_record(r) for r in records])


async def recv_file(peer: HostilePeer, timeout: float = 10) -> FileRecord:
    """The next file record from the node (other records skipped)."""
    for _ in range(100):  # bounded
        data = await peer.recv_bytes(timeout)
        if file_record_code(data) is not None:
            return decode_file_record(data)
    raise AssertionError("no file record")


async def serve_hashes(peer: HostilePeer, offer: Offer, hashes: bytes | None = None) -> None:
    got = await recv_file(peer)
    assert isinstance(got, FileHashGet) and got.id == offer.id
    await send(peer, FileHashes(offer.id, 0, offer.hashes if hashes is None else hashes))


def downloads(node: Node) -> list[str]:
    folder = node.files.folder
    return sorted(os.listdir(folder)) if folder.exists() else []


def outside(node: Node, tmp_path: Path) -> set[str]:
    """Every file under the test's folder that is not in a home's downloads or its store."""
    found = set()
    for root, _, files in os.walk(tmp_path):
        for name in files:
            found.add(os.path.relpath(os.path.join(root, name), tmp_path))
    return {f for f in found if "/downloads/" not in f and not f.endswith((
        "p2pchat.db", "p2pchat.db-wal", "p2pchat.db-shm", "node.lock", "identity.json",
        "control.sock", "reading.json", "/port"))}  # port: kept for the next start


def transfer_of(node: Node, offer: Offer) -> dict[str, object] | None:
    return next((t for t in node.files.listing() if t["id"] == offer.id.hex()), None)


async def test_an_honest_exchange_by_hand_completes(make_local_node: MakeLocalNode) -> None:
    """The baseline the attacks below depart from: the protocol as written works."""
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(os.urandom(CHUNK_SIZE * 2 + 5))
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, offer.record)
        await serve_hashes(peer, offer)
        for _ in range(3):
            get = await recv_file(peer)
            assert isinstance(get, FileGet)
            await send(peer, FileChunk(offer.id, get.index, offer.chunks[get.index]))
        assert await recv_file(peer) == FileAnswer(offer.id, ANSWER_DONE)
    t = transfer_of(node, offer)
    assert t is not None and t["state"] == "done"
    assert Path(str(t["path"])).read_bytes() == offer.data


async def test_no_file_record_goes_to_a_peer_of_an_earlier_revision(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    """protocol.md 12 and 13.5: a revision-2 peer would close the link on a file record, so
    the offer waits and the transfer says why; the link stays up and chat still flows."""
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    path = tmp_path / "notes.txt"
    path.write_bytes(b"x" * 1000)
    async with HostilePeer.connect(mallory, node.listen_addresses[0], remote_key=node.key,
                                   config=SessionConfig(revision=2)) as peer:
        await until(lambda: node.peers()["links"], 10, "the link")
        [sent] = await node.files.send("mallory", [str(path)])
        assert "too old for files" in node.files.listing()[0]["error"], sent
        await node.send("mallory", "still here?")
        seen = []
        for _ in range(50):  # bounded: up to the chat message
            data = await peer.recv_bytes(10)
            assert file_record_code(data) is None, "a file record reached a revision-2 peer"
            seen.append(data)
            if b"still here?" in data or len(seen) > 40:
                break
    assert node.files.listing()[0]["state"] == "offered"


async def test_bad_chunks_fail_the_transfer_with_one_warning_and_leave_nothing(
        make_local_node: MakeLocalNode, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(os.urandom(CHUNK_SIZE * 3))
    caplog.set_level(logging.WARNING)
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, offer.record)
        await serve_hashes(peer, offer)
        answer = None
        for _ in range(20):  # bounded: the node gives up after a few bad chunks
            got = await recv_file(peer)
            if isinstance(got, FileAnswer):
                answer = got
                break
            assert isinstance(got, FileGet)
            await send(peer, FileChunk(offer.id, got.index, os.urandom(CHUNK_SIZE)))
        assert answer == FileAnswer(offer.id, ANSWER_FAILED)
    t = transfer_of(node, offer)
    assert t is not None and t["state"] == "failed" and "fail their hash" in str(t["error"])
    assert downloads(node) == []  # the partial file is gone too
    assert len([r for r in caplog.records if "failed its hash" in r.getMessage()]) == 1
    assert outside(node, tmp_path) == set()


async def test_a_hash_list_that_does_not_match_the_offer_fails_it(
        make_local_node: MakeLocalNode) -> None:
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(os.urandom(CHUNK_SIZE + 1))
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, offer.record)
        await serve_hashes(peer, offer, hashes=os.urandom(64))
        assert await recv_file(peer) == FileAnswer(offer.id, ANSWER_FAILED)
    t = transfer_of(node, offer)
    assert t is not None and t["state"] == "failed" and downloads(node) == []


async def test_a_size_that_never_arrives_fails_after_the_retries(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core_files, "REQUEST_TIMEOUT", 0.05)
    monkeypatch.setattr(core_files, "MAX_TIMEOUTS", 2)
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(os.urandom(CHUNK_SIZE * 2))
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, offer.record)
        await serve_hashes(peer, offer)
        answer = None
        for _ in range(50):  # bounded: asks again a few times, then gives up
            got = await recv_file(peer)
            if isinstance(got, FileAnswer):
                answer = got
                break
            assert isinstance(got, FileGet)  # and mallory sends nothing
        assert answer == FileAnswer(offer.id, ANSWER_FAILED)
    t = transfer_of(node, offer)
    assert t is not None and t["state"] == "failed" and "stopped sending" in str(t["error"])
    assert downloads(node) == []


async def test_endless_offers_are_bounded_and_warned_of_once(
        make_local_node: MakeLocalNode, caplog: pytest.LogCaptureFixture) -> None:
    node = await make_local_node("alice", auto_accept_size=0)  # every offer waits
    mallory = await hostile_contact(node)
    caplog.set_level(logging.WARNING)
    offers = [Offer(b"x" * 10, name=f"spam {i}") for i in range(200)]
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, *(o.record for o in offers))
        declined = 0
        for _ in range(200 - 16):  # bounded: one answer per refused offer
            got = await recv_file(peer)
            assert got == FileAnswer(got.id, ANSWER_DECLINED)
            declined += 1
    assert declined == 200 - 16
    listed = node.files.listing()
    assert len(listed) == 16 and {t["state"] for t in listed} == {"offered"}
    assert len([r for r in caplog.records if "declined file offers" in r.getMessage()]) == 1


@pytest.mark.parametrize("name, saved", [
    ("../../../etc/passwd", "_.._.._etc_passwd"),
    ("..", "file"),
    (".bashrc", "bashrc"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("a\x1b[31mred\x07.txt", "a[31mred.txt"),
    ("zero\u200bwidth\u2066.txt", "zerowidth.txt"),
    ("C:\\Windows\\x.dll", "C__Windows_x.dll"),
])
async def test_hostile_names_are_saved_safely_inside_the_downloads_folder(
        make_local_node: MakeLocalNode, tmp_path: Path, name: str, saved: str) -> None:
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(b"payload", name=name)
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, offer.record)
        await serve_hashes(peer, offer)
        get = await recv_file(peer)
        assert isinstance(get, FileGet)
        await send(peer, FileChunk(offer.id, 0, offer.data))
        assert await recv_file(peer) == FileAnswer(offer.id, ANSWER_DONE)
    t = transfer_of(node, offer)
    assert t is not None and t["name"] == saved
    assert Path(str(t["path"])) == node.files.folder / saved
    assert outside(node, tmp_path) == set()


async def test_requests_for_files_never_offered_get_nothing(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for mallory")
    await node.file_send("mallory", [str(secret)])  # mallory is offline: stored, not sent
    sent = node.files.listing()[0]
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        offer = await recv_file(peer)  # the offer goes out on the link
        assert isinstance(offer, FileOffer) and offer.id.hex() == sent["id"]
        await send(peer, FileGet(os.urandom(16), 0), FileHashGet(os.urandom(16), 0, 1))
        # only the real id is served
        await send(peer, FileGet(offer.id, 0))
        got = await recv_file(peer)
        assert got == FileChunk(offer.id, 0, b"not for mallory")


async def test_a_flood_of_chunk_requests_costs_the_peer_its_link(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(CHUNK_SIZE * 4))
    await node.file_send("mallory", [str(big)])
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        offer = await recv_file(peer)
        assert isinstance(offer, FileOffer)
        await send(peer, *(FileGet(offer.id, i % 4) for i in range(5000)))
        assert "too many file requests" in await peer.wait_closed()


async def test_a_stranger_cannot_offer_files(make_local_node: MakeLocalNode) -> None:
    node = await make_local_node("alice")
    stranger = Identity.generate()
    offer = Offer(b"hello")
    async with HostilePeer.connect(stranger, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await peer.handshake()
        await send(peer, offer.record)
        # records are handled in order: once the request shows, the offer was seen before it
        await peer.send(ContactRequest(name="stranger", note="hi"))
        await until(lambda: any(c["state"] == "request" for c in node.list_contacts()),
                    what="the contact request")
    assert node.files.listing() == []


async def test_memory_stays_flat_under_chunks_and_offers_nobody_asked_for(
        make_node: Callable[[str], NodeProcess], tmp_path: Path) -> None:
    """A node process: 200 chunks of 256 KiB nobody asked for (50 MiB), and a chunk for each
    of 16 offers that were never accepted: its peak memory barely moves, nothing is written."""
    alice = make_node("alice").start("--auto-accept-size", "0")
    mallory = Identity.generate()
    alice.cli("contacts", "add", fingerprint(mallory.public_key), "--name", "mallory",
              check=True)
    alice_key = bytes.fromhex(alice.json("status")["public_key"])
    assert alice.proc is not None
    before = _vm_hwm_kib(alice)
    offers = [Offer(os.urandom(CHUNK_SIZE)) for _ in range(16)]
    async with HostilePeer.connect(mallory, ("127.0.0.1", alice.port),
                                   remote_key=alice_key) as peer:
        await send(peer, *(o.record for o in offers))
        for batch in range(20):  # bounded: 200 chunks in all
            await send(peer, *(FileChunk(offers[i % 16].id, 0, offers[i % 16].data)
                               for i in range(batch * 10, batch * 10 + 10)))
        # still served: a status call answers, and the offers wait for accept
        listed = await asyncio.to_thread(alice.json, "file", "list")
        assert {t["state"] for t in listed} == {"offered"} and len(listed) == 16
        peak = _vm_hwm_kib(alice)
    assert peak - before < 24 * 1024, (before, peak)  # KiB: a few records, never the 50 MiB
    assert not (alice.home / "downloads").exists() or \
        not any((alice.home / "downloads").iterdir())


async def test_a_file_too_big_for_the_disk_waits_and_accept_refuses_clearly(
        make_local_node: MakeLocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    import p2pchat.node.file_disk as file_disk
    from p2pchat.node import CommandError

    monkeypatch.setattr(file_disk, "FREE_SPACE_MARGIN", 2**62)  # no disk has that free
    node = await make_local_node("alice")
    mallory = await hostile_contact(node)
    offer = Offer(b"small")
    async with HostilePeer.connect(mallory, node.listen_addresses[0],
                                   remote_key=node.key) as peer:
        await send(peer, offer.record)
        await until(lambda: transfer_of(node, offer), what="the offer")
    t = transfer_of(node, offer)
    assert t is not None and t["state"] == "offered"  # not auto-accepted
    assert "not enough free space" in str(t["error"])
    with pytest.raises(CommandError) as refused:
        await node.file_accept(offer.id.hex())
    assert refused.value.code == "no_space" and "are free" in str(refused.value)
    assert downloads(node) == []


async def test_a_group_file_is_served_to_members_only(make_local_node: MakeLocalNode,
                                                      tmp_path: Path) -> None:
    from tests.groups_net import befriend, wait_linked

    alice = await make_local_node("alice")
    mallory = await hostile_contact(alice)  # a contact, but not in the group
    bob = await make_local_node("bob")
    await befriend(alice, bob)
    await wait_linked([(alice, bob)])
    group = (await alice.create_group("club"))["group"]
    await alice.invite_to_group(group, "bob")
    src = tmp_path / "members.txt"
    src.write_bytes(b"for the club only")
    [sent] = await alice.file_send(group, [str(src)])
    id_ = bytes.fromhex(sent["id"])
    async with HostilePeer.connect(mallory, alice.listen_addresses[0],
                                   remote_key=alice.key) as peer:
        await send(peer, FileHashGet(id_, 0, 1), FileGet(id_, 0))
        with pytest.raises(AssertionError, match="timed out"):  # not even "not here"
            await recv_file(peer, timeout=1.0)
