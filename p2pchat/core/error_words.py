"""An exception as a person reads it: "connection refused", "timed out", never a Python class
name (notes/s33/trial8.md B6: `status` said "cannot connect: ConnectionRefusedError")."""

from __future__ import annotations

import errno

_BY_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "no route to the host",
    errno.ENETUNREACH: "no route to the network",
    errno.EHOSTDOWN: "the host is down",
    errno.ENETDOWN: "the network is down",
    errno.EADDRNOTAVAIL: "address not available here",
    errno.EADDRINUSE: "address already in use",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.ENOSPC: "no space left on the disk",
    errno.EROFS: "the disk is read-only",
    errno.EIO: "input/output error",
    errno.ENOENT: "no such file",
}
_BY_CLASS = (  # subclasses first
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (ConnectionAbortedError, "connection aborted"),
    (BrokenPipeError, "connection closed"),
    (TimeoutError, "timed out"),
    (ConnectionError, "connection failed"),
    (PermissionError, "permission denied"),
    (FileNotFoundError, "no such file"),
    (MemoryError, "out of memory"),
)
MAX_WORDS = 200


def in_words(exc: BaseException) -> str:
    """What went wrong, for a person: the OS's reason by errno, else by kind, else the
    exception's own message; never its class name."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number in _BY_ERRNO:
        return _BY_ERRNO[number]
    for kind, words in _BY_CLASS:
        if isinstance(exc, kind):
            return words
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()[:MAX_WORDS]
    text = str(exc).strip()
    if text and text != type(exc).__name__:
        return text[:MAX_WORDS]
    return "an unexpected error"
