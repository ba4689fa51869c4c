"""Listening sockets: one dual-stack socket for "::", and the addresses a server really holds."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from p2pchat.net.addresses import Address

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def listen(handler: Handler, host: str, port: int) -> asyncio.Server:
    """A TCP server on (host, port); "::" is one socket serving IPv6 and IPv4 alike."""
    if host == "::":
        # asyncio's own would set IPV6_V6ONLY and need a second socket on another port.
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError:
            host = "0.0.0.0"  # no IPv6 on this host
        else:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(("::", port))
            except OSError:
                sock.close()
                raise
            return await asyncio.start_server(handler, sock=sock)
    return await asyncio.start_server(handler, host, port)


def bound_addresses(server: asyncio.Server) -> list[Address]:
    """What `server` listens on; a dual-stack socket is listed as 0.0.0.0:PORT and [::]:PORT."""
    out: list[Address] = []
    for sock in server.sockets:
        host, port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
        dual_stack = sock.family == socket.AF_INET6 and host == "::" and not \
            sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        if dual_stack:
            out.append(("0.0.0.0", port))
        out.append((host, port))
    return out
