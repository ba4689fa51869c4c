"""Hand-built relay clients for tests and benchmarks: a real Session over real TCP, nothing else.

Deliberately not the node's relay client: this one follows docs/protocol.md §8 step by step, so
the tests check the relay against the written contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.core.identity import Identity
from p2pchat.core.relay_messages import (
    Attach,
    Attached,
    Deliver,
    RelayRecord,
    Send,
    decode_relay_record,
    encode_relay_record,
)
from p2pchat.core.session import Closed, RecordReceived, Session, SessionConfig
from tests.aio import until
from tests.cli import cli_env, run
from tests.nodes import wait_for

RELAY_SESSION = SessionConfig(max_record=65518)
WAIT = 20.0


def _now() -> float:
    return asyncio.get_running_loop().time()


class RelayClient:
    """One client attached to a relay: send frames to keys, take records as they arrive."""

    def __init__(self, identity: Identity | None = None,
                 config: SessionConfig = RELAY_SESSION) -> None:
        self.identity = identity or Identity.generate()
        self.config = config
        self.records: asyncio.Queue[RelayRecord] = asyncio.Queue()
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self.attached: Attached | None = None
        self._session: Session | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def key(self) -> bytes:
        return self.identity.public_key

    async def connect(self, host: str, port: int, *, relay_key: bytes | None = None,
                      attach: bool = True, rcvbuf: int | None = None,
                      psks: tuple[bytes, ...] = (), local_addr: str | None = None) -> RelayClient:
        """Handshake (IK when `relay_key` is known, else XX), then Attach unless told not to.
        `local_addr`: the source address to connect from (another 127.x.y.z, say)."""
        sock = None
        if rcvbuf is not None:
            import socket

            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            reader, writer = await asyncio.open_connection(sock=sock)
        else:
            reader, writer = await asyncio.open_connection(
                host, port, local_addr=None if local_addr is None else (local_addr, 0))
        self._writer = writer
        self._session = Session(identity=self.identity, initiator=True, now=_now(),
                                remote_key=relay_key, ik_timestamp=time.time_ns(),
                                config=self.config, psks=psks)
        self._task = asyncio.get_running_loop().create_task(self._read(reader))
        self._flush()
        if attach:
            await self._wait_established()
            self.send_record(Attach())
            record = await self.next_record()
            assert isinstance(record, Attached), record
            self.attached = record
        return self

    async def _wait_established(self) -> None:
        session = self._session
        assert session is not None
        await until(lambda: session.established or self.closed.is_set(), WAIT, "handshake")
        if self.closed.is_set():
            raise AssertionError(f"relay closed the link: {self.close_reason}")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        session = self._session
        assert session is not None
        try:
            while not session.closed:
                data = await reader.read(65536)
                events = session.receive_data(data, _now())
                self._flush()
                for event in events:
                    if isinstance(event, RecordReceived):
                        self.records.put_nowait(decode_relay_record(event.record))
                    elif isinstance(event, Closed):
                        self.close_reason = event.reason
                if not data:
                    break
        except (ConnectionError, OSError) as exc:
            self.close_reason = self.close_reason or f"connection error {exc!r}"
        finally:
            self.close_reason = self.close_reason or "ended"
            self.closed.set()

    def _flush(self) -> None:
        assert self._session is not None and self._writer is not None
        data = self._session.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    def send_record(self, record: RelayRecord) -> None:
        assert self._session is not None
        self._session.send_record(encode_relay_record(record), _now())
        self._flush()

    def send_raw_record(self, record: bytes) -> None:
        """Any bytes as one record of the relay session (to test what the relay refuses)."""
        assert self._session is not None
        self._session.send_record(record, _now())
        self._flush()

    def send(self, to: bytes, data: bytes, stream: int = 1) -> None:
        self.send_record(Send(to, stream, data))

    async def drain(self) -> None:
        assert self._writer is not None
        await self._writer.drain()

    def pause_reading(self) -> None:
        assert self._writer is not None
        self._writer.transport.pause_reading()  # type: ignore[attr-defined]

    async def next_record(self, timeout: float = WAIT) -> RelayRecord:
        return await asyncio.wait_for(self.records.get(), timeout)

    async def next_delivery(self, timeout: float = WAIT) -> Deliver:
        record = await self.next_record(timeout)
        assert isinstance(record, Deliver), record
        return record

    async def wait_closed(self, timeout: float = WAIT) -> str:
        await asyncio.wait_for(self.closed.wait(), timeout)
        assert self.close_reason is not None
        return self.close_reason

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            with contextlib.suppress(Exception):
                self._session.close("bye")
                self._flush()
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


class RelayProcess:
    """`p2pchat relay` in its own process on 127.0.0.1, port picked by the OS, no mDNS."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log_path = home.parent / f"{home.name}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.status: dict[str, Any] = {}

    def start(self, *extra: str, mdns: bool = False,
              listen: str = "127.0.0.1:0") -> RelayProcess:
        """`mdns`: advertise on 127.0.0.1 only (zeroconf on loopback, as the tests bind it).
        `listen`: where; a restart "--listen HOST:PORT" in `extra` listens on a fresh port too,
        and the advert carries that one (the found-relay test waited for the old port)."""
        argv = [sys.executable, "-m", "p2pchat", "--home", str(self.home), "relay",
                "--listen", listen,
                *(["--mdns-interface", "127.0.0.1"] if mdns else ["--no-mdns"]), *extra]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, text=True, env=cli_env(),
                                         start_new_session=True)
        self.status = wait_for(self._running_status, 20, "the relay to start")
        wait_for(lambda: "stop with Ctrl-C" in self.output(), 20, "the relay's banner")
        return self

    def _running_status(self) -> dict[str, Any] | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the relay exited: {self.output()}")
        status = self.read_status()
        return status if status and status.get("running") and \
            status.get("pid") == self.proc.pid else None

    def read_status(self) -> dict[str, Any] | None:
        proc = run(self.home, "relay", "status", "--json")
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def read_status_file(self) -> dict[str, Any]:
        from p2pchat.relay.status import read_status

        return read_status(self.home)

    def rss_kib(self) -> int:
        """The relay process's resident memory, from /proc."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS for the relay")

    def status_where(self, condition: Callable[[dict[str, Any]], bool],
                     what: str) -> dict[str, Any]:
        """The status file once `condition` holds (the relay rewrites it about once a second)."""
        from p2pchat.relay.status import StatusError, read_status

        def check() -> dict[str, Any] | None:
            with contextlib.suppress(StatusError):
                status = read_status(self.home)
                return status if condition(status) else None
            return None

        result: dict[str, Any] = wait_for(check, 20, what)
        return result

    @property
    def port(self) -> int:
        return int(self.status["listen"][0].rsplit(":", 1)[1])

    @property
    def key(self) -> bytes:
        from p2pchat.core.identity import parse_fingerprint

        return parse_fingerprint(self.status["fingerprint"])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=15)
        return code

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
