"""A real `p2pchat relay` process and hand-built clients (real Session over real TCP)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity, x25519_from_ed25519_public
from p2pchat.core.relay_messages import (
    MAX_DATA,
    REFUSED_QUEUE_FULL,
    Attach,
    NotHere,
    Refused,
    Send,
    encode_relay_record,
)
from p2pchat.core.session import Established, Event, RecordReceived, Session, SessionConfig
from tests.aio import until
from tests.cli import assert_clean_failure, run
from tests.relay_client import RelayClient, RelayProcess

pytestmark = pytest.mark.timeout(120)

StartRelay = Callable[..., RelayProcess]
SECRET_AB = b"the eagle lands at midnight: alpha-bravo-7731"
SECRET_BA = b"copy that, bringing the cake: bravo-alpha-2219"


@pytest.fixture
def start_relay(tmp_path: Path) -> Iterator[StartRelay]:
    relays: list[RelayProcess] = []

    def start(*extra: str, name: str = "relay") -> RelayProcess:
        relay = RelayProcess(tmp_path / name).start(*extra)
        relays.append(relay)
        return relay

    yield start
    for relay in relays:
        relay.close()


async def attach(relay: RelayProcess, *, ik: bool = True, port: int | None = None,
                 identity: Identity | None = None) -> RelayClient:
    return await RelayClient(identity).connect("127.0.0.1", port or relay.port,
                                               relay_key=relay.key if ik else None)


class Recorder:
    """A TCP forwarder between a client and the relay that keeps every byte it passes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.seen = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> Recorder:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _on_client(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._tasks += [asyncio.current_task()]  # type: ignore[list-item]
        await asyncio.gather(self._copy(reader, up_writer), self._copy(up_reader, writer),
                             return_exceptions=True)

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.seen += data
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


def push(client: RelayClient, to: bytes, session: Session) -> None:
    """Everything the end-to-end session has to send, as relay frames to `to`."""
    data = session.data_to_send()
    for start in range(0, len(data), MAX_DATA):
        client.send(to, data[start : start + MAX_DATA])


async def feed(client: RelayClient, sender: bytes, session: Session) -> list[Event]:
    delivery = await client.next_delivery()
    assert delivery.sender == sender
    return session.receive_data(delivery.data, asyncio.get_running_loop().time())


async def test_two_clients_talk_both_ways_and_run_their_own_session_inside(
    start_relay: StartRelay,
) -> None:
    relay = start_relay()
    rec_a, rec_b = await Recorder(relay.port).start(), await Recorder(relay.port).start()
    a = await attach(relay, port=rec_a.port)  # IK: a knows the relay's key
    b = await attach(relay, port=rec_b.port, ik=False)  # XX: first contact
    try:
        # Frames both ways, as opaque data.
        a.send(b.key, b"frame one a->b")
        a.send(b.key, b"frame two a->b")
        b.send(a.key, b"frame one b->a")
        assert [(await b.next_delivery()).data for _ in range(2)] == \
            [b"frame one a->b", b"frame two a->b"]
        got = await a.next_delivery()
        assert (got.sender, got.stream, got.data) == (b.key, 1, b"frame one b->a")

        # An end-to-end Noise session (IK: a knows b's key) inside the frames.
        now = asyncio.get_running_loop().time()
        sa = Session(identity=a.identity, initiator=True, now=now, remote_key=b.key,
                     ik_timestamp=1)
        sb = Session(identity=b.identity, initiator=False, now=now)
        push(a, b.key, sa)
        assert await feed(b, a.key, sb) == []  # IK1: b waits for key confirmation
        push(b, a.key, sb)
        assert any(isinstance(e, Established) for e in await feed(a, b.key, sa))
        push(a, b.key, sa)  # a's key confirmation
        assert any(isinstance(e, Established) for e in await feed(b, a.key, sb))
        sa.send_record(SECRET_AB, now)
        push(a, b.key, sa)
        assert RecordReceived(SECRET_AB) in await feed(b, a.key, sb)
        sb.send_record(SECRET_BA, now)
        push(b, a.key, sb)
        assert RecordReceived(SECRET_BA) in await feed(a, b.key, sa)
        big = os.urandom(200_000)  # several frames, reassembled in order
        sa.send_record(big, now)
        push(a, b.key, sa)
        events: list[Event] = []
        while not events:  # bounded: each feed waits at most WAIT for a frame
            events = await feed(b, a.key, sb)
        assert events == [RecordReceived(big)]

        relay.status_where(lambda s: s["clients"] == 2 and s["frames_forwarded"] >= 9
                           and s["bytes_forwarded"] > len(big), "the forwarded counts")
        human = run(relay.home, "relay", "status", check=True).stdout
        assert "clients attached: 2" in human and "running" in human
    finally:
        await a.close()
        await b.close()
        await rec_a.close()
        await rec_b.close()

    seen = bytes(rec_a.seen + rec_b.seen)
    assert len(seen) > len(big)  # the recorders really carried the traffic
    for secret in (SECRET_AB, SECRET_BA, big[:64], a.key, b.key,
                   x25519_from_ed25519_public(a.key), x25519_from_ed25519_public(b.key),
                   b"frame one a->b"):
        assert secret not in seen
    assert relay.stop() == 0
    output = relay.output()
    assert "paste into a node: --relay 127.0.0.1:" in output
    assert "without a passphrase" in output
    for secret in (SECRET_AB, SECRET_BA, b"frame one a->b"):
        assert secret.decode() not in output
    for key in (a.key, b.key):
        assert key.hex()[:16] not in output
        assert a.identity.fingerprint[:15] not in output and b.identity.fingerprint[:15] \
            not in output
    final = relay.read_status()
    assert final is not None and final["running"] is False


async def test_a_frame_to_a_key_nobody_holds_is_answered_not_here(
    start_relay: StartRelay,
) -> None:
    relay = start_relay()
    a = await attach(relay)
    try:
        nobody = Identity.generate().public_key
        a.send(nobody, b"hello?", stream=7)
        assert await a.next_record() == NotHere(nobody, 7)
    finally:
        await a.close()


async def test_random_bytes_on_the_port_leave_the_relay_forwarding(
    start_relay: StartRelay,
) -> None:
    relay = start_relay("--attach-timeout", "1")
    a, b = await attach(relay), await attach(relay)
    try:
        # Garbage frames are refused at once; a partial frame or a bogus first handshake
        # message (answered "retry with XX") waits for its attach deadline.
        for junk in (os.urandom(5000), b"\x00\x00", b"\xff\xff" + os.urandom(70000),
                     struct.pack(">H", 40) + b"\x11" + os.urandom(39), b"GET / HTTP/1.0\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(junk)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
                # The relay closes a garbage connection: EOF (or a reset) ends this read.
                await asyncio.wait_for(reader.read(), 20)
            writer.close()
        a.send(b.key, b"still here")
        assert (await b.next_delivery()).data == b"still here"
        status = relay.status_where(lambda s: s["refusals"]["protocol_error"] >= 2
                                    and s["refusals"]["attach_timeout"] >= 1,
                                    "refusals counted")
        assert status["last_protocol_error"]  # what the last one was (trial 4, B16)
        said = run(relay.home, "relay", "status", check=True).stdout
        assert "  protocol_error: connections cut for something the client got wrong" in said
        assert f"(the last: {status['last_protocol_error']})" in said, said
        assert "  attach_timeout: connections cut: no handshake and attach in time" in said
    finally:
        await a.close()
        await b.close()


async def test_private_relay_admits_only_allowed_keys(start_relay: StartRelay) -> None:
    alice = Identity.generate()
    relay = start_relay("--allow", alice.fingerprint)
    a = await attach(relay, identity=alice)
    assert a.attached is not None
    stranger = RelayClient()
    await stranger.connect("127.0.0.1", relay.port, relay_key=relay.key, attach=False)
    assert "allow-list" in await stranger.wait_closed()
    await a.close()
    relay.status_where(lambda s: s["refusals"]["not_allowed"] == 1, "the refusal counted")


def test_a_bad_allow_fingerprint_is_a_clean_error(tmp_path: Path) -> None:
    proc = run(tmp_path / "r", "relay", "--allow", "NOT-A-FINGERPRINT", "--no-mdns")
    assert_clean_failure(proc)
    assert "--allow" in proc.stderr


async def test_clients_per_address(start_relay: StartRelay) -> None:
    relay = start_relay("--max-clients-per-host", "1")
    a = await attach(relay)
    b = RelayClient()
    await b.connect("127.0.0.1", relay.port, relay_key=relay.key, attach=False)
    await until(lambda: b._session is not None and b._session.established, 20)
    b.send_record(Attach())
    assert "too many clients from your address" in await b.wait_closed()
    relay.status_where(lambda s: s["refusals"]["host_full"] == 1, "the refusal counted")
    await a.close()


async def test_max_clients(start_relay: StartRelay) -> None:
    relay = start_relay("--max-clients", "1")
    a = await attach(relay)
    b = RelayClient()
    await b.connect("127.0.0.1", relay.port, relay_key=relay.key, attach=False)
    await until(lambda: b._session is not None and b._session.established, 20)
    b.send_record(Attach())
    assert "relay full" in await b.wait_closed()
    # The same key coming back replaces its old connection: it never counts twice.
    a2 = await attach(relay, identity=a.identity)
    assert "replaced" in await a.wait_closed()
    assert a2.attached is not None
    await a2.close()


async def test_strangers_in_handshakes_cannot_take_client_slots(
    start_relay: StartRelay,
) -> None:
    relay = start_relay("--max-pending", "3", "--max-clients", "2", "--attach-timeout", "1")
    a, b = await attach(relay), await attach(relay)
    try:
        # Strangers open connections and never finish a handshake.
        strangers = [await asyncio.open_connection("127.0.0.1", relay.port) for _ in range(4)]
        # The fourth is over the pending budget: the oldest makes room, closed with nothing
        # sent (it never finished a handshake).
        assert await asyncio.wait_for(strangers[0][0].read(), 20) == b""
        # The attached clients keep their slots and keep talking.
        a.send(b.key, b"we are fine")
        assert (await b.next_delivery()).data == b"we are fine"
        # The others are cut when their attach deadline passes.
        for reader, _ in strangers[1:]:
            assert await asyncio.wait_for(reader.read(), 20) == b""
        for _, writer in strangers:
            writer.close()
        relay.status_where(lambda s: s["refusals"]["pending_full"] == 1
                           and s["refusals"]["attach_timeout"] == 3 and s["clients"] == 2,
                           "the budgets' counts")
    finally:
        await a.close()
        await b.close()


async def test_handshake_done_but_no_attach_is_cut(start_relay: StartRelay) -> None:
    relay = start_relay("--attach-timeout", "0.5")
    lurker = RelayClient()
    await lurker.connect("127.0.0.1", relay.port, relay_key=relay.key, attach=False)
    await lurker.wait_closed()
    relay.status_where(lambda s: s["refusals"]["attach_timeout"] == 1, "the timeout counted")


async def test_idle_client_is_cut(start_relay: StartRelay) -> None:
    relay = start_relay("--idle-timeout", "0.6")
    a = await attach(relay)  # never ticks its session: sends no keepalives
    assert "idle timeout" in await a.wait_closed()
    relay.status_where(lambda s: s["refusals"]["idle_timeout"] == 1, "the timeout counted")


async def test_frame_over_the_limit_closes_the_sender(start_relay: StartRelay) -> None:
    relay = start_relay("--max-frame", "1000")
    a, b = await attach(relay), await attach(relay)
    assert a.attached is not None and a.attached.max_data == 1000
    a.send(b.key, bytes(1000))
    assert len((await b.next_delivery()).data) == 1000
    a.send(b.key, bytes(1001))
    assert "over the limit" in await a.wait_closed()
    # A record bigger than one relay frame is refused by the relay's session itself.
    big = RelayClient(config=SessionConfig(max_record=1 << 20))
    await big.connect("127.0.0.1", relay.port, relay_key=relay.key)
    big.send_raw_record(encode_relay_record(Send(b.key, 1, bytes(100))) + bytes(70_000))
    assert "over the limit" in await big.wait_closed()
    await b.close()


async def test_a_record_that_is_not_a_bucket_size_closes_the_sender(
        start_relay: StartRelay) -> None:
    relay = start_relay()
    a, b = await attach(relay), await attach(relay)
    padded = encode_relay_record(Send(b.key, 1, b"hi"))
    a.send_raw_record(padded)
    assert (await b.next_delivery()).data == b"hi"
    # The same Send with one byte of padding less: well formed, but not a bucket size, so an
    # observer could tell its length. A protocol error, never forwarded.
    fields = padded[:41]  # array header, code, key, stream 1, data: then pad's bin 16
    unpadded = fields + b"\xc5" + (len(padded) - 45).to_bytes(2, "big") + bytes(len(padded) - 45)
    assert len(unpadded) == len(padded) - 1
    a.send_raw_record(unpadded)
    assert "not one of the bucket sizes" in await a.wait_closed()
    with pytest.raises(TimeoutError):
        await b.next_record(timeout=0.5)
    relay.status_where(lambda s: s["refusals"]["protocol_error"] == 1, "counted")
    await b.close()


async def test_rates_slow_a_sender_down_without_losing_frames(start_relay: StartRelay) -> None:
    relay = start_relay("--frame-rate", "20", "--byte-rate", "200000")
    a, b = await attach(relay), await attach(relay)
    try:
        for i in range(60):
            a.send(b.key, i.to_bytes(2, "big") + bytes(3000))
        got = [int.from_bytes((await b.next_delivery()).data[:2], "big") for _ in range(60)]
        assert got == list(range(60))
        relay.status_where(lambda s: s["throttled"] >= 1, "throttling counted")
    finally:
        await a.close()
        await b.close()


async def test_a_slow_receiver_gets_frames_refused_not_relay_memory(
    start_relay: StartRelay,
) -> None:
    relay = start_relay("--max-queue", "200000", "--stall-timeout", "0.5",
                        "--byte-rate", "1000000000", "--frame-rate", "1000000")
    a = await attach(relay)
    slow = await RelayClient().connect("127.0.0.1", relay.port, relay_key=relay.key,
                                       rcvbuf=4096)
    c = await attach(relay)
    try:
        slow.pause_reading()
        refused = None
        for _ in range(2000):  # bounded: ~130 MB at most before the relay must refuse
            a.send(slow.key, bytes(MAX_DATA))
            await a.drain()
            with contextlib.suppress(asyncio.QueueEmpty):
                record = a.records.get_nowait()
                if isinstance(record, Refused):
                    refused = record
                    break
        assert refused == Refused(slow.key, 1, REFUSED_QUEUE_FULL)
        # Keep pushing: every further frame is refused, and the relay's memory stays put.
        rss_before = relay.rss_kib()
        for _ in range(400):  # 26 MB more
            a.send(slow.key, bytes(MAX_DATA))
            await a.drain()
        await until(lambda: relay.read_status_file()["dropped_queue_full"] >= 300, 30,
                    "the flood to be refused")
        assert relay.rss_kib() - rss_before < 8 * 1024
        # Others are still served while the slow one lags.
        a.send(c.key, b"not stuck")
        while (delivery := await c.next_delivery()).sender != a.key:  # bounded by WAIT
            pass
        assert delivery.data == b"not stuck"
        relay.status_where(lambda s: s["dropped_queue_full"] >= 1, "the drop counted")
    finally:
        for client in (a, slow, c):
            await client.close()


def test_a_relay_refuses_a_passphrase_protected_home(tmp_path: Path) -> None:
    home = tmp_path / "user"
    run(home, "init", "--name", "me", env={"P2PCHAT_PASSPHRASE": "secret words"}, check=True)
    proc = run(home, "relay", "--no-mdns", "--listen", "127.0.0.1:0")
    assert_clean_failure(proc)
    assert "home of its own" in proc.stderr
