"""The limits of records' fields and the checks every record runs on its fields.

Shared by the 1:1 and sync records (`core/messages.py`) and the group records
(`core/group_messages.py`); every check raises `ProtocolError` saying what was wrong.
"""

from __future__ import annotations

from p2pchat.core.errors import ProtocolError
from p2pchat.core.text import name_problem, text_problem
from p2pchat.core.timestamps import MAX_TIMESTAMP_MS

# --- limits -------------------------------------------------------------------------------------

CONV_ID_LEN = 16
KEY_LEN = 32  # Ed25519 public key
HASH_LEN = 32  # BLAKE2b-256
SIG_LEN = 64  # Ed25519 signature
ZERO_HASH = bytes(HASH_LEN)  # prev of an author's first envelope

# Largest int on the wire. Signed 64-bit so the SQLite store can keep every value as INTEGER.
MAX_INT = 2**63 - 1
# Envelope.sent_at: the last millisecond of the year 9999. Anything later cannot be shown as a
# date, and a record that a view cannot render must never get into a store.
MAX_SENT_AT = MAX_TIMESTAMP_MS
MAX_NOTE_CHARS = 280
MAX_BODY_LEN = 64 * 1024
MAX_TEXT_BYTES = 16 * 1024
MAX_PORTS = 8
# A SyncRequest covers at most this many seqs (last - first < MAX_REQUEST_SPAN).
MAX_REQUEST_SPAN = 1024
# Revision 4 (docs/protocol.md 8.10, 12): a group holds up to 1,024 members, so its vectors,
# digests, invitation heads and checkpoints grow past what revision 3 decoded; each larger limit
# has its revision-3 value beside it, and a record over one of those goes only to peers that
# announced revision 4 (`core/record_revisions.py`).
MAX_VECTOR_AUTHORS = 2048  # a group log's authors: up to 1,024 members and as many who left
REVISION_3_VECTOR_AUTHORS = 256
# Largest record: the worst invitation of a 1,024-member group (a checkpoint with every
# member's row and span, 48 ops, 2,048 heads) is about 600 KB; 1 MiB is also the session's
# `max_record` (4.2), so the link's reassembly buffer, which bounds what a peer makes us hold,
# is no larger than before. Anything bigger is refused before it is parsed.
MAX_RECORD_LEN = 1 << 20
# Revision 3's largest record: an Envelope with a full body plus its fixed fields fits easily.
REVISION_3_RECORD_LEN = MAX_BODY_LEN + 4096
# Strings in records are names/notes; 4 bytes per char is the UTF-8 worst case.
MAX_RECORD_STR_BYTES = 4 * MAX_NOTE_CHARS
MAX_RECORD_FIELDS = 16
# Groups: an invitation carries at most this many ops (from op 1 while the chain is that short,
# from a checkpoint after: protocol 8.14), and a checkpoint this many key commitments.
MAX_GROUP_OPS = 100
# Rows of a group record: a GroupDigest's or GroupInvite's heads (one per author of the
# vector), a GroupCheckpoint's member and span rows. Revision 3 allowed 100 of each.
MAX_GROUP_ROWS = MAX_VECTOR_AUTHORS
REVISION_3_ROWS = MAX_GROUP_OPS
GROUP_KEY_LEN = 32  # XChaCha20-Poly1305 key
GROUP_KEY_CHECK_LEN = 16  # commitment to an epoch key, carried in the signed op
# The largest array a record may hold: its fields, or a group record's rows.
MAX_RECORD_ARRAY = max(MAX_RECORD_FIELDS, MAX_GROUP_ROWS)
# Arrays and maps one record may hold in all: a decoded empty array costs ~56 bytes of memory
# for one byte on the wire, so the count bounds what 1 MiB of them can make us allocate. The
# worst honest record (an invitation with 2,048 heads and a full checkpoint) has ~4,300.
MAX_RECORD_CONTAINERS = 8192
# Records that may be longer than revision 3's cap: the ones that grow with a group (7).
LARGE_RECORD_CODES = frozenset({17, 33, 38, 43})  # vector, invitation, digest, checkpoint

# Domain separation for every hash this module defines (BLAKE2b person is at most 16 bytes).
PERSON_ENVELOPE = b"p2pchat-env-v1"
PERSON_DM = b"p2pchat-dm-v1"



# --- field validators (all raise ProtocolError) -------------------------------------------------


def check_int(what: str, value: object, minimum: int = 0, maximum: int = MAX_INT) -> int:
    # `type(...) is int` because bool is an int subclass and must not pass for a number.
    if type(value) is not int:
        raise ProtocolError(f"{what}: expected int, got {type(value).__name__}")
    if value < minimum or value > maximum:
        raise ProtocolError(f"{what}: {value} outside [{minimum}, {maximum}]")
    return value


def check_bytes(what: str, value: object, *, exact: int | None = None, maximum: int = 0) -> bytes:
    if type(value) is not bytes:
        raise ProtocolError(f"{what}: expected bytes, got {type(value).__name__}")
    if exact is not None and len(value) != exact:
        raise ProtocolError(f"{what}: expected {exact} bytes, got {len(value)}")
    if exact is None and len(value) > maximum:
        raise ProtocolError(f"{what}: {len(value)} bytes exceeds the limit of {maximum}")
    return value


def check_str(what: str, value: object, max_chars: int, *, newlines: bool = False) -> str:
    if type(value) is not str:
        raise ProtocolError(f"{what}: expected str, got {type(value).__name__}")
    problem = text_problem(value, max_chars, newlines=newlines)
    if problem is not None:
        raise ProtocolError(f"{what}: {problem}")
    return value


def check_name(what: str, value: object) -> str:
    if type(value) is not str:
        raise ProtocolError(f"{what}: expected str, got {type(value).__name__}")
    problem = name_problem(value)
    if problem is not None:
        raise ProtocolError(f"{what}: {problem}")
    return value
