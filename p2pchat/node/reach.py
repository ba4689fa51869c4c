"""How the dialer is doing with each contact it cannot link to, added to `contacts.list`
(docs/api.md): a screen says why a contact seems offline where the user looks (notes/s33/
trial8.md B2, B5, B13) instead of "offline" for ever, and when it last saw them.

A contact who just closed their laptop is "offline", nothing more: their last known address is
called stale (`address_stale`: "if they moved, /addr ...") only when it is likely, when it has
not answered for a long time or their node was seen at another address (trial 9, B7: the
advice came 20 s after carol's node stopped)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from p2pchat.core.identity import parse_fingerprint
from p2pchat.core.timestamps import iso_from_ms
from p2pchat.net.dialer import Dialer

# Dials that failed in a row before a contact's last known address may be called stale: the
# dialer's back-off (net/dialer.py) makes these a few seconds, more than a blip.
STUCK_DIALS = 6
# How long a contact's address may stay silent (since we last had a link with them, or since
# the node started) before it is called stale without other signs: people close laptops.
STALE_AFTER = 600.0


def with_dial_state(views: list[dict[str, Any]], dialer: Dialer, *, now_ms: int,
                    since_ms: int, last_seen: Callable[[bytes], int | None],
                    elsewhere: Callable[[bytes], bool],
                    stale_after: float = STALE_AFTER) -> list[dict[str, Any]]:
    """Each contact not linked now gets `failed_dials` (dials since a link last carried a
    record), `last_seen` (when a link with it last ended, if one did) and `address_stale`;
    when its node has our request and has not added us, `awaits_answer: true`. `since_ms`:
    when the node started; `elsewhere(key)`: its node was seen at an address not stored."""
    for view in views:
        if view.get("online") or view.get("state") != "contact":
            continue
        try:
            key = parse_fingerprint(str(view.get("fingerprint")))
        except ValueError:
            continue
        failed = dialer.failures(key)
        view["failed_dials"] = failed
        seen = last_seen(key)
        if seen is not None:
            view["last_seen"] = iso_from_ms(seen)
        silent = (now_ms - max(seen or 0, since_ms)) / 1000
        view["address_stale"] = bool(view.get("addrs")) and failed >= STUCK_DIALS and (
            silent >= stale_after or elsewhere(key))
        if dialer.waits_for_answer(key):
            view["awaits_answer"] = True
    return views
