"""The SQLite schema of a home's store, as the migrations that build it (`PRAGMA user_version`).

`Store` (storage/store.py) runs `MIGRATIONS[i]` to take a database from version i to i+1, all of
them in one transaction. Never edit a migration that has shipped; add the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

APPLICATION_ID: Final = 0x50324348  # "P2CH" in PRAGMA application_id: this file is ours

# STRICT tables make SQLite reject a value of the wrong type instead of storing it silently.
_V1: Final[tuple[str, ...]] = (
    f"PRAGMA application_id = {APPLICATION_ID}",
    """
    CREATE TABLE contacts (
        key        BLOB PRIMARY KEY CHECK (length(key) = 32),
        name       TEXT NOT NULL,
        -- casefolded name: SQLite's NOCASE folds ASCII only, so uniqueness is enforced on a
        -- Python-folded copy instead
        name_fold  TEXT NOT NULL UNIQUE,
        state      TEXT NOT NULL CHECK (state IN ('contact', 'request', 'blocked')),
        note       TEXT NOT NULL DEFAULT '',
        addrs      TEXT NOT NULL DEFAULT '[]',  -- JSON list of "host:port"
        created_at INTEGER NOT NULL,
        last_seen  INTEGER
    ) STRICT
    """,
    """
    CREATE TABLE ik_timestamps (
        key BLOB PRIMARY KEY CHECK (length(key) = 32),
        ts  INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID
    """,
    """
    CREATE TABLE conversations (
        id         BLOB PRIMARY KEY CHECK (length(id) = 16),
        kind       TEXT NOT NULL CHECK (kind IN ('dm', 'group')),
        peer       BLOB UNIQUE CHECK (peer IS NULL OR length(peer) = 32),
        title      TEXT,
        created_at INTEGER NOT NULL,
        CHECK ((kind = 'dm') = (peer IS NOT NULL))
    ) STRICT
    """,
    """
    CREATE TABLE messages (
        conv        BLOB NOT NULL REFERENCES conversations (id),
        author      BLOB NOT NULL CHECK (length(author) = 32),
        seq         INTEGER NOT NULL CHECK (seq >= 1),  -- logs start at seq 1
        lamport     INTEGER NOT NULL,
        sent_at     INTEGER NOT NULL,
        hash        BLOB NOT NULL CHECK (length(hash) = 32),
        received_at INTEGER NOT NULL,
        own         INTEGER NOT NULL CHECK (own IN (0, 1)),
        sent        INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1)),
        sealed      BLOB NOT NULL,  -- SecretBox(encode_record(envelope))
        PRIMARY KEY (conv, author, seq)
    ) STRICT  -- a rowid table: rows carry blobs up to 64 KiB, which WITHOUT ROWID handles badly
    """,
    # display order; also serves "newest N" by walking it backwards
    "CREATE INDEX messages_order ON messages (conv, lamport, author, seq)",
    """
    CREATE TABLE peer_seqs (
        conv   BLOB NOT NULL REFERENCES conversations (id),
        peer   BLOB NOT NULL CHECK (length(peer) = 32),
        author BLOB NOT NULL CHECK (length(author) = 32),
        seq    INTEGER NOT NULL,
        PRIMARY KEY (conv, peer, author)
    ) STRICT, WITHOUT ROWID
    """,
    # Groups came in v3 (below). Messages and peer_seqs key on conv and author, so group
    # conversations reuse them unchanged.
)

# v2: nothing on the per-message path may walk a conversation's history (issue #16).
_V2: Final[tuple[str, ...]] = (
    # Only own messages not yet written to a link: what mark_sent searches. It holds the queue,
    # not the history, so marking one message sent touches one entry however long the log is.
    "CREATE INDEX messages_unsent ON messages (conv, author, seq) WHERE own = 1 AND sent = 0",
    # Each author's newest seq and its hash per conversation (the version vector and the prev
    # of the next seq), kept by insert_envelope so that heads() reads one row per author instead
    # of grouping every message. A head moves back only when a group's op cuts a removed
    # member's log (truncate_log).
    """
    CREATE TABLE log_heads (
        conv   BLOB NOT NULL REFERENCES conversations (id),
        author BLOB NOT NULL CHECK (length(author) = 32),
        seq    INTEGER NOT NULL CHECK (seq >= 1),
        hash   BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (conv, author)
    ) STRICT, WITHOUT ROWID
    """,
    # Existing homes: one pass over the history, once. A bare column next to max() comes from
    # the row holding the max (SQLite guarantees this).
    """
    INSERT INTO log_heads (conv, author, seq, hash)
    SELECT conv, author, max(seq), hash FROM messages GROUP BY conv, author
    """,
)

# v3: groups (docs/protocol.md section 8). The group's state (title, owner, epoch, members) is
# rebuilt at start from its op chain, so only the chain, the keys and what the chain cannot say
# are stored. A group's messages and heads live in messages / log_heads like a dm's; a member
# that joined from an invitation starts its heads where the invitation said (group_start).
_V3: Final[tuple[str, ...]] = (
    """
    CREATE TABLE groups (
        conv    BLOB PRIMARY KEY REFERENCES conversations (id),
        lamport INTEGER NOT NULL DEFAULT 0,  -- the invitation's clock: ours starts there
        left    INTEGER NOT NULL DEFAULT 0 CHECK (left IN (0, 1))
    ) STRICT, WITHOUT ROWID
    """,
    # Each op's exact record bytes, sealed like messages (they carry names and the title).
    """
    CREATE TABLE group_ops (
        conv   BLOB NOT NULL REFERENCES groups (conv),
        number INTEGER NOT NULL CHECK (number >= 1),
        sealed BLOB NOT NULL,
        PRIMARY KEY (conv, number)
    ) STRICT, WITHOUT ROWID
    """,
    """
    CREATE TABLE group_keys (
        conv   BLOB NOT NULL REFERENCES groups (conv),
        epoch  INTEGER NOT NULL CHECK (epoch >= 1),
        sealed BLOB NOT NULL,
        PRIMARY KEY (conv, epoch)
    ) STRICT, WITHOUT ROWID
    """,
    """
    CREATE TABLE group_start (
        conv   BLOB NOT NULL REFERENCES groups (conv),
        author BLOB NOT NULL CHECK (length(author) = 32),
        seq    INTEGER NOT NULL CHECK (seq >= 1),
        hash   BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (conv, author)
    ) STRICT, WITHOUT ROWID
    """,
    # Signed leave requests we pass on until the owner enacts them: one per member.
    """
    CREATE TABLE group_leaves (
        conv   BLOB NOT NULL REFERENCES groups (conv),
        member BLOB NOT NULL CHECK (length(member) = 32),
        record BLOB NOT NULL,
        PRIMARY KEY (conv, member)
    ) STRICT, WITHOUT ROWID
    """,
    # Owner only: invitations not yet handed over (the invitee was offline), sealed, as made
    # when the member was added: the log heads of that moment are where the invitee starts.
    """
    CREATE TABLE group_invites (
        conv   BLOB NOT NULL REFERENCES groups (conv),
        member BLOB NOT NULL CHECK (length(member) = 32),
        sealed BLOB NOT NULL,
        PRIMARY KEY (conv, member)
    ) STRICT, WITHOUT ROWID
    """,
)

# v4: groups hold against a hostile member (issue 22, docs/protocol.md 7.2 and 8).
_V4: Final[tuple[str, ...]] = (
    # The backdating floor members' vectors set (docs/protocol.md 7.2, "No backdating"): the
    # member's own seq in its highest vector and the highest lamport that vector acknowledged.
    """
    CREATE TABLE group_floors (
        conv    BLOB NOT NULL REFERENCES groups (conv),
        member  BLOB NOT NULL CHECK (length(member) = 32),
        own_seq INTEGER NOT NULL CHECK (own_seq >= 0),
        lamport INTEGER NOT NULL CHECK (lamport >= 0),
        PRIMARY KEY (conv, member)
    ) STRICT, WITHOUT ROWID
    """,
    # Proof that an author signed two different envelopes at one seq: both records, sealed.
    """
    CREATE TABLE equivocations (
        conv     BLOB NOT NULL REFERENCES groups (conv),
        author   BLOB NOT NULL CHECK (length(author) = 32),
        seq      INTEGER NOT NULL CHECK (seq >= 1),
        sealed   BLOB NOT NULL,
        found_at INTEGER NOT NULL,
        PRIMARY KEY (conv, author, seq)
    ) STRICT, WITHOUT ROWID
    """,
    # Invitations waiting for the user's yes or no: the GroupInvite record, sealed.
    """
    CREATE TABLE group_invitations (
        conv        BLOB PRIMARY KEY CHECK (length(conv) = 16),
        inviter     BLOB NOT NULL CHECK (length(inviter) = 32),
        sealed      BLOB NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID
    """,
)

# v6 (issue 24): how far each fellow member holds our own log in a group, from its vectors: the
# `delivered_to` of our group messages. One row per member: bounded by the membership.
_V6: Final[tuple[str, ...]] = (
    """
    CREATE TABLE group_receipts (
        conv   BLOB NOT NULL CHECK (length(conv) = 16),
        member BLOB NOT NULL CHECK (length(member) = 32),
        seq    INTEGER NOT NULL CHECK (seq >= 0),
        PRIMARY KEY (conv, member)
    ) STRICT, WITHOUT ROWID
    """,
    # The checkpoint a group's chain starts at once its early ops are dropped (protocol 8.14):
    # a GroupCheckpoint record, sealed. One row per group.
    """
    CREATE TABLE group_base (
        conv   BLOB PRIMARY KEY CHECK (length(conv) = 16),
        sealed BLOB NOT NULL
    ) STRICT, WITHOUT ROWID
    """,
    # Each membership change as a line of the conversation (`log`): when we applied the op,
    # what it did and to whom (the name it was shown under then). Dropped with the group.
    """
    CREATE TABLE group_changes (
        conv   BLOB NOT NULL CHECK (length(conv) = 16),
        number INTEGER NOT NULL CHECK (number >= 1),
        at     INTEGER NOT NULL,
        change TEXT NOT NULL,
        member BLOB NOT NULL CHECK (length(member) = 32),
        name   TEXT NOT NULL,
        PRIMARY KEY (conv, number)
    ) STRICT, WITHOUT ROWID
    """,
)


# v7 (issue 23): who made each membership change (an add's inviter, NULL when not known: rows
# written before v7), and which invitations were accepted: an added member is "invited" until
# it is seen holding the group (its sync, or an envelope it wrote), then "joined". One row per
# add op at most: bounded by the chain we hold. Rows before v7 count as accepted, as shown then.
_V7: Final[tuple[str, ...]] = (
    "ALTER TABLE group_changes ADD COLUMN by_key BLOB"
    " CHECK (by_key IS NULL OR length(by_key) = 32)",
    """
    CREATE TABLE group_joins (
        conv   BLOB NOT NULL CHECK (length(conv) = 16),
        number INTEGER NOT NULL CHECK (number >= 1),
        at     INTEGER NOT NULL,
        PRIMARY KEY (conv, number)
    ) STRICT, WITHOUT ROWID
    """,
    "INSERT INTO group_joins (conv, number, at) SELECT conv, number, at FROM group_changes"
    " WHERE change IN ('add', 'create')",
)

# v8 (trial 4, B1): the state a blocked contact had before the block, which unblocking restores:
# a blocked request (an impostor's, say) must come back as a request, never as a contact. With
# no row (keys blocked before v8, or by fingerprint alone) unblocks as a request.
# A row per blocked key with a known state before the block; storage/contacts.py owns it.
_V8: Final[tuple[str, ...]] = (
    """
    CREATE TABLE blocked_from (
        key   BLOB PRIMARY KEY CHECK (length(key) = 32),
        state TEXT NOT NULL CHECK (state IN ('contact', 'request'))
    ) STRICT, WITHOUT ROWID
    """,
)

# v9: the name each contact announces for itself (its Hello), casefolded; storage/announced.py
# owns it. Kept so a new key under a verified contact's own name is flagged after a restart.
_V9: Final[tuple[str, ...]] = (
    """
    CREATE TABLE announced_names (
        key  BLOB PRIMARY KEY CHECK (length(key) = 32),
        fold TEXT NOT NULL
    ) STRICT, WITHOUT ROWID
    """,
)

# v10 (trial 12, B10 and B15): whether we asked a contact and its node has never yet said it has
# us (a Hello with knows_you): "asked, waiting" on every screen, across restarts, where the node
# kept nothing and said "offline". Rows before v10: asked when nothing says they met us (no
# link ended, nothing from them in our conversation, no vector of theirs, no request note: a
# request carries one). Each test is an index lookup (conversations.peer, then the keys of
# messages and peer_seqs), not a walk of the history.
_V10: Final[tuple[str, ...]] = (
    "ALTER TABLE contacts ADD COLUMN asked INTEGER NOT NULL DEFAULT 0 CHECK (asked IN (0, 1))",
    """
    UPDATE contacts SET asked = 1
    WHERE state = 'contact' AND last_seen IS NULL AND note = ''
      AND NOT EXISTS (SELECT 1 FROM conversations c JOIN messages m
                      ON m.conv = c.id AND m.author = c.peer WHERE c.peer = contacts.key)
      AND NOT EXISTS (SELECT 1 FROM conversations c JOIN peer_seqs p
                      ON p.conv = c.id AND p.peer = c.peer WHERE c.peer = contacts.key)
    """,
)

# v11 (trial 14c, B6): the contacts whose node said, at its last Hello, that it has our request
# and has not added us (`awaits_answer`): "asked, waiting" after our restart too, until a
# link says otherwise; the header had gone back to "your request waits here". A row goes when
# their node knows us, or the contact goes (storage/contacts.py).
_V11: Final[tuple[str, ...]] = (
    """
    CREATE TABLE requests_held (
        key BLOB PRIMARY KEY CHECK (length(key) = 32)
    ) STRICT, WITHOUT ROWID
    """,
)

# Files (docs/protocol.md section 13): one row per transfer, each way. storage/files.py owns
# the statements. `hashes` is the verified chunk hash list, `have` one bit per verified chunk
# (both NULL until known); `path` is where the file is read from (sending) or was saved
# (received), `part` the partial file a download writes to; `conv` the group a file was offered
# in (NULL between two contacts), `peer` then its author.
_FILES: Final[tuple[str, ...]] = (
    """
    CREATE TABLE files (
        id           BLOB NOT NULL CHECK (length(id) = 16),
        peer         BLOB NOT NULL CHECK (length(peer) = 32),
        outgoing     INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
        name         TEXT NOT NULL,
        size         INTEGER NOT NULL CHECK (size >= 0),
        root         BLOB NOT NULL CHECK (length(root) = 32),
        state        TEXT NOT NULL,
        path         TEXT NOT NULL DEFAULT '',
        part         TEXT NOT NULL DEFAULT '',
        hashes       BLOB,
        have         BLOB,
        received     INTEGER NOT NULL DEFAULT 0,
        resumed_from INTEGER NOT NULL DEFAULT 0,
        error        TEXT NOT NULL DEFAULT '',
        created_at   INTEGER NOT NULL,
        conv         BLOB CHECK (conv IS NULL OR length(conv) = 16),  -- a group's offer
        PRIMARY KEY (peer, id, outgoing)
    ) STRICT
    """,
)


# v12 (trial 14c, B1): a request that ever came under the name of one of our contacts stays a
# look-alike whatever it renames itself to: the name it claimed first and whose name that was
# (storage/lookalikes.py). Keyed by the request's key; the contact it named may go later.
_V12: Final[tuple[str, ...]] = (
    """
    CREATE TABLE lookalikes (
        key      BLOB PRIMARY KEY CHECK (length(key) = 32),
        claimed  TEXT NOT NULL,
        namesake BLOB NOT NULL CHECK (length(namesake) = 32)
    ) STRICT, WITHOUT ROWID
    """,
)


def migration(statements: Sequence[str]) -> Callable[[sqlite3.Connection], None]:
    def migrate(conn: sqlite3.Connection) -> None:
        # Statement by statement, not executescript(): executescript() COMMITs first, which
        # would break the all-or-nothing migration transaction.
        for sql in statements:
            conn.execute(sql)

    return migrate


# MIGRATIONS[i] upgrades user_version i to i+1. To add v4: append `migration(_V4)` (or a function
# that transforms data). Never edit a migration that has shipped.
MIGRATIONS: Final[tuple[Callable[[sqlite3.Connection], None], ...]] = (
    migration(_V1),
    migration(_V2),
    migration(_V3),
    migration(_V4),
    migration(_FILES),
    migration(_V6),
    migration(_V7),
    migration(_V8),
    migration(_V9),
    migration(_V10),
    migration(_V11),
    migration(_V12),
)
