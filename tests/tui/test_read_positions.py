"""Unread counts kept by the node across restarts (read positions), with real nodes."""

from __future__ import annotations

import pytest

from p2pchat.net.addresses import format_addr
from p2pchat.node.reading import FILE_NAME
from tests.aio import until
from tests.groups_net import befriend, caught_up, invite_and_accept, wait_linked
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


async def test_unread_survives_a_restart_and_follows_the_read_position(
    make_local_node: MakeLocalNode,
) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await bob.add_contact(alice.identity.fingerprint, "alice", [])
    await alice.add_contact(bob.identity.fingerprint, "bob",
                            [format_addr(bob.listen_addresses[0])])
    bob_fp = bob.identity.fingerprint
    await alice.send("bob", "I read what I answer")
    # bob's replies come after it in the display order once he has it.
    await until(lambda: len(bob.history("alice")) == 1, 10, "alice's message at bob")
    for text in ("one", "two", "three"):
        await bob.send("alice", text)
    await until(lambda: len(alice.history("bob")) == 4, 10, "bob's messages at alice")
    assert alice.unread() == {bob_fp: 3}  # no position yet: what came after my own message

    first = alice.history("bob")[1]["id"]
    alice.mark_read("bob", first)
    assert alice.unread() == {bob_fp: 2}

    # A new node on the same home (a restart) still knows.
    home, identity = alice.home, alice.identity
    await alice.stop()
    again = await make_local_node("alice", identity=identity)
    assert again.home == home
    assert again.unread() == {bob_fp: 2}
    again.mark_read("bob", again.history("bob")[-1]["id"])
    assert again.unread() == {}


async def test_a_damaged_positions_file_only_resets_the_counts(
    make_local_node: MakeLocalNode,
) -> None:
    alice = await make_local_node("alice")
    (alice.home / FILE_NAME).write_bytes(b"[[[[" * 1000)
    assert alice.unread() == {}
    with pytest.raises(Exception, match="no contact named"):
        alice.mark_read("nobody", "0" * 32)


async def test_a_groups_unread_count_survives_a_restart_too(
    make_local_node: MakeLocalNode,
) -> None:
    alice, bob = await make_local_node("alice"), await make_local_node("bob")
    await befriend(alice, bob)
    await wait_linked([(alice, bob)])
    group = (await alice.create_group("fika"))["group"]
    await invite_and_accept(alice, group, bob)
    await until(lambda: caught_up(bob, group, alice), 20, "bob in the group")
    await alice.send("fika", "coffee at three?")
    await until(lambda: len(bob.history(group)) == 1, 10, "alice's message at bob")
    for text in ("yes", "make it four", "bringing buns"):
        await bob.send(group, text)
    await until(lambda: len(alice.history("fika")) == 4, 10, "bob's messages at alice")
    assert alice.unread() == {group: 3}  # after her own last message, as for a contact

    alice.mark_read("fika", alice.history("fika")[1]["id"])  # by title, or by id below
    assert alice.unread() == {group: 2}

    identity = alice.identity
    await alice.stop()
    again = await make_local_node("alice", identity=identity)
    assert again.unread() == {group: 2}
    again.mark_read(group, again.history(group)[-1]["id"])
    assert again.unread() == {}
