"""How fast anyone may guess a network passphrase against this member (docs/protocol.md 10.7).

Every admission exchange is charged as a failed guess when it starts and given back only when
the joiner proves the passphrase, so a guesser who hangs up before confirming pays too. Two
limits hold at once:

* per source address: a few guesses free, then a wait that doubles after each one (up to a cap);
  a source quiet for an hour starts afresh;
* per network: a token bucket over every source together, for a guesser with many addresses.

Pure: time comes in as `now`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from p2pchat.core.ratelimit import TokenBucket


@dataclass(frozen=True)
class GuessLimits:
    free_per_source: int = 3  # failed guesses one address may make before waiting
    backoff: float = 10.0  # the first wait after those, in seconds; doubles after each guess
    max_backoff: float = 900.0  # the longest wait between two guesses of one address
    forget_after: float = 3600.0  # an address quiet this long starts afresh
    network_burst: int = 10  # failed guesses at one network, from all addresses, at once
    network_rate: float = 1 / 30  # and then this many per second (two a minute)
    max_sources: int = 1024  # addresses remembered (the oldest is forgotten first)
    max_networks: int = 256  # network ids remembered, ours and others'


@dataclass
class _Source:
    failures: int
    last: float


class GuessLimiter:
    def __init__(self, limits: GuessLimits | None = None, *,
                 ours: Callable[[bytes], bool] = lambda network: False) -> None:
        self.limits = limits or GuessLimits()
        # Our networks' buckets are never forgotten: a guesser naming many made-up networks
        # must not push ours out and so refill it.
        self._ours = ours
        self._sources: dict[str, _Source] = {}
        self._networks: dict[bytes, TokenBucket] = {}

    def wait(self, source: str, now: float) -> float:
        """Seconds `source` must still wait before its next guess (0: it may go)."""
        entry = self._sources.get(source)
        limits = self.limits
        if entry is None or now - entry.last >= limits.forget_after:
            return 0.0
        over = entry.failures - limits.free_per_source
        if over < 0:
            return 0.0
        pause = min(limits.backoff * 2.0 ** min(over, 30), limits.max_backoff)
        return max(0.0, entry.last + pause - now)

    def failures(self, source: str, now: float) -> int:
        """The failed guesses `source` has made, as the backoff counts them (0 once forgotten)."""
        entry = self._sources.get(source)
        if entry is None or now - entry.last >= self.limits.forget_after:
            return 0
        return entry.failures

    def start(self, source: str, network: bytes, now: float) -> float:
        """Charge one guess by `source` at `network`; 0.0 if it may go on, else the seconds to
        wait (and nothing is charged)."""
        pause = self.wait(source, now)
        if pause > 0:
            return pause
        bucket = self._bucket(network, now)
        if not bucket.take(now):
            return 1.0 / self.limits.network_rate
        entry = self._sources.get(source)
        if entry is None or now - entry.last >= self.limits.forget_after:
            if len(self._sources) >= self.limits.max_sources and source not in self._sources:
                oldest = min(self._sources, key=lambda s: self._sources[s].last)
                del self._sources[oldest]
            entry = self._sources[source] = _Source(0, now)
        entry.failures += 1
        entry.last = now
        return 0.0

    def succeeded(self, source: str, network: bytes) -> None:
        """The joiner proved the passphrase: what `start` charged was no guess."""
        self._sources.pop(source, None)
        bucket = self._networks.get(network)
        if bucket is not None:
            bucket.refund()

    def _bucket(self, network: bytes, now: float) -> TokenBucket:
        bucket = self._networks.get(network)
        if bucket is None:
            if len(self._networks) >= self.limits.max_networks:
                other = next((n for n in self._networks if not self._ours(n)), None)
                if other is not None:
                    del self._networks[other]
            bucket = self._networks[network] = TokenBucket(
                self.limits.network_rate, self.limits.network_burst, now)
        return bucket
