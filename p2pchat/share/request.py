"""Reading an HTTP/1.x request head, for a server that only ever sends files: GET and HEAD,
origin-form targets, nothing in the body matters (the connection closes after one response).

Pure: bytes in, a Request or an HttpError out. The server bounds the head's size and the time
to read it before this sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

MAX_HEADERS = 64
METHODS = ("GET", "HEAD")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
# A Host we may write back into the page: a name, IPv4 or [IPv6], and a port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?")


class HttpError(Exception):
    """A request we answer with this status and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    host: str | None  # the Host header, checked against _HOST


def parse_request(head: bytes) -> Request:
    """`head`: the request line and header lines, CRLF-separated, without the blank line."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "Bad Request") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise HttpError(400, "Bad Request")
    method, target, version = parts
    match = _VERSION.fullmatch(version)
    if not match:
        raise HttpError(400, "Bad Request")
    if match.group(1) != "1":
        raise HttpError(505, "HTTP Version Not Supported")
    host = _host(lines[1:], http11=match.group(2) != "0")
    if method not in METHODS:
        raise HttpError(405, "Method Not Allowed")
    return Request(method, _path(target), host)


def _host(lines: list[str], *, http11: bool) -> str | None:
    if len(lines) > MAX_HEADERS:
        raise HttpError(431, "Request Header Fields Too Large")
    hosts = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):  # also refuses obsolete line folding
            raise HttpError(400, "Bad Request")
        if name.lower() == "host":
            hosts.append(value.strip(" \t"))
    if len(hosts) > 1 or (http11 and not hosts):  # RFC 9112 section 3.2
        raise HttpError(400, "Bad Request")
    if not hosts:
        return None
    if not _HOST.fullmatch(hosts[0]):
        raise HttpError(400, "Bad Request")
    return hosts[0]


def _path(target: str) -> str:
    if not target.startswith("/"):  # absolute-form is for proxies; '*' for OPTIONS
        raise HttpError(400, "Bad Request")
    path = target.split("?", 1)[0]
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise HttpError(400, "Bad Request") from None
    if "\x00" in decoded:
        raise HttpError(400, "Bad Request")
    return decoded
