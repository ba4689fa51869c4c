"""What `p2pchat contacts` and `status` read of the running node besides their own call, and
the status lines about strangers (moved out of cli/remote.py, at its size limit)."""

from __future__ import annotations

import argparse
from typing import Any

from p2pchat.tui.sanitize import clean


def nearby(args: argparse.Namespace) -> set[str] | None:
    """The fingerprints discovery sees now (None when no node answers: presence unknown)."""
    peers = _read(args, "peers")
    if not isinstance(peers, dict):  # trial 14b, B2: an empty set called everyone offline
        return None
    found = peers.get("nearby")
    return {str(n.get("fingerprint")) for n in found or [] if isinstance(n, dict)}


def networks(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The networks the node is in, and those it waits to be admitted to: why a contact's node
    closes us unanswered (core/contact_words.py `unanswered`; trial 13c, B3)."""
    status = _read(args, "status")
    if not isinstance(status, dict):
        return [], []
    return ([clean(n) for n in status.get("networks") or []],
            [clean(n) for n in status.get("networks_waiting") or []])


def _read(args: argparse.Namespace, method: str) -> Any:
    from p2pchat.control_client import ControlClient, ControlError

    try:
        with ControlClient(args.home, timeout=5.0) as client:
            return client.call(method)
    except (ControlError, OSError):
        return None


def print_closed(status: dict[str, Any]) -> None:
    """Why strangers' requests don't arrive, and how many were refused (trial 4, B3, B4)."""
    closed = [clean(n) for n in status.get("closed_to_strangers") or []]
    refused = status.get("strangers_refused") or 0
    if closed and set(closed) <= set(status.get("networks_waiting") or []):
        print(f"closed to strangers until admitted to {', '.join(closed)}: contact requests"
              " are refused until then")
    elif closed:
        print(f"closed to strangers: only contacts and members of {', '.join(closed)} reach you")
    if refused and closed:
        print(f"strangers refused: {refused} (in a network, or waiting to join one, the node"
              " answers only contacts and members)")
    elif refused:  # the node left its networks: the count is of before (trial 13c, B12)
        print(f"strangers refused while you were in a network: {refused} (since the node"
              " started; it is in none now, so it answers strangers)")
