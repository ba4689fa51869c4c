"""What `send` reads from standard input: `send WHO -` takes all of it as one message, bounded;
`send WHO --lines` sends each non-blank line, in batches of one control call each."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator

from p2pchat.cli.output import fail

# More than any message may hold (the node refuses a text over 16 KiB with its own clear error);
# the bound keeps a mistaken pipe of gigabytes out of memory.
_STDIN_MESSAGE_CHARS = 64 * 1024


def stdin_message() -> str:
    """`send WHO -`: all of standard input is one message, its line breaks kept."""
    try:
        text = sys.stdin.read(_STDIN_MESSAGE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read the message from standard input: {exc}")
    if len(text) > _STDIN_MESSAGE_CHARS:
        fail("standard input is far longer than one message can be; --lines sends each line"
             " as a message")
    return text.rstrip("\r\n")


# One control call per batch: one commit for many lines, within the node's request line limit.
_BATCH_TEXTS = 100
_BATCH_BYTES = 128 * 1024  # of JSON, which may spell one character in up to 12 bytes


def line_batches(lines: Iterable[str]) -> Iterator[list[str]]:
    """Non-blank lines, without their line ends, in batches for `send --lines`."""
    batch: list[str] = []
    size = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        encoded = len(json.dumps(text))
        if batch and (len(batch) == _BATCH_TEXTS or size + encoded > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += encoded
    if batch:
        yield batch
