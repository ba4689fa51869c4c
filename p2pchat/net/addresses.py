"""Addresses as people type them ("host:port", "[v6]:port") and as the node shows them."""

from __future__ import annotations

import ipaddress

Address = tuple[str, int]


def format_addr(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def plain_host(host: str) -> str:
    """An IPv4 peer seen through a dual-stack socket ('::ffff:10.0.0.2') as plain '10.0.0.2'."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return host


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_addr(text: str) -> Address:
    """'host:port' or '[v6]:port' into a pair; ValueError with a readable message otherwise."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host, int(port_text)


def is_own(address: Address, listening: list[Address], local_hosts: list[str]) -> bool:
    """Whether `address` reaches one of our `listening` sockets: the same host and port, or our
    port at a loopback or local address (`local_hosts`) when we listen on every address. A
    node must not take itself for another node (trial 11: a joiner asked itself to admit it)."""
    host, port = plain_host(address[0]), address[1]
    for listen_host, listen_port in listening:
        if listen_port != port:
            continue
        if host == plain_host(listen_host):
            return True
        if listen_host in ("0.0.0.0", "::", "") and (is_loopback(host) or host in local_hosts):
            return True
    return False
