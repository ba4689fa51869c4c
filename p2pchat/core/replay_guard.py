"""The replay guard of IK first messages, shared by all sessions of one node."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

_EMPTY_GUARD: Mapping[bytes, int] = MappingProxyType({})


class ReplayGuard:
    """The newest IK timestamp accepted from each peer, shared by all sessions of one node.

    An IK first message is a complete, authenticated message that anyone who recorded it can
    send again; the timestamp inside it must be strictly greater than the last one accepted
    from that peer (as WireGuard does). The node persists the timestamps of its contacts so a
    restart keeps refusing their replays.

    Contacts are `pinned`: never forgotten, however many other keys come by. Any other key is
    remembered in a bounded table, the least recently seen forgotten first, so throwaway keys
    can neither grow memory nor push a contact out. A forgotten key's old first message passes
    this check, but the replayer holds no keys: the responder waits for a transport message
    before the link counts as established (key confirmation), and none comes.
    """

    def __init__(self, initial: Mapping[bytes, int] = _EMPTY_GUARD, *,
                 pinned: Iterable[bytes] = (), max_peers: int = 4096):
        if max_peers < 1:
            raise ValueError("max_peers must be >= 1")
        self._max_peers = max_peers
        self._pinned = {bytes(key) for key in pinned}
        self.latest: dict[bytes, int] = {}  # least recently seen first
        for key, ts in initial.items():
            self.latest[bytes(key)] = int(ts)
        self._trim()

    def pin(self, key: bytes) -> None:
        """Never forget `key` (a contact)."""
        self._pinned.add(bytes(key))

    def unpin(self, key: bytes) -> None:
        self._pinned.discard(bytes(key))
        self._trim()

    def pinned_latest(self) -> dict[bytes, int]:
        """The timestamps of pinned keys: what the node keeps across restarts."""
        return {key: ts for key, ts in self.latest.items() if key in self._pinned}

    def check_and_update(self, peer_ed25519_key: bytes, ts: int) -> bool:
        """True (and remember `ts`) if `ts` is newer than anything seen from this peer."""
        last = self.latest.pop(peer_ed25519_key, None)
        if last is not None and ts <= last:
            self.latest[peer_ed25519_key] = last
            return False
        # Re-inserting moves the peer to the end: dict order is least recently seen first, so
        # a peer under a replay flood is the last to be forgotten.
        self.latest[peer_ed25519_key] = ts
        self._trim()
        return True

    def _trim(self) -> None:
        unpinned = len(self.latest) - len(self._pinned.intersection(self.latest))
        if unpinned <= self._max_peers:
            return
        for key in list(self.latest):
            if key not in self._pinned:
                del self.latest[key]
                unpinned -= 1
                if unpinned <= self._max_peers:
                    return
