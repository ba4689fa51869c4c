"""Admissions over TCP: answering joiners as a member, and asking members as a joiner.

The exchange itself is core/admission.py (SPAKE2, sans-IO); this part moves its four frames over
a connection to the node's usual listening port (docs/protocol.md 10.7). A member answers on
the connection whose first frame is ADMIT1, after the rate limiter (core/guess_limits.py) lets
the source and the network guess again. A node waiting to be admitted asks, a round at a time, the
nodes whose adverts carry network entries (it can't tell a member of its network from others
before it holds the key), and backs off from each one that did not admit it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from p2pchat.core import admission as adm
from p2pchat.core.errors import ProtocolError
from p2pchat.core.framing import FrameDecoder, encode_frame
from p2pchat.core.guess_limits import GuessLimiter, GuessLimits
from p2pchat.core.presence import Advert
from p2pchat.net.addresses import Address, format_addr
from p2pchat.waits import woken

log = logging.getLogger("p2pchat.node")

TIMEOUT = 10.0  # one frame of an exchange; SPAKE2 is milliseconds a side
# A joiner waits less for an answer: a member answers in milliseconds, and a silent node must
# not keep the user's "refused" from being said (trial 13, 15)
ASK_TIMEOUT = 3.0
MAX_ANSWERING = 8  # exchanges answered at once (each costs two Ed25519 multiplications)
RETRY_AFTER = 30.0  # a node that did not admit us is asked again after this, doubling
MAX_RETRY_AFTER = 3600.0
MAX_ASKED_AT_ONCE = 8  # nodes asked together in one round (the rest at the next)
MAX_REFUSERS = 256  # refusing nodes remembered per passphrase: never asked it again
MAX_REMEMBERED = 256  # nodes remembered with their back-off
LOOK_EVERY = 1.0  # how often a waiting node looks at the adverts for someone to ask

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class Busy(Exception):
    """The member is rate-limiting us: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate-limited for {retry_after:.0f} s")
        self.retry_after = retry_after


class Frames:
    """Admission frames off a stream, after `initial` bytes already read from it."""

    def __init__(self, reader: asyncio.StreamReader, initial: bytes = b"",
                 timeout: float = TIMEOUT) -> None:
        self._reader = reader
        self._timeout = timeout
        self._decoder = FrameDecoder(max_frame=adm.MAX_FRAME)
        if initial:
            self._decoder.receive_data(initial)

    async def next(self) -> tuple[int, bytes]:
        """(kind, body) of the next frame; AdmissionError if the peer sends something else."""
        try:
            while (frame := self._decoder.next_frame()) is None:
                data = await asyncio.wait_for(self._reader.read(256), self._timeout)
                if not data:
                    raise adm.AdmissionError("connection closed")
                self._decoder.receive_data(data)
        except ProtocolError as exc:
            raise adm.AdmissionError(f"bad frame: {exc}") from None
        return frame[0], frame[1:]


def _frame(kind: int, body: bytes) -> bytes:
    return encode_frame(bytes((kind,)) + body)


class NotAdmitted(adm.AdmissionError):
    """The member ran the exchange and did not confirm it: a wrong passphrase or name (or a
    node not in that network: the joiner cannot tell, by design)."""


async def ask(address: Address, name: str, passphrase: str,
              connect_timeout: float = 5.0) -> bytes:
    """Run the joiner's side with the node at `address`; the network key, or AdmissionError
    (not admitted: a wrong passphrase, or not a member), Busy, OSError or TimeoutError."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), connect_timeout)
    frames = Frames(reader, timeout=ASK_TIMEOUT)
    try:
        joiner = adm.Joiner(name, passphrase)
        writer.write(_frame(adm.KIND_ADMIT1, joiner.first()))
        kind, body = await frames.next()
        if kind == adm.KIND_BUSY and len(body) == 2:
            raise Busy(float(int.from_bytes(body, "big")))
        if kind != adm.KIND_ADMIT2:
            raise adm.AdmissionError("unexpected reply")
        writer.write(_frame(adm.KIND_ADMIT3, joiner.on_reply(body)))
        try:
            kind, body = await frames.next()
        except adm.AdmissionError:
            raise NotAdmitted("not admitted") from None
        if kind != adm.KIND_ADMIT4:
            raise adm.AdmissionError("unexpected reply")
        return joiner.on_key(body)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2)


class Admissions:
    """Both sides of admission for one node. `networks` is node/networks.py's Networks."""

    def __init__(self, networks: Any, *, spawn: Spawn, adverts: Callable[[], list[Advert]],
                 limits: GuessLimits | None = None, connect_timeout: float = 5.0,
                 emit: Callable[[dict[str, Any]], None] = lambda event: None,
                 is_own: Callable[[Address], bool] = lambda address: False) -> None:
        self._networks = networks
        # Our own listening socket: an advert of ours under an older instance name stays in the
        # mDNS caches (the name changes at each join), and asking ourselves counted our own
        # refusal as another node's (trial 11: "127.0.0.1:37821 refused", our own port).
        self._is_own = is_own
        self._emit = emit
        # Sources told about (one warning each, cleared when they prove the passphrase); a
        # single wrong try is a typo as often as a guess, and a joiner asks several members.
        self._suspects: dict[str, int] = {}
        # Wrong passphrases per source at OUR networks: source -> (count, last try, monotonic).
        # A try at a network we are not in is someone else's join, not a guess at ours
        # (notes/s33/trial9.md B6: other people's joins on the machine raised the warning).
        self._wrong: dict[str, tuple[int, float]] = {}
        self._spawn = spawn
        self._adverts = adverts
        self.limiter = GuessLimiter(limits, ours=networks.admits_id)
        self._connect_timeout = connect_timeout
        self._answering = 0
        self._wake = asyncio.Event()
        self._next_try: dict[Address, tuple[float, float]] = {}  # address -> (when, pause)
        # (network, passphrase) -> the nodes that refused it: never asked it again, so a wrong
        # passphrase costs each node one counted guess, whatever else the joiner hears
        self._refusals: dict[tuple[str, str], set[Address]] = {}
        # address -> until when it limits our guesses (its BUSY): why a join still waits
        self._limiting: dict[Address, float] = {}
        # (network, passphrase) -> why it waits, as last said ("limited" and seconds, or
        # "none_heard"): a new passphrase is said afresh
        self._told: dict[tuple[str, str], tuple[str, int]] = {}
        self.failed_guesses = 0  # exchanges answered that did not prove the passphrase
        self.admitted = 0  # joiners we admitted

    # ------------------------------------------------------------ member side

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     head: bytes, source: str) -> None:
        """A connection whose first bytes (`head`: at least a frame header and its kind)
        are ADMIT1's."""
        try:
            if self._answering >= MAX_ANSWERING:
                return
            self._answering += 1
            try:
                await self._answer(reader, writer, head, source)
            finally:
                self._answering -= 1
        except (adm.AdmissionError, TimeoutError, ConnectionError, OSError) as exc:
            log.debug("admission exchange with %s ended: %s", source, exc)
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      head: bytes, source: str) -> None:
        frames = Frames(reader, head)
        kind, body = await frames.next()
        if kind != adm.KIND_ADMIT1:
            raise adm.AdmissionError("not an ADMIT1")
        network = adm.Member.parse_first(body)
        pause = self.limiter.start(source, network, time.monotonic())
        if pause > 0:
            log.info("admission: %s must wait %.0f s before guessing again", source, pause)
            writer.write(_frame(adm.KIND_BUSY, min(int(pause) + 1, 65535).to_bytes(2, "big")))
            await writer.drain()
            return
        member = adm.Member(self._networks.admission_secret)
        writer.write(_frame(adm.KIND_ADMIT2, member.on_first(body)))
        await writer.drain()
        try:
            kind, body = await frames.next()
            if kind != adm.KIND_ADMIT3:
                raise adm.AdmissionError("not an ADMIT3")
            name, final = member.on_confirm(body)
        except (adm.AdmissionError, TimeoutError, ConnectionError, OSError):
            self.failed_guesses += 1
            ours = self._networks.admission_secret(network)
            self._failed(source, ours[0] if ours is not None else "")
            raise
        self.limiter.succeeded(source, network)
        self._wrong.pop(source, None)
        self._cleared(source)
        writer.write(_frame(adm.KIND_ADMIT4, final))
        await writer.drain()
        self.admitted += 1
        log.info("admitted a node at %s to network %s", source, name)

    def _failed(self, source: str, network: str) -> None:
        """A wrong passphrase (or a hang-up before proving it) from `source`, asking us to
        admit it to `network` ("": one we are not in): only past the free tries at one of our
        networks is it worth a warning, once per source, naming the network."""
        if not network:
            log.info("admission: %s asked to join a network we are not in (someone else's"
                     " join, not a guess at ours)", source)
            return
        if source not in self._wrong and len(self._wrong) >= MAX_REMEMBERED:
            del self._wrong[next(iter(self._wrong))]
        now = time.monotonic()
        before, last = self._wrong.get(source, (0, now))
        # forgotten after a quiet hour, as the limiter forgets
        failed = 1 if now - last >= self.limiter.limits.forget_after else before + 1
        self._wrong[source] = (failed, now)
        free = self.limiter.limits.free_per_source
        if failed < free or source in self._suspects:
            log.info("admission: a wrong passphrase for network %s from %s (%d of %d free"
                     " tries; a typo as often as a guess)", network, source, failed, free)
            return
        pending = self._networks.to_ask()
        if pending:  # our own join is refused or unconfirmed: ours is the likely wrong one
            log.info("admission: %d wrong passphrases from %s, not warned of: our own join to"
                     " %s is not confirmed, so it is likelier our passphrase that differs"
                     " (every node on one machine shares its address)", failed, source,
                     ", ".join(name for name, _ in pending))
            return
        if len(self._suspects) >= MAX_REMEMBERED:
            del self._suspects[next(iter(self._suspects))]
        self._suspects[source] = failed
        log.warning("admission: %d wrong passphrases for your network %s from %s: most"
                    " likely a mistyped passphrase, else someone guessing; each try from there"
                    " now waits longer, and nobody gets in without the passphrase", failed,
                    network, source, extra={"shown_as_event": True})
        self._emit({"type": "admission_guesses", "source": source, "failed": failed,
                    "network": network, "cleared": False})

    def _cleared(self, source: str) -> None:
        """`source` proved the passphrase in the end: what we warned of was a typo."""
        if self._suspects.pop(source, None) is not None:
            log.info("admission: %s proved the passphrase after all", source)
            self._emit({"type": "admission_guesses", "source": source, "failed": 0,
                        "cleared": True})

    # ------------------------------------------------------------ joiner side

    def waiting_why(self) -> dict[str, dict[str, Any]]:
        """Why each network still waiting waits, as last said ("limited" while those nodes
        still limit us, with the seconds left; "none_heard"): for `status`."""
        now = time.monotonic()
        why: dict[str, dict[str, Any]] = {}
        for name, passphrase in self._networks.waiting():
            told = self._told.get((name, passphrase))
            if told is None:
                continue
            if told[0] == "limited":
                left = [until - now for until in self._limiting.values() if until > now]
                if not left:
                    continue
                why[name] = {"reason": "limited", "seconds": max(1, round(min(left)))}
            else:
                why[name] = {"reason": told[0]}
        return why

    def wake(self) -> None:
        """A network started waiting: look for members now rather than at the next round."""
        self._wake.set()

    async def run(self) -> None:
        """While some network waits for admission: ask the nodes advertising network entries."""
        while True:
            await woken(self._wake, LOOK_EVERY)
            self._wake.clear()
            for name, passphrase in self._networks.to_ask():
                try:
                    await self._try_all(name, passphrase)
                except Exception as exc:  # a bug here must not end admissions for good
                    log.warning("network %s: asking for admission failed: %r", name, exc)

    async def _try_all(self, name: str, passphrase: str) -> None:
        """One round: ask every node heard that may be asked now, at once (a silent or dead
        node must not hold back a member's answer: trial 13, 15: 95 s of "waiting" with the
        creator nearby), then say what came of it."""
        now = time.monotonic()
        refusers = self._refusals.get((name, passphrase), set())
        heard = list(dict.fromkeys(
            address for advert in self._adverts() if advert.sealed
            for address in advert.addresses[:2] if not self._is_own(address)))
        due = [address for address in heard if address not in refusers
               and now >= self._next_try.get(address, (0.0, 0.0))[0]]
        results = await asyncio.gather(*(self._ask_one(name, passphrase, address, now)
                                         for address in due[:MAX_ASKED_AT_ONCE]))
        for address, key in zip(due, results, strict=False):
            if key is not None:
                log.info("network %s: admitted by the node at %s", name, format_addr(address))
                self._next_try.pop(address, None)
                self._refusals.pop((name, passphrase), None)
                self._told.pop((name, passphrase), None)
                await self._networks.admitted(name, passphrase, key)
                return
        self._conclude(name, passphrase, heard, now)

    async def _ask_one(self, name: str, passphrase: str, address: Address,
                       now: float) -> bytes | None:
        """The key from `address`, or None, its answer noted (refused, limiting, or silent)."""
        pause = self._next_try.get(address, (0.0, 0.0))[1]
        try:
            return await ask(address, name, passphrase, self._connect_timeout)
        except Busy as exc:
            self._remember(address, now + exc.retry_after, pause)
            if address not in self._limiting and len(self._limiting) >= MAX_REMEMBERED:
                del self._limiting[next(iter(self._limiting))]
            self._limiting[address] = now + exc.retry_after
        except NotAdmitted:
            self._limiting.pop(address, None)
            self._refused_by(name, passphrase, address)
        except (adm.AdmissionError, OSError, TimeoutError) as exc:
            pause = min(max(pause * 2, RETRY_AFTER), MAX_RETRY_AFTER)
            self._remember(address, now + pause, pause)
            self._limiting.pop(address, None)
            log.info("network %s: %s did not admit us (%s); asking again in %.0f s",
                     name, format_addr(address), exc or "no answer in time", pause)
        return None

    def _conclude(self, name: str, passphrase: str, heard: list[Address], now: float) -> None:
        """After a round: refused once some node refused this passphrase and no node heard can
        still answer it now (the others refused, are unreachable, or limit our guesses): a
        stale advert or a silent node must not keep a wrong passphrase untold. Else, while only
        nodes that limit guesses are left, say why it waits and for how long."""
        refusers = self._refusals.get((name, passphrase), set())
        limiting = {address: until for address, until in self._limiting.items()
                    if address in heard and until > now and address not in refusers}
        if refusers:
            self._networks.refuse(name, passphrase)
        if not heard:
            reason: tuple[str, int] = ("none_heard", 0)
        elif limiting and not refusers:
            reason = ("limited", max(1, round(min(limiting.values()) - now)))
        else:
            return
        told = self._told.get((name, passphrase))
        if told is not None and told[0] == reason[0] and (
                reason[0] == "none_heard" or told[1] >= reason[1]):
            return  # said already (a wait only said again when it grew)
        if (name, passphrase) not in self._told and len(self._told) >= MAX_REMEMBERED:
            del self._told[next(iter(self._told))]
        self._told[(name, passphrase)] = reason
        self._emit({"type": "admission_waiting", "network": name, "reason": reason[0],
                    "seconds": reason[1], "heard": len(heard), "limiting": len(limiting)})

    def _refused_by(self, name: str, passphrase: str, address: Address) -> None:
        """Note a refusal: that node is never asked this passphrase again. Nodes that have not
        been asked yet still are (a joiner cannot tell a member of another network from one of
        its own, so a right passphrase must not be given up on a busy LAN)."""
        refusals = self._refusals.setdefault((name, passphrase), set())
        if len(refusals) < MAX_REFUSERS:
            refusals.add(address)
        # a member refusing a wrong passphrase, or a node not in `name`: alike by design
        log.info("network %s: %s did not admit us (not in %s, or a wrong passphrase; %d"
                 " node(s) so far)", name, format_addr(address), name, len(refusals))

    def _remember(self, address: Address, when: float, pause: float) -> None:
        if address not in self._next_try and len(self._next_try) >= MAX_REMEMBERED:
            del self._next_try[next(iter(self._next_try))]
        self._next_try[address] = (when, pause)
