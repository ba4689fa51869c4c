"""What the node keeps about the peer on one link: its own state, carried by the link (`peer`)
but never looked into by the network layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from p2pchat.core.sync import AckWait
from p2pchat.net.link import LinkOf


@dataclass
class PeerState:
    """What the node has decided and learned about the peer on one link."""

    up: bool = False  # the node accepted this link as the peer's one link
    stranger_until: float | None = None  # set while the peer is not a contact: when to cut it
    since_ms: int = 0
    their_name: str | None = None  # as their Hello gave it: theirs to choose, never trusted
    ack_pending: dict[bytes, AckWait] = field(default_factory=dict)  # vectors held back
    group_only: bool = False  # not a contact: a fellow group member, for group records only

    @property
    def stranger(self) -> bool:
        """Whether the peer is on a stranger's time limit."""
        return self.stranger_until is not None


PeerLink = LinkOf[PeerState]  # a link as the node sees it
