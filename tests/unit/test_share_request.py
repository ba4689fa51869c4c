"""The share server's request parser: GET and HEAD of origin-form paths, everything else
refused with the right status."""

from __future__ import annotations

import pytest

from p2pchat.share.request import HttpError, parse_request


def test_a_get_with_a_host() -> None:
    req = parse_request(b"GET /wheels/a-1.0-py3-none-any.whl?x=1 HTTP/1.1\r\nHost: 10.0.0.2:7745"
                        b"\r\nAccept: */*")
    assert (req.method, req.path, req.host) == ("GET", "/wheels/a-1.0-py3-none-any.whl",
                                                "10.0.0.2:7745")


def test_percent_escapes_are_decoded_so_they_cannot_hide_a_path() -> None:
    req = parse_request(b"HEAD /wheels/%2e%2e%2Fsecret HTTP/1.1\r\nHost: [::1]:80")
    assert req.path == "/wheels/../secret" and req.host == "[::1]:80"


def test_http_1_0_needs_no_host() -> None:
    assert parse_request(b"GET / HTTP/1.0").host is None


@pytest.mark.parametrize(("head", "status"), [
    (b"POST / HTTP/1.1\r\nHost: a", 405),
    (b"DELETE /x HTTP/1.1\r\nHost: a", 405),
    (b"GET / HTTP/2.0\r\nHost: a", 505),
    (b"GET / HTTP/1.1", 400),  # HTTP/1.1 without Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b", 400),  # two Hosts
    (b"GET / HTTP/1.1\r\nHost: a b", 400),  # a Host we could not write back safely
    (b"GET / HTTP/1.1\r\nHost: <script>", 400),
    (b"GET http://evil/ HTTP/1.1\r\nHost: a", 400),  # absolute-form: we are no proxy
    (b"GET * HTTP/1.1\r\nHost: a", 400),
    (b"GET /a%00b HTTP/1.1\r\nHost: a", 400),
    (b"GET /%ff HTTP/1.1\r\nHost: a", 400),  # not UTF-8
    (b"GET  / HTTP/1.1\r\nHost: a", 400),
    (b"GET / HTTP/1.1\r\nHost : a", 400),  # space before the colon
    (b"GET / HTTP/1.1\r\nHost: a\r\n folded", 400),
    (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a", 400),
    (b"GET / HTTP/1.1\r\nHost: a" + b"\r\nX: y" * 64, 431),
    (b"", 400),
])
def test_refused(head: bytes, status: int) -> None:
    with pytest.raises(HttpError) as info:
        parse_request(head)
    assert info.value.status == status
