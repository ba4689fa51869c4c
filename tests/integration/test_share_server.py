"""The share-app server over real sockets: it serves its page and the files of its table and
nothing else, whatever the path, and its limits hold."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from p2pchat.share.server import ServerLimits, ShareServer

WHEEL = "demo-1.0-py3-none-any.whl"


async def request(port: int, raw: bytes, timeout: float = 10) -> tuple[int, dict[str, str],
                                                                      bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        data = await asyncio.wait_for(reader.read(), timeout)  # the server closes when done
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / WHEEL).write_bytes(b"PK-demo-wheel" * 1000)
    (folder / "not-listed.whl").write_bytes(b"should never be served")
    (tmp_path / "secret").write_text("outside the share")
    return folder


async def start(folder: Path, limits: ServerLimits | None = None) -> tuple[ShareServer, int]:
    server = ShareServer({f"/wheels/{WHEEL}": folder / WHEEL},
                         lambda host: f"<a href='/wheels/{WHEEL}'>for {host}</a>".encode(),
                         limits)
    bound = await server.start("127.0.0.1", 0)
    return server, bound[0][1]


@pytest.fixture
async def served(shared: Path) -> AsyncIterator[int]:
    server, port = await start(shared)
    yield port
    await server.stop()


async def test_the_page_is_made_for_the_host_the_client_used(served: int) -> None:
    status, headers, body = await request(served, b"GET / HTTP/1.1\r\nHost: 10.1.2.3:99\r\n\r\n")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert body == f"<a href='/wheels/{WHEEL}'>for 10.1.2.3:99</a>".encode()
    assert headers["connection"] == "close" and int(headers["content-length"]) == len(body)


async def test_a_listed_file_is_served_whole_and_head_sends_no_body(served: int,
                                                                   shared: Path) -> None:
    status, headers, body = await request(served, get(f"/wheels/{WHEEL}"))
    assert status == 200 and body == (shared / WHEEL).read_bytes()
    status, headers, body = await request(served, get(f"/wheels/{WHEEL}", "HEAD"))
    assert status == 200 and body == b"" and int(headers["content-length"]) == 13000


@pytest.mark.parametrize("path", [
    "/secret", "/../secret", "/wheels/../../secret", "/wheels/%2e%2e/%2e%2e/secret",
    "/wheels/..%2F..%2Fsecret", "//etc/passwd", "/etc/passwd", "/wheels/not-listed.whl",
    "/wheels/", "/wheels", f"/wheels/{WHEEL}/", f"/WHEELS/{WHEEL}", "/share/" + WHEEL,
    "/wheels/%2fetc%2fpasswd", "/favicon.ico",
])
async def test_nothing_outside_the_table_is_served(served: int, path: str) -> None:
    status, _, body = await request(served, get(path))
    assert status == 404, path
    assert b"outside the share" not in body and b"should never" not in body


async def test_bad_requests_get_their_status_and_the_connection_closes(served: int) -> None:
    assert (await request(served, b"POST / HTTP/1.1\r\nHost: a\r\n\r\n"))[0] == 405
    assert (await request(served, b"GET / HTTP/1.1\r\n\r\n"))[0] == 400
    assert (await request(served, b"GET / HTTP/3.0\r\nHost: a\r\n\r\n"))[0] == 505


async def test_a_request_head_over_the_bound_is_refused(served: int) -> None:
    huge = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    assert (await request(served, huge))[0] == 431


async def test_a_file_swapped_for_a_symlink_after_start_is_not_followed(shared: Path) -> None:
    server, port = await start(shared)
    try:
        (shared / WHEEL).unlink()
        os.symlink(shared.parent / "secret", shared / WHEEL)
        status, _, body = await request(port, get(f"/wheels/{WHEEL}"))
        assert status == 404 and b"outside" not in body
    finally:
        await server.stop()


async def test_a_client_that_never_finishes_its_request_is_cut(shared: Path) -> None:
    server, port = await start(shared, ServerLimits(head_timeout=0.3))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n")  # and nothing more
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, no answer
        writer.close()
    finally:
        await server.stop()


async def test_connections_are_bounded(shared: Path) -> None:
    server, port = await start(shared, ServerLimits(max_connections=2, max_per_host=8))
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    try:
        # Wait until the server holds both, then one more is turned away at once.
        from tests.aio import until

        await until(lambda: len(server._tasks) == 2, what="two connections held")
        status, headers, _ = await request(port, get("/"))
        assert status == 503 and headers["retry-after"]
        for _, writer in idle:
            writer.close()
        await until(lambda: not server._tasks, what="the idle connections gone")
        assert (await request(port, get("/")))[0] == 200  # a slot is free again
    finally:
        await server.stop()


async def test_connections_from_one_address_are_bounded(shared: Path) -> None:
    server, port = await start(shared, ServerLimits(max_connections=10, max_per_host=1))
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        from tests.aio import until

        await until(lambda: len(server._tasks) == 1, what="one connection held")
        assert (await request(port, get("/")))[0] == 503
    finally:
        writer.close()
        await server.stop()


async def test_stop_ends_connections_in_progress(shared: Path) -> None:
    server, port = await start(shared)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    from tests.aio import until

    await until(lambda: len(server._tasks) == 1, what="the connection held")
    await asyncio.wait_for(server.stop(), 10)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_a_large_file_arrives_whole_through_a_small_window(tmp_path: Path) -> None:
    """The kernel's buffers cannot hold the file, so the end of it is still in the server's
    own buffer when the last chunk is written: closing must send it, not drop it."""
    import socket

    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / WHEEL).write_bytes(data)
    server, port = await start(tmp_path)
    assert server._server is not None
    for listener in server._server.sockets:  # accepted sockets inherit the small buffer
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(get(f"/wheels/{WHEEL}"))
        received = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        assert received.partition(b"\r\n\r\n")[2] == data
    finally:
        await server.stop()
