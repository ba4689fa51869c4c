"""node/reach.py: when a contact's last known address is called stale (trial 9, B7)."""

from __future__ import annotations

from typing import Any

from p2pchat.core.identity import Identity, fingerprint
from p2pchat.net.dialer import Dialer
from p2pchat.node.reach import STALE_AFTER, STUCK_DIALS, with_dial_state

KEY = Identity.generate().public_key
STARTED = 1_000_000


def view(failed: int, *, now_s: float, seen_s: float | None = None,
         elsewhere: bool = False) -> dict[str, Any]:
    async def connect(key: bytes, address: Any) -> bool:
        return False

    dialer = Dialer(connect, lambda key: [], lambda key: False)
    dialer._failures[KEY] = failed  # what its dials did; no task runs here
    row = {"fingerprint": fingerprint(KEY), "state": "contact", "online": False,
           "addrs": ["127.0.0.1:4000"]}
    seen = None if seen_s is None else STARTED + int(seen_s * 1000)
    return with_dial_state([row], dialer, now_ms=STARTED + int(now_s * 1000),
                           since_ms=STARTED, last_seen=lambda key: seen,
                           elsewhere=lambda key: elsewhere)[0]


def test_a_contact_who_just_went_is_offline_not_moved() -> None:
    got = view(STUCK_DIALS + 5, now_s=20, seen_s=0)
    assert got["address_stale"] is False
    assert got["last_seen"].endswith("+00:00")


def test_an_address_silent_for_long_is_stale() -> None:
    assert view(STUCK_DIALS, now_s=STALE_AFTER + 1, seen_s=0)["address_stale"] is True
    # Silent since we last saw them, not since the node started.
    assert view(STUCK_DIALS, now_s=STALE_AFTER + 1, seen_s=10)["address_stale"] is False
    assert view(STUCK_DIALS - 1, now_s=STALE_AFTER * 3)["address_stale"] is False  # a blip


def test_a_node_seen_at_another_address_makes_the_old_one_stale_at_once() -> None:
    assert view(STUCK_DIALS, now_s=20, seen_s=0, elsewhere=True)["address_stale"] is True
    assert view(1, now_s=20, seen_s=0, elsewhere=True)["address_stale"] is False


def test_a_knock_on_a_node_that_has_our_request_is_listed_as_awaiting() -> None:
    """Trial 11: our knock on a node that has our request is a link for a moment; read then,
    the contact is `online` and still `awaits_answer` (no link to chat on), and nothing else."""
    async def connect(key: bytes, address: Any) -> bool:
        return False

    dialer = Dialer(connect, lambda key: [], lambda key: False)
    dialer._patient[KEY] = 0.0  # their Hello did not know us: we wait for their answer
    row = {"fingerprint": fingerprint(KEY), "state": "contact", "online": True}
    got = with_dial_state([row], dialer, now_ms=STARTED, since_ms=STARTED,
                          last_seen=lambda key: None, elsewhere=lambda key: False)[0]
    assert got == {**row, "awaits_answer": True}
    del dialer._patient[KEY]  # they added us: a link
    got = with_dial_state([dict(row)], dialer, now_ms=STARTED, since_ms=STARTED,
                          last_seen=lambda key: None, elsewhere=lambda key: False)[0]
    assert got == row
