"""An offline passphrase guesser against a network (issue 26's acceptance attack).

It captures what an outsider on the LAN can get from a member without knowing the passphrase:

* the member's mDNS advert (its TXT `m<i>` entries);
* the handshakes the member sends when provoked to dial us: we pose as a peer the member dials
  (an address it was given), take its network IK1, answer "retry with XX" and take the XX1 too;
* a recording of a complete admission between a member and a joiner who knows the passphrase
  (the frames of the exchange, both ways, as a sniffer on the Wi-Fi sees them);

and then tests candidate passphrases against all of it, with every test a passphrase allows:
the Argon2id key of the old scheme (and the PSK, advert keys of it) against the handshakes and
the adverts, and SPAKE2 run with the candidate against the recorded admission. A capture
*distinguishes* a candidate if some test comes out differently for it. Against the old scheme
the right passphrase opens everything; against the new one every candidate gets the same
all-False row, the right one included.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from spake2 import SPAKE2_A, SPAKE2_B

from p2pchat.core import admission as adm
from p2pchat.core import network as net
from p2pchat.core.framing import FrameDecoder, encode_frame
from p2pchat.core.identity import Identity
from p2pchat.core.session import KIND_IK1, KIND_PSK, KIND_RETRY_XX, KIND_XX1, ReplayGuard, Session

WAIT = 10.0


@dataclass
class Capture:
    name: str
    day: int
    attacker: Identity  # the key the member dialled (its IK1 is addressed to it)
    adverts: list[str] = field(default_factory=list)  # TXT m<i> values
    ik1: list[bytes] = field(default_factory=list)  # network IK1 frames (kind byte + message)
    xx1: list[bytes] = field(default_factory=list)  # network XX1 frames after our retry
    admission: list[bytes] = field(default_factory=list)  # ADMIT1..ADMIT4 bodies, in order


class Dialled:
    """A listener posing as a peer the member dials: records its network handshakes."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.server: asyncio.Server | None = None
        self.got = asyncio.Event()

    async def start(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[:2]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        try:
            while True:
                data = await asyncio.wait_for(reader.read(4096), WAIT)
                if not data:
                    return
                decoder.receive_data(data)
                while (frame := decoder.next_frame()) is not None:
                    if frame[0] == KIND_IK1 | KIND_PSK:
                        self.capture.ik1.append(frame)
                        writer.write(encode_frame(bytes((KIND_RETRY_XX,))))  # "retry with XX"
                    elif frame[0] == KIND_XX1 | KIND_PSK:
                        self.capture.xx1.append(frame)
                        self.got.set()
                        return
                    else:
                        return  # a plain handshake: nothing of the network in it
        except (TimeoutError, ConnectionError, OSError):
            return
        finally:
            writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def record_admission(member_address: tuple[str, int], name: str, passphrase: str,
                           capture: Capture) -> bytes:
    """A joiner's admission through a recording relay of bytes (what a sniffer sees)."""
    from p2pchat.node.admission import ask

    frames: list[bytes] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   decoder: FrameDecoder) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(4096):
                decoder.receive_data(data)
                while (frame := decoder.next_frame()) is not None:
                    frames.append(frame)
                writer.write(data)
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*member_address)
        await asyncio.gather(pipe(reader, up_writer, FrameDecoder()),
                             pipe(up_reader, writer, FrameDecoder()))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        key = await ask(server.sockets[0].getsockname()[:2], name, passphrase)
    finally:
        server.close()
    capture.admission = [frame[1:] for frame in sorted(frames, key=lambda f: f[0])]
    return key


# ---------------------------------------------------------------- offline tests of a guess


def _opens_handshake(frame: bytes, psk: bytes, attacker: Identity) -> bool:
    """Does this PSK open the captured handshake frame (as its responder would)?"""
    session = Session(identity=attacker, initiator=False, now=0.0, replay_guard=ReplayGuard(),
                      psks=(psk,))
    session.receive_data(encode_frame(frame), 0.0)
    out = session.data_to_send()
    # Opened: IK2 or XX2 written. Not opened: a retry frame, or nothing at all.
    return len(out) > 3 and out[2] & KIND_PSK != 0


def _spake_matches(capture: Capture, candidate: str) -> list[bool]:
    """SPAKE2 run with the candidate against the recorded admission: the best a passive
    attacker can do without either side's secret scalar."""
    if len(capture.admission) != 4:
        return []
    admit1, admit2, admit3, admit4 = capture.admission
    id_a, id_b = adm.identities(capture.name)
    as_member = SPAKE2_B(candidate.encode(), idA=id_a, idB=id_b)
    as_member.start()
    as_joiner = SPAKE2_A(candidate.encode(), idA=id_a, idB=id_b)
    as_joiner.start()
    confirm_a = adm.keys_of(as_member.finish(admit1[-adm.SPAKE_MSG_LEN:]))[0]
    confirm_b = adm.keys_of(as_joiner.finish(admit2))[1]
    return [confirm_a == admit3, confirm_b == admit4[:adm.CONFIRM_LEN]]


def tests_of(capture: Capture, candidate: str, *, argon2: bool = True) -> list[bool]:
    """Every offline test of `candidate` against `capture`: one bool per test."""
    results = _spake_matches(capture, candidate)
    keys = [net.derive_key(capture.name, candidate.encode())] if argon2 else []
    for key in keys:
        psk = net.handshake_psk(key)
        results += [_opens_handshake(frame, psk, capture.attacker)
                    for frame in capture.ik1 + capture.xx1]
        results += [net.open_entry(key, capture.day, value) is not None
                    for value in capture.adverts]
    return results


def distinguishes(capture: Capture, candidates: list[str]) -> dict[str, list[bool]]:
    """Each candidate's row of test results; the capture tells the right one apart iff the
    rows differ."""
    return {candidate: tests_of(capture, candidate) for candidate in candidates}


# ---------------------------------------------------------------- run it by hand


async def _demo(passphrase: str, wrong: list[str]) -> None:
    """`python -m tests.offline_attack`: a member node (new scheme, then a legacy one),
    captured and attacked; prints each candidate's row of test results."""
    import tempfile
    import time
    from pathlib import Path

    from p2pchat.core.presence import day_number
    from p2pchat.home import ensure_home
    from p2pchat.node import Node, NodeConfig
    from p2pchat.storage import networks as stored

    with tempfile.TemporaryDirectory() as tmp:
        for scheme in ("admission (new)", "argon2id (legacy)"):
            legacy = scheme.startswith("argon2id")
            key = net.derive_key("lab", passphrase.encode()) if legacy else net.new_key()
            home = ensure_home(Path(tmp) / scheme.split()[0])
            node = Node(home, Identity.generate(), "alice",
                        NodeConfig(listen=(("127.0.0.1", 0),), mdns=False))
            await node.start()
            try:
                stored.save(home, node.identity, [stored.Network(
                    "lab", key, "" if legacy else passphrase, legacy)])
                node.networks.reload()
                day = day_number(time.time())
                capture = Capture("lab", day, Identity.generate())
                capture.adverts = [v for k, v in node.networks.properties(day).items()
                                   if k.startswith("m")]
                dialled = Dialled(capture)
                host, port = await dialled.start()
                await node.add_contact(capture.attacker.fingerprint, "mallory",
                                       [f"{host}:{port}"])
                await asyncio.wait_for(dialled.got.wait(), 30)
                dialled.close()
                if not legacy:
                    await record_admission(node.listen_addresses[0], "lab", passphrase, capture)
                print(f"{scheme}: captured {len(capture.adverts)} advert entries,"
                      f" {len(capture.ik1)} IK1, {len(capture.xx1)} XX1,"
                      f" {len(capture.admission)} admission frames")
                rows = await asyncio.get_running_loop().run_in_executor(
                    None, distinguishes, capture, [passphrase, *wrong])
                for candidate, row in rows.items():
                    mark = "right" if candidate == passphrase else "wrong"
                    print(f"  {mark} {candidate!r:40} {['yes' if r else 'no' for r in row]}")
                told = len({tuple(r) for r in rows.values()}) > 1
                print(f"  -> the capture {'TELLS' if told else 'does not tell'} the right"
                      " passphrase apart")
            finally:
                await node.stop()


if __name__ == "__main__":
    asyncio.run(_demo("stuff-tank-gift-busy-rail-frost",
                      ["stuff-tank-gift-busy-rail-fros", "physics101", "1234"]))
