"""A hand-driven peer for hostile tests: a real Session over a real TCP connection.

`HostilePeer` dials a real node on 127.0.0.1 with whatever identity the test chooses (a contact's,
or a throwaway one), completes the real handshake (XX, or IK when it is given the node's key),
and then sends exactly what the test says: record objects, raw record bytes that no record class
would build, or raw bytes on the socket. It reads back what the node sends as decoded records.
Every wait has a deadline; nothing in here sleeps.

    async with HostilePeer.connect(identity, node_address, remote_key=node.key) as peer:
        hello = await peer.recv_until(Hello)
        await peer.send(raw_envelope(env, sent_at=2**63 - 1))
        reason = await peer.wait_closed()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from p2pchat.core.codec import pack
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.messages import (
    ZERO_HASH,
    Envelope,
    Record,
    decode_record,
    dm_conversation_id,
    encode_record,
    encode_text,
)
from p2pchat.core.session import (
    Closed,
    Established,
    KeyMismatch,
    RecordReceived,
    Session,
    SessionConfig,
)
from p2pchat.node import Node

__all__ = ["HostilePeer", "PeerClosed", "envelope", "hostile_contact", "raw_envelope",
           "raw_hash"]

R = TypeVar("R")
READ_SIZE = 65536
DEFAULT_TIMEOUT = 10.0
MAX_SKIPPED = 1000  # recv_until gives up after this many other records


class PeerClosed(AssertionError):
    """The node ended the link while the test was still waiting for something from it."""


NOW_MS = 1_700_000_000_000


def envelope(node: Node, author: Identity, seq: int, text: str, prev: bytes = ZERO_HASH,
             sent_at: int = NOW_MS, lamport: int | None = None) -> Envelope:
    """`author`'s seq-th envelope in their 1:1 conversation with `node` (lamport = seq unless
    given)."""
    return Envelope(conv=dm_conversation_id(node.key, author.public_key),
                    author=author.public_key, seq=seq, lamport=seq if lamport is None else lamport,
                    sent_at=sent_at, prev=prev, body=encode_text(text))


async def hostile_contact(node: Node, name: str = "mallory") -> Identity:
    """Someone the node's user added as a contact, who then turns hostile."""
    identity = Identity.generate()
    await node.add_contact(fingerprint(identity.public_key), name)
    return identity


def raw_envelope(env: Envelope, **fields: object) -> bytes:
    """`env`'s record bytes with some fields replaced by values its class would refuse."""
    values = {
        "conv": env.conv, "author": env.author, "seq": env.seq, "lamport": env.lamport,
        "sent_at": env.sent_at, "prev": env.prev, "body": env.body, "sig": env.sig,
    }
    unknown = set(fields) - set(values)
    assert not unknown, f"Envelope has no field {unknown}"
    values.update(fields)
    return pack([Envelope.CODE, *values.values()])


def raw_hash(record: bytes) -> bytes:
    """What `envelope_hash` would give for these envelope bytes (the protocol's message id)."""
    return hashlib.blake2b(record, digest_size=32, person=b"p2pchat-env-v1").digest()


class HostilePeer:
    """One connection to a node, driven by hand. Build it with `HostilePeer.connect`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: Session, timeout: float) -> None:
        self.session = session
        self.timeout = timeout
        self._reader = reader
        self._writer = writer
        self._records: deque[bytes] = deque()
        self.established: Established | None = None
        self.key_mismatch: KeyMismatch | None = None
        self.closed_reason: str | None = None  # set once the link is over, whoever ended it
        self.sent = bytearray()  # every byte on the wire, each way (what an observer records)
        self.received = bytearray()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, identity: Identity, address: tuple[str, int], *,
                      remote_key: bytes | None = None, ik_timestamp: int | None = None,
                      handshake: bool = True, local_host: str | None = None,
                      timeout: float = DEFAULT_TIMEOUT,
                      psks: tuple[bytes, ...] = (),
                      config: SessionConfig | None = None) -> AsyncIterator[HostilePeer]:
        """Dial `address`; with `remote_key` the handshake is IK (falling back to XX), else XX.

        With `handshake=False` only the first handshake message is sent: the test drives the
        rest (or sends garbage instead). `local_host` picks the source address (any of
        127.0.0.0/8 on loopback), to play several hosts.
        """
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            *address, local_addr=None if local_host is None else (local_host, 0)), timeout)
        session = Session(
            identity=identity, initiator=True, now=_now(), remote_key=remote_key,
            ik_timestamp=time.time_ns() if ik_timestamp is None else ik_timestamp, psks=psks,
            **({} if config is None else {"config": config}),
        )
        peer = cls(reader, writer, session, timeout)
        try:
            peer._flush()
            if handshake:
                await peer.handshake()
            yield peer
        finally:
            peer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout)

    # -- waiting ---------------------------------------------------------------------------------

    async def handshake(self, timeout: float | None = None) -> Established:
        """Wait until the handshake is done; PeerClosed if the node refused it."""
        await self._until(lambda: self.established is not None, timeout, "the handshake")
        assert self.established is not None
        return self.established

    async def recv_bytes(self, timeout: float | None = None) -> bytes:
        """The next record the node sent, as its bytes."""
        await self._until(lambda: bool(self._records), timeout, "a record")
        return self._records.popleft()

    async def recv(self, timeout: float | None = None) -> Record:
        """The next record the node sent, decoded."""
        return decode_record(await self.recv_bytes(timeout))

    async def recv_until(self, kind: type[R], timeout: float | None = None) -> R:
        """The next record of type `kind`, skipping others (all within one deadline)."""
        deadline = _now() + (self.timeout if timeout is None else timeout)
        for _ in range(MAX_SKIPPED):
            record = await self.recv(max(0.0, deadline - _now()))
            if isinstance(record, kind):
                return record
        raise AssertionError(f"no {kind.__name__} among {MAX_SKIPPED} records")

    async def wait_closed(self, timeout: float | None = None) -> str:
        """Read (and drop) whatever comes until the node ends the link; its reason, if it gave
        one (a CLOSE message), else how the connection ended."""
        with contextlib.suppress(PeerClosed):
            await self._until(lambda: False, timeout, "the node to close the link")
        assert self.closed_reason is not None
        return self.closed_reason

    # -- sending ---------------------------------------------------------------------------------

    async def send(self, record: Record | bytes) -> None:
        """Send one record: a record object, or any bytes as one record's content."""
        data = record if isinstance(record, bytes) else encode_record(record)
        self.session.send_record(data, _now())
        self._flush()
        await asyncio.wait_for(self._writer.drain(), self.timeout)

    async def send_many(self, records: list[Record | bytes]) -> None:
        """Send many records in one write, as a flood arrives: all in one read at the node."""
        for record in records:
            data = record if isinstance(record, bytes) else encode_record(record)
            self.session.send_record(data, _now())
        self._flush()
        await asyncio.wait_for(self._writer.drain(), self.timeout)

    async def send_wire(self, data: bytes) -> None:
        """Write `data` to the socket as it is, past the session (forged or broken frames)."""
        self._writer.write(data)
        await asyncio.wait_for(self._writer.drain(), self.timeout)

    def close(self, reason: str = "test peer done") -> None:
        """Close cleanly (an authenticated CLOSE if established), then the socket."""
        self.session.close(reason)
        self._flush()
        self._writer.close()
        if self.closed_reason is None:
            self.closed_reason = f"closed by us: {reason}"

    # -- plumbing --------------------------------------------------------------------------------

    def _flush(self) -> None:
        data = self.session.data_to_send()
        if data and not self._writer.is_closing():
            self.sent += data
            self._writer.write(data)

    async def _until(self, done: Callable[[], bool], timeout: float | None, what: str) -> None:
        deadline = _now() + (self.timeout if timeout is None else timeout)
        while not done():
            if self.closed_reason is not None:
                raise PeerClosed(f"link closed while waiting for {what}: {self.closed_reason}")
            remaining = deadline - _now()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            try:
                data = await asyncio.wait_for(self._reader.read(READ_SIZE), remaining)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}") from None
            except (ConnectionError, OSError) as exc:
                self.closed_reason = f"connection error: {exc.__class__.__name__}"
                continue
            self.received += data
            self._handle(self.session.receive_data(data, _now()))
            self._flush()
            if not data and self.closed_reason is None:
                self.closed_reason = "connection closed by the node"

    def _handle(self, events: list[object]) -> None:
        for event in events:
            if isinstance(event, Established):
                self.established = event
            elif isinstance(event, RecordReceived):
                self._records.append(event.record)
            elif isinstance(event, KeyMismatch):
                self.key_mismatch = event
            elif isinstance(event, Closed):
                self.closed_reason = event.reason


def _now() -> float:
    return asyncio.get_running_loop().time()
