"""Where friends can reach this node: its listening addresses, a wildcard one (every interface)
spelled out as this host's own addresses, for `/addr` or `contacts add --addr` on their side."""

from __future__ import annotations

import ipaddress

from p2pchat.net.addresses import format_addr, parse_addr

WILDCARDS = ("::", "0.0.0.0")


def reachable(listen: list[str], local: list[str]) -> list[str]:
    """`listen` as the node reports it; `local`: this host's non-loopback addresses."""
    out: list[str] = []
    for text in listen:
        try:
            host, port = parse_addr(text)
        except ValueError:
            continue
        if host not in WILDCARDS:
            out.append(format_addr((host, port)))
            continue
        for ip in local:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                continue
            if address.version == 6 and (host == "0.0.0.0" or address.is_link_local):
                continue  # a link-local address needs its interface: no use to type
            out.append(format_addr((ip, port)))
    return list(dict.fromkeys(out))


def local_addresses() -> list[str]:
    from p2pchat.net.discovery import local_addresses as found

    return found()
