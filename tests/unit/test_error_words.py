"""core/error_words.py: what went wrong in words, never a Python class name (trial 8, B6)."""

from __future__ import annotations

import errno
import socket

import pytest

from p2pchat.core.error_words import in_words


@pytest.mark.parametrize(("exc", "words"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connection refused"),
    (ConnectionRefusedError(), "connection refused"),
    (TimeoutError(), "timed out"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "no route to the host"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), "no route to the network"),
    (socket.gaierror(-2, "Name or service not known"), "name or service not known"),
    (ConnectionResetError(), "connection reset"),
    (RuntimeError("oops"), "oops"),
    (RuntimeError(), "an unexpected error"),
])
def test_an_exception_in_words(exc: BaseException, words: str) -> None:
    assert in_words(exc) == words
    assert type(exc).__name__ not in in_words(exc)
