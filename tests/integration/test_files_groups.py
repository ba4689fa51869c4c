"""A group's files between in-process nodes: a member fetches from whoever holds the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2pchat.core.file_records import CHUNK_SIZE
from p2pchat.core.identity import fingerprint
from tests.aio import until
from tests.groups_net import Net
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(120)


def state_of(node: object, name: str) -> str | None:
    found = [t for t in node.files.listing() if t["name"] == name]  # type: ignore[attr-defined]
    return found[0]["state"] if found else None


async def test_a_member_fetches_from_a_member_when_the_author_is_out_of_reach(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    # 0 - 1 - 2: node 2 never links to node 0, the author
    net = await Net(make_local_node, 3, {(0, 1), (1, 2)}).build()
    author, middle, far = net.nodes
    src = tmp_path / "talk.mp4"
    data = os.urandom(CHUNK_SIZE * 3 + 99)
    src.write_bytes(data)
    [sent] = await author.file_send(net.group, [str(src)])
    assert sent["group"] == net.group
    # node 1 fetches from the author; node 2 never links to the author: the offer reaches it
    # as a group message forwarded by node 1, and it fetches from node 1 (node 2 too had the
    # author as a contact while it was invited, so it saves the file without asking)
    await until(lambda: state_of(middle, "talk.mp4") == "done", 30, "node 1's copy")
    await until(lambda: state_of(far, "talk.mp4") == "done", 30, "node 2's copy, via node 1")
    got = far.files.listing()[0]
    assert Path(got["path"]).read_bytes() == data
    assert not author.links.is_linked(far.key)


async def test_members_that_do_not_hold_the_file_say_so_and_it_travels_along_the_chain(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    # 0 - 1 - 2 - 3, every offer waits for accept. Node 3 accepts first: its only linked
    # member, node 2, holds nothing and says "not here", so it waits. Then 1 accepts (from
    # the author), 2 (from 1), and 3 gets it from 2.
    net = await Net(make_local_node, 4, {(0, 1), (1, 2), (2, 3)},
                    auto_accept_size=0).build()
    author, first, second, last = net.nodes
    src = tmp_path / "slides.pdf"
    src.write_bytes(os.urandom(CHUNK_SIZE + 1))
    await author.file_send(net.group, [str(src)])
    for node in (first, second, last):
        await until(lambda n=node: state_of(n, "slides.pdf") == "offered", 30, "the offers")
    await last.file_accept(last.files.listing()[0]["id"])
    await until(lambda: last.files.downloads._tried, 10, "node 2 to say it holds nothing")
    assert state_of(last, "slides.pdf") == "receiving"
    for node in (first, second):
        await node.file_accept(node.files.listing()[0]["id"])
    for node in (first, second, last):
        await until(lambda n=node: state_of(n, "slides.pdf") == "done", 30, "every copy")
        assert Path(node.files.listing()[0]["path"]).read_bytes() == src.read_bytes()


async def test_finished_group_files_hold_no_hash_list_and_are_served_from_the_store(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    # 0 - 1 - 2, offers wait for accept: node 1 fetches from the author and finishes; only
    # then node 2 accepts and asks node 1 (its only linked member) for the hash list, which
    # node 1 no longer holds in memory (32 bytes a chunk, for as long as the group lasts) but
    # reads from its store.
    net = await Net(make_local_node, 3, {(0, 1), (1, 2)}, auto_accept_size=0).build()
    author, middle, far = net.nodes
    src = tmp_path / "talk.mp4"
    data = os.urandom(CHUNK_SIZE * 3 + 99)
    src.write_bytes(data)
    [sent] = await author.file_send(net.group, [str(src)])
    assert [t.hashes for t in author.files._transfers.values()] == [None]
    for node in (middle, far):
        await until(lambda n=node: state_of(n, "talk.mp4") == "offered", 30, "the offers")
    await middle.file_accept(sent["id"])
    await until(lambda: state_of(middle, "talk.mp4") == "done", 30, "node 1's copy")
    assert [t.hashes for t in middle.files._transfers.values()] == [None]
    await far.file_accept(sent["id"])
    await until(lambda: state_of(far, "talk.mp4") == "done", 30, "node 2's copy, via node 1")
    assert Path(far.files.listing()[0]["path"]).read_bytes() == data
    # Per-member progress of a group's file: what this node sent each member.
    [out] = author.files.listing()
    assert [(m["fingerprint"], m["sent"]) for m in out["members"]] == \
        [(fingerprint(middle.key), len(data))]
    [relayed] = middle.files.listing()
    assert [(m["fingerprint"], m["sent"]) for m in relayed["members"]] == \
        [(fingerprint(far.key), len(data))]
