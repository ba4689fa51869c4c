"""A token bucket: how many of something a peer may do at once, and how fast it refills."""

from __future__ import annotations


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` per second of the caller's clock (`now`)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens if there are that many; False (and nothing spent) if not."""
        if now > self._stamp:  # a clock that steps back refills nothing
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    def refund(self, cost: float = 1.0) -> None:
        """Give back `cost` tokens taken for something that turned out not to count."""
        self._tokens = min(self.burst, self._tokens + cost)
