"""What `status` answers (docs/api.md): who the node is, where it listens and looks, and how
it is doing, read from the node's parts."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from p2pchat import __version__
from p2pchat.core.identity import fingerprint
from p2pchat.net.addresses import format_addr

if TYPE_CHECKING:
    from p2pchat.node.node import Node


def status_of(node: Node) -> dict[str, Any]:
    """`status`: built from the node's parts."""
    return {
        "name": node.name,
        "fingerprint": fingerprint(node.key),
        "public_key": node.key.hex(),
        "home": str(node.home),
        "listen": [format_addr(a) for a in node.listen_addresses],
        "port_changed_from": node.links.port_changed,  # the kept port was taken (trial 4, 16)
        "listen_from": node.config.listen_from,  # "last run": kept, never wider (trial 9, B1)
        "links": sum(1 for link in node.links.by_peer.values() if not link.closed),
        "mdns": node.nearby.on,
        "mdns_interfaces": list(node.config.mdns_interfaces or []),
        "mdns_from": node.config.mdns_from,
        "relays": node.relays.view(),
        "found_relays": node.config.found_relays,  # off: no relay found nearby is used
        "presence": node.config.presence,
        "visible_to": node.nearby.visible_to(),  # what the advert really shows (nearby.py)
        "networks": node.networks.names(),
        "networks_waiting": [n for n, _ in node.networks.waiting()],
        "networks_refused": node.networks.refused_names(),
        "networks_waiting_why": node.admissions.waiting_why(),  # why a join waits (trial 13)
        "requests_dropped": node.trust.requests_dropped,
        # Strangers' handshakes are refused in a network, and while waiting to join one: why
        # a contact request does not arrive (trial 4, B3, B4), and how many were refused.
        "closed_to_strangers": (node.networks.names() or [n.name for n in node.networks.pending()])
        if node.networks.joined else [],
        "strangers_refused": node.links.strangers_refused,
        "version": __version__,
        "pid": os.getpid(),  # what to stop: a background node has no terminal
        "in_chat_screen": node.config.in_chat_screen,
        **node.health.view(),
    }

