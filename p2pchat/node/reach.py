"""How the dialer is doing with each contact it cannot link to, added to `contacts.list`
(docs/api.md): a screen says why a contact seems offline where the user looks (notes/s33/
trial8.md B2, B5, B13) instead of "offline" for ever."""

from __future__ import annotations

from typing import Any

from p2pchat.core.identity import parse_fingerprint
from p2pchat.net.dialer import Dialer


def with_dial_state(views: list[dict[str, Any]], dialer: Dialer) -> list[dict[str, Any]]:
    """Each contact not linked now gets `failed_dials` (dials since a link last carried a
    record) and, when its node has our request and has not added us, `awaits_answer: true`."""
    for view in views:
        if view.get("online") or view.get("state") != "contact":
            continue
        try:
            key = parse_fingerprint(str(view.get("fingerprint")))
        except ValueError:
            continue
        view["failed_dials"] = dialer.failures(key)
        if dialer.waits_for_answer(key):
            view["awaits_answer"] = True
    return views
