"""The relay's routing state, sans-IO: who is attached, where a frame goes, what each may use.

The asyncio server in `p2pchat.relay` owns the sockets and one Noise `Session` per connection;
it asks this object every question that has a rule behind it and does what the answer says.
Time comes in as `now` (seconds on the caller's monotonic clock); nothing here reads a clock.

Connections go through two budgets, so strangers cannot take the places of clients:

* *pending*: from the TCP accept until the client's `Attach` record, i.e. while the handshake
  runs and its key is not yet proven. At most `max_pending` in all and `max_pending_per_host`
  from one address; each must attach within `attach_timeout`. A full budget never refuses a
  newcomer: it evicts (below), so connections that stall cannot lock clients out, however many
  a stranger opens and from however many addresses; an honest handshake takes milliseconds.
* *attached*: clients whose key the handshake proved (and, on a private relay, is on the
  allow-list). At most `max_clients`, and `max_clients_per_host` from one address. A key
  attaching again replaces its older connection (a laptop that lost the Wi-Fi comes back
  before the old TCP connection times out).

Eviction: a newcomer from an address at `max_pending_per_host` takes the place of that
address's oldest pending connection; otherwise, with `max_pending` reached, of the oldest
pending connection of the address holding the most. Within an address, connections whose
handshake has not completed go first (nobody proved anything on them), oldest first.
Frames: a frame to a key that is not attached is answered "not here". A frame to a receiver
whose queue (bytes handed to its socket and not yet sent) would pass `max_queue` is dropped and
the sender told "refused: queue full"; below that, the server pauses reading from a sender while
the receiver is above `high_water` (backpressure), so an honest bulk transfer slows down instead
of losing frames. Rates: each client has a token bucket for bytes and one for frames; a client
over its rate is not cut, the server stops reading from it for the time `charge` returns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from p2pchat.core.errors import ProtocolError
from p2pchat.core.relay_limits import KEY_LEN, RelayLimits
from p2pchat.core.relay_messages import wire_cost

__all__ = [
    "REFUSALS",
    "Accepted",
    "ConnId",
    "Forward",
    "NotAttached",
    "QueueFull",
    "RelayLimits",
    "RelayState",
    "Replaced",
    "Route",
    "TokenBucket",
]

ConnId: TypeAlias = int

# Reasons a connection is refused or closed by the relay, as counted in the status.
REFUSALS: Final = (
    "pending_full",  # evicted: too many handshakes under way
    "pending_per_host",  # evicted: too many handshakes under way from one address
    "relay_full",  # max_clients attached
    "host_full",  # max_clients_per_host attached from that address
    "not_allowed",  # key not on the allow-list of a private relay
    "attach_timeout",  # no Attach within attach_timeout of the accept
    "protocol_error",  # bad handshake, bad record, anything the client got wrong
    "idle_timeout",  # the session heard nothing for its idle timeout
    "slow_receiver",  # a client's own queue overflowed with answers it does not read
)


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up; a debit may overdraw by one frame."""

    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._stamp = now

    def debit(self, amount: float, now: float) -> float:
        """Take `amount`; the seconds to wait before taking more (0 when still in credit)."""
        if now > self._stamp:  # a clock that does not move (or steps back) refills nothing
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


@dataclass(frozen=True)
class Accepted:
    """Attach succeeded."""


@dataclass(frozen=True)
class Replaced:
    """Attach succeeded and took over the slot of `old`, the same key's older connection."""

    old: ConnId


@dataclass(frozen=True)
class Forward:
    """Deliver the frame to connection `dest` (attached with key `to`)."""

    dest: ConnId


@dataclass(frozen=True)
class NotAttached:
    """Nobody is attached with that key: answer NotHere."""


@dataclass(frozen=True)
class QueueFull:
    """The receiver's queue is full: drop the frame, answer Refused(queue full)."""


Route: TypeAlias = Forward | NotAttached | QueueFull


@dataclass
class _Client:
    key: bytes
    host: str
    bytes_bucket: TokenBucket
    frames_bucket: TokenBucket
    backlog: int = 0


@dataclass
class _Pending:
    host: str
    opened: float
    handshaken: bool = False  # its Noise handshake completed (a key was proven)


@dataclass
class RelayStats:
    """Counters since start; never content, never keys."""

    accepted: int = 0
    attached_total: int = 0
    frames_forwarded: int = 0
    bytes_forwarded: int = 0
    not_here: int = 0
    dropped_queue_full: int = 0
    throttled: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    # The last protocol error's own words (core/session.py's reason, never a peer's text):
    # what `relay status` shows so a count is not left unexplained (trial 4, B16).
    last_protocol_error: str = ""


class RelayState:
    """See the module docstring. `allow`: the keys a private relay admits (None: anyone)."""

    def __init__(self, limits: RelayLimits, *, allow: frozenset[bytes] | None = None) -> None:
        self.limits = limits
        self._allow = allow
        self._next_id: ConnId = 1
        self._pending: dict[ConnId, _Pending] = {}
        self._pending_per_host: Counter[str] = Counter()
        self._clients_per_host: Counter[str] = Counter()
        self._clients: dict[ConnId, _Client] = {}
        self._by_key: dict[bytes, ConnId] = {}
        self.stats = RelayStats()

    # -- connections ------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def open(self, host: str, now: float) -> tuple[ConnId, list[ConnId]]:
        """A TCP connection from `host` arrived: its id, and the pending connections it evicts
        (the caller closes them; counted here as `pending_per_host` or `pending_full`)."""
        limits = self.limits
        evicted: list[ConnId] = []
        if self._pending_per_host[host] >= limits.max_pending_per_host:
            evicted.append(self._evict(host, "pending_per_host"))
        elif len(self._pending) >= limits.max_pending:
            evicted.append(self._evict(None, "pending_full"))
        conn = self._next_id
        self._next_id += 1
        self._pending[conn] = _Pending(host, now)
        self._pending_per_host[host] += 1
        self.stats.accepted += 1
        return conn, evicted

    def _evict(self, host: str | None, reason: str) -> ConnId:
        """Forget the pending connection (of `host`, or of any) with the least claim to stay:
        from the address holding the most, one that proved nothing before one that did, the
        oldest first."""
        count = self._pending_per_host
        victim = min((c for c, p in self._pending.items() if host is None or p.host == host),
                     key=lambda c: (-count[self._pending[c].host], self._pending[c].handshaken,
                                    self._pending[c].opened, c))
        self.refuse(reason)
        self._forget_pending(victim)
        return victim

    def handshaken(self, conn: ConnId) -> None:
        """The pending connection's handshake completed: it goes after the others on eviction."""
        pending = self._pending.get(conn)
        if pending is not None:
            pending.handshaken = True

    def admits(self, key: bytes) -> bool:
        """Whether `key` may attach here (the allow-list of a private relay)."""
        return self._allow is None or key in self._allow

    def attach(self, conn: ConnId, key: bytes, now: float) -> Accepted | Replaced | str:
        """The client on `conn` proved `key` and sent Attach. A refusal is a REFUSALS reason."""
        if conn in self._clients:
            raise ProtocolError("Attach sent twice")
        if conn not in self._pending:
            raise ValueError(f"unknown connection {conn}")
        if len(key) != KEY_LEN:
            raise ValueError("a client key has 32 bytes")
        if not self.admits(key):
            self.refuse("not_allowed")
            return "not_allowed"
        old = self._by_key.get(key)
        host = self._pending[conn].host
        if old is None and len(self._clients) >= self.limits.max_clients:
            self.refuse("relay_full")
            return "relay_full"
        # One address holding many keys (one person, or a stranger making keys up) may not take
        # every slot; the same key coming back from the same address replaces, never adds.
        same_host = old is not None and self._clients[old].host == host
        if not same_host and self._clients_per_host[host] >= self.limits.max_clients_per_host:
            self.refuse("host_full")
            return "host_full"
        self._forget_pending(conn)
        if old is not None:
            self._drop_client(old)
        limits = self.limits
        self._clients_per_host[host] += 1
        self._clients[conn] = _Client(
            key,
            host,
            TokenBucket(limits.byte_rate, limits.byte_rate * limits.burst_seconds, now),
            TokenBucket(limits.frame_rate, limits.frame_rate * limits.burst_seconds, now),
        )
        self._by_key[key] = conn
        self.stats.attached_total += 1
        return Accepted() if old is None else Replaced(old)

    def close(self, conn: ConnId) -> None:
        """The connection is gone (any reason); forget it. Closing twice is harmless."""
        self._forget_pending(conn)
        self._drop_client(conn)

    def expired(self, now: float) -> list[ConnId]:
        """Pending connections past `attach_timeout`: the caller closes them (counted here)."""
        late = [c for c, p in self._pending.items()
                if now - p.opened >= self.limits.attach_timeout]
        for conn in late:
            self.refuse("attach_timeout")
            self._forget_pending(conn)
        return late

    def key_of(self, conn: ConnId) -> bytes | None:
        client = self._clients.get(conn)
        return None if client is None else client.key

    def refuse(self, reason: str, detail: str = "") -> None:
        """Count a refusal or a close by the relay (one of REFUSALS); `detail`, a protocol
        error's words, is kept (the last one) for the status."""
        self.stats.refusals[reason] += 1
        if reason == "protocol_error" and detail:
            self.stats.last_protocol_error = detail[:200]

    # -- frames -----------------------------------------------------------------------------

    def route(self, conn: ConnId, to: bytes, size: int) -> Route:
        """Where a Send of `size` data bytes from `conn` to key `to` goes."""
        if conn not in self._clients:
            raise ProtocolError("Send before Attach")
        if size > self.limits.max_data:
            raise ProtocolError(f"frame of {size} bytes, over the limit of {self.limits.max_data}")
        dest = self._by_key.get(to)
        if dest is None:
            self.stats.not_here += 1
            return NotAttached()
        receiver = self._clients[dest]
        cost = wire_cost(size)  # padding included: queues hold what goes on the wire
        if receiver.backlog + cost > self.limits.max_queue:
            self.stats.dropped_queue_full += 1
            return QueueFull()
        receiver.backlog += cost  # until the server measures the real figure
        self.stats.frames_forwarded += 1
        self.stats.bytes_forwarded += size
        return Forward(dest)

    def may_answer(self, conn: ConnId) -> bool:
        """Whether an answer (NotHere, Refused) still fits in `conn`'s own queue."""
        client = self._clients.get(conn)
        return client is not None and client.backlog < self.limits.max_queue

    def set_backlog(self, conn: ConnId, nbytes: int) -> None:
        """The bytes waiting in `conn`'s socket buffer now, as the server measured them."""
        client = self._clients.get(conn)
        if client is not None:
            client.backlog = nbytes

    def over_high_water(self, conn: ConnId) -> bool:
        """Whether senders to `conn` should wait for it to drain before sending more."""
        client = self._clients.get(conn)
        return client is not None and client.backlog > self.limits.high_water

    def charge(self, conn: ConnId, nbytes: int, frames: int, now: float) -> float:
        """Debit what `conn` just sent; the seconds to stop reading from it (0: go on)."""
        client = self._clients.get(conn)
        if client is None:
            return 0.0
        delay = max(client.bytes_bucket.debit(nbytes, now),
                    client.frames_bucket.debit(frames, now))
        if delay > 0:
            self.stats.throttled += 1
        return delay

    # -- status -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """Counts for the status file: how many, never who or what."""
        s = self.stats
        return {
            "clients": len(self._clients),
            "pending": len(self._pending),
            "accepted": s.accepted,
            "attached_total": s.attached_total,
            "frames_forwarded": s.frames_forwarded,
            "bytes_forwarded": s.bytes_forwarded,
            "not_here": s.not_here,
            "dropped_queue_full": s.dropped_queue_full,
            "throttled": s.throttled,
            "refusals": {reason: s.refusals[reason] for reason in REFUSALS},
            "last_protocol_error": s.last_protocol_error,
        }

    def _drop_client(self, conn: ConnId) -> None:
        client = self._clients.pop(conn, None)
        if client is None:
            return
        if self._by_key.get(client.key) == conn:
            del self._by_key[client.key]
        self._clients_per_host[client.host] -= 1
        if not self._clients_per_host[client.host]:
            del self._clients_per_host[client.host]

    def _forget_pending(self, conn: ConnId) -> None:
        pending = self._pending.pop(conn, None)
        if pending is not None:
            self._pending_per_host[pending.host] -= 1
            if not self._pending_per_host[pending.host]:
                del self._pending_per_host[pending.host]
