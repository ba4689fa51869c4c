"""A hostile group member for tests: a real node joins a real group, then its identity is driven
by hand (tests.hostile_peer.HostilePeer) to send whatever envelopes the test builds.

    member = await HostileMember.join(make_local_node, owner)
    envs = member.envelopes(5, size=1000)          # seq 1..5, validly signed and sealed
    async with member.connect(owner) as peer:
        await peer.send_many(envs[1:])             # a gap at seq 1
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from p2pchat.core import groups as core
from p2pchat.core.groups import GroupState
from p2pchat.core.identity import Identity
from p2pchat.core.messages import Envelope, encode_text
from p2pchat.core.sync import ConversationLog
from p2pchat.node import Node
from tests.aio import until
from tests.groups_net import accept_invitation, befriend, linked
from tests.hostile_peer import HostilePeer
from tests.local_nodes import MakeLocalNode


def join_group(node: Node, group: str) -> bool:
    """`node` holds the group and its current key."""
    return any(g["group"] == group and g["has_key"] for g in node.list_groups())


async def accept_if_pending(node: Node, group: str) -> None:
    await accept_invitation(node, group)


async def honest_member(make: MakeLocalNode, owner: Node, group: str, name: str,
                        **config: object) -> Node:
    """A real node, `owner`'s contact, invited to `group` and in it."""
    node = await make(name, **config)
    await befriend(owner, node)
    await until(lambda: linked(owner, node), 20, "the link")
    await owner.invite_to_group(group, name)
    await accept_if_pending(node, group)
    await until(lambda: join_group(node, group), 20, f"{name} joins")
    return node


@dataclass
class HostileMember:
    identity: Identity
    group: str
    state: GroupState
    keys: dict[int, bytes]
    log: ConversationLog

    @classmethod
    async def join(cls, make: MakeLocalNode, owner: Node, group: str | None = None,
                   name: str = "mallory", **config: object) -> HostileMember:
        """A member of `group` (a new group of `owner` if None), its node then stopped."""
        node = await make(name, **config)
        await befriend(owner, node)
        await until(lambda: linked(owner, node), 20, "the link")
        if group is None:
            group = (await owner.create_group("club"))["group"]
        await owner.invite_to_group(group, name)
        await accept_if_pending(node, group)
        await until(lambda: join_group(node, group), 20, "the hostile member joins")
        g = node.groups.find(group)
        conv_log = node.conversations.log_of(g.conv)
        heads = {author: conv_log.head(author) for author in conv_log.vector()}
        state, keys = g.state, dict(g.keys)
        await node.stop()
        return cls(node.identity, group, state, keys,
                   ConversationLog(g.conv, heads, conv_log.lamport))

    def catch_up(self, owner: Node) -> None:
        """The group's ops and keys as the owner holds them now (as a member would get them:
        the owner sends members every new op and key)."""
        g = owner.groups.find(self.group)
        self.state, self.keys = g.state, dict(g.keys)

    @property
    def key(self) -> bytes:
        return self.identity.public_key

    def envelopes(self, count: int, size: int = 100, sent_at: int = 1_700_000_000_000
                  ) -> list[Envelope]:
        """The member's next `count` envelopes, each with a `size`-byte plaintext."""
        return [core.seal_group_envelope(self.state, self.keys, self.identity, self.log,
                                         os.urandom(size), sent_at, os.urandom)
                for _ in range(count)]

    def text(self, text: str, sent_at: int = 1_700_000_000_000) -> Envelope:
        """The member's next envelope, a readable text (lamport: its log's clock + 1)."""
        return core.seal_group_envelope(self.state, self.keys, self.identity, self.log,
                                        encode_text(text), sent_at, os.urandom)

    @contextlib.asynccontextmanager
    async def connect(self, node: Node, timeout: float = 30) -> AsyncIterator[HostilePeer]:
        host, port = node.listen_addresses[0]
        async with HostilePeer.connect(self.identity, (host, port), remote_key=node.key,
                                       timeout=timeout) as peer:
            yield peer
