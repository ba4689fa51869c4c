"""Admission to a network on real sockets (node/admission.py): a joiner with the passphrase gets
the network key from a member; wrong guesses are counted and rate-limited; nothing captured
from a member allows an offline test of a guess (tests/offline_attack.py), which the old
Argon2id scheme did."""

from __future__ import annotations

import asyncio
import time

import pytest

from p2pchat.core import admission as adm
from p2pchat.core import network as net
from p2pchat.core.framing import encode_frame
from p2pchat.core.presence import day_number
from p2pchat.node import Node
from p2pchat.node.admission import Busy, ask
from p2pchat.storage import networks as stored
from tests.aio import until
from tests.local_nodes import MakeLocalNode
from tests.offline_attack import Capture, Dialled, distinguishes, record_admission

KEY = bytes(range(32))
PASSPHRASE = "stuff-tank-gift-busy-rail-frost"
WRONG = ["stuff-tank-gift-busy-rail-fros", "physics101", "1234"]


def _member(node: Node, name: str = "lab", key: bytes = KEY, passphrase: str = PASSPHRASE,
            legacy: bool = False) -> None:
    """What `p2pchat network create` leaves in the home (or a version-1 join, `legacy`)."""
    network = stored.Network(name, key, "" if legacy else passphrase, legacy)
    stored.save(node.home, node.identity, stored.joined([], network))
    node.networks.reload()


def _addr(node: Node) -> tuple[str, int]:
    host, port = node.listen_addresses[0]
    return host, port


async def test_a_joiner_with_the_passphrase_gets_the_key(make_local_node: MakeLocalNode) -> None:
    a = await make_local_node("alice")
    _member(a)
    assert await ask(_addr(a), "lab", PASSPHRASE) == KEY
    assert a.admissions.admitted == 1 and a.admissions.failed_guesses == 0
    # Handshakes still work on the same port (the listener looks at the first frame's kind).
    b = await make_local_node("bob")
    _member(b)
    await b.add_contact(a.identity.fingerprint, "alice", [f"{_addr(a)[0]}:{_addr(a)[1]}"])
    await until(lambda: a.trust.requests(), 15, "bob's request through the network")


async def test_a_waiting_node_is_admitted_by_a_member_it_hears(
        make_local_node: MakeLocalNode) -> None:
    """The joiner's side inside a node: it asks the nodes whose adverts carry network entries
    (here the advert list is given directly; tests/integration/test_network_processes.py runs
    it over mDNS), stores the key and is then a member."""
    from p2pchat.core.presence import Advert

    a, b = await make_local_node("alice"), await make_local_node("bob")
    _member(a)
    advert = Advert("x", (_addr(a),), "1", sealed=tuple(a.networks.properties(0).values())[1:])
    b.admissions._adverts = lambda: [advert]
    await b.networks.join("lab", PASSPHRASE)
    await until(lambda: b.networks.names() == ["lab"], 15, "bob's admission")
    assert stored.load(b.home, b.identity) == [stored.Network("lab", KEY, PASSPHRASE)]
    assert b.networks.view() == {"networks": ["lab"], "waiting": [], "legacy": [],
                                 "states": {"lab": "member"},
                                 "check_codes": {"lab": net.check_code(KEY)}}


async def test_wrong_passphrases_are_counted_and_then_refused(
        make_local_node: MakeLocalNode) -> None:
    a = await make_local_node("alice")
    _member(a)
    for guess in WRONG:
        with pytest.raises(adm.AdmissionError):
            await ask(_addr(a), "lab", guess)
    assert a.admissions.failed_guesses == 3
    # The fourth guess from this address must wait 10 s (the documented default): even the
    # right passphrase is not tried now.
    with pytest.raises(Busy) as busy:
        await ask(_addr(a), "lab", PASSPHRASE)
    assert 9 <= busy.value.retry_after <= 11
    assert a.admissions.failed_guesses == 3 and a.admissions.admitted == 0
    # Another network name, or one the node is not in, is limited just the same.
    with pytest.raises(Busy):
        await ask(_addr(a), "other", PASSPHRASE)


async def test_a_guesser_who_hangs_up_before_confirming_is_charged(
        make_local_node: MakeLocalNode) -> None:
    a = await make_local_node("alice")
    _member(a)
    for _ in range(3):
        reader, writer = await asyncio.open_connection(*_addr(a))
        joiner = adm.Joiner("lab", "a-guess")
        writer.write(encode_frame(bytes((adm.KIND_ADMIT1,)) + joiner.first()))
        reply = await asyncio.wait_for(reader.readexactly(2 + 1 + adm.SPAKE_MSG_LEN), 10)
        assert reply[2] == adm.KIND_ADMIT2
        writer.close()  # tests the guess against ADMIT2 alone (one online guess), hangs up
    await until(lambda: a.admissions.failed_guesses == 3, 10, "the hang-ups counted")
    with pytest.raises(Busy):
        await ask(_addr(a), "lab", PASSPHRASE)


@pytest.mark.parametrize("data", [
    b"\x00\x01\x60",  # ADMIT1 with no body
    b"\x00\x80\x60" + bytes(127),  # the right kind, the wrong size
    b"\xff\xff\x60" + bytes(100),  # a huge length
    b"\x00\x33\x60\x02" + bytes(49),  # a version we don't speak
    b"\x00\x22\x60\x01" + bytes(16) + b"A" + b"\xff" * 16,  # cut short
])
async def test_malformed_admissions_are_closed_on(make_local_node: MakeLocalNode,
                                                  data: bytes) -> None:
    a = await make_local_node("alice")
    _member(a)
    reader, writer = await asyncio.open_connection(*_addr(a))
    writer.write(data)
    assert await asyncio.wait_for(reader.read(4096), 15) == b""  # closed, nothing sent
    writer.close()
    assert await ask(_addr(a), "lab", PASSPHRASE) == KEY  # and the node still admits


async def test_a_silent_connection_is_closed_after_the_handshake_timeout(
        make_local_node: MakeLocalNode) -> None:
    from p2pchat.core.session import SessionConfig

    a = await make_local_node("alice", session=SessionConfig(handshake_timeout=0.5))
    _member(a)
    reader, writer = await asyncio.open_connection(*_addr(a))
    assert await asyncio.wait_for(reader.read(10), 10) == b""
    writer.close()


# ---------------------------------------------------------------- the offline attack


async def _capture(a: Node, passphrase: str, *, admission: bool) -> Capture:
    """Everything an outsider gets from member `a`: adverts, provoked handshakes, and a
    recorded admission of someone who knows the passphrase."""
    from p2pchat.core.identity import Identity

    day = day_number(time.time())
    capture = Capture("lab", day, Identity.generate())
    capture.adverts = [v for k, v in a.networks.properties(day).items() if k.startswith("m")]
    dialled = Dialled(capture)
    host, port = await dialled.start()
    try:
        await a.add_contact(capture.attacker.fingerprint, "mallory", [f"{host}:{port}"])
        await asyncio.wait_for(dialled.got.wait(), 30)
    finally:
        dialled.close()
    if admission:
        assert await record_admission(_addr(a), "lab", passphrase, capture) == KEY
    return capture


async def test_nothing_captured_tests_a_guess_offline(make_local_node: MakeLocalNode) -> None:
    a = await make_local_node("alice")
    _member(a)
    capture = await _capture(a, PASSPHRASE, admission=True)
    assert capture.ik1 and capture.xx1 and capture.adverts and len(capture.admission) == 4
    rows = await asyncio.get_running_loop().run_in_executor(
        None, distinguishes, capture, [PASSPHRASE, *WRONG])
    # Every test, for every candidate: the same result. The right passphrase is not told apart.
    assert all(not any(row) for row in rows.values()), rows
    assert len({tuple(row) for row in rows.values()}) == 1
    assert len(rows[PASSPHRASE]) == 2 + len(capture.ik1) + len(capture.xx1) + len(capture.adverts)


async def test_the_same_attack_breaks_a_legacy_network(make_local_node: MakeLocalNode) -> None:
    """The control: the attack has teeth. Under the old scheme (a network key Argon2id made
    of the passphrase) the right guess opens the handshakes and the advert."""
    legacy_key = await asyncio.get_running_loop().run_in_executor(
        None, net.derive_key, "lab", PASSPHRASE.encode())
    a = await make_local_node("alice")
    _member(a, key=legacy_key, legacy=True)
    capture = await _capture(a, PASSPHRASE, admission=False)
    rows = await asyncio.get_running_loop().run_in_executor(
        None, distinguishes, capture, [PASSPHRASE, WRONG[0]])
    assert all(rows[PASSPHRASE]) and not any(rows[WRONG[0]]), rows


def test_keys_psks_and_adverts_owe_nothing_to_the_passphrase(tmp_path: object) -> None:
    """Two networks created with the same name (and, by chance, the same passphrase) have
    unrelated keys: what is derived from a key can't be a function of the passphrase."""
    from p2pchat.core.identity import Identity

    keys = {net.new_key() for _ in range(2)}
    assert len(keys) == 2
    psks = {net.handshake_psk(k) for k in keys}
    assert len(psks) == 2 and net.handshake_psk(
        net.derive_key("lab", PASSPHRASE.encode())) not in psks
    me = Identity.generate()
    for key in keys:
        value = net.seal_entry(key, 20_000, me.public_key, "alice")
        assert net.open_entry(net.derive_key("lab", PASSPHRASE.encode()), 20_000, value) is None


async def test_a_waiting_node_hides_as_a_member_does(make_local_node: MakeLocalNode) -> None:
    """Joined, not admitted yet: no name in its advert, and no plain XX for a stranger (it
    would hand over the node's key), as for a member."""
    from p2pchat.core.identity import Identity
    from tests.hostile_peer import HostilePeer, PeerClosed

    b = await make_local_node("bob")
    async with HostilePeer.connect(Identity.generate(), _addr(b)) as peer:  # the control
        assert peer.established is not None and peer.established.remote_key == b.key
    await b.networks.join("lab", PASSPHRASE)
    assert b.networks.properties(0) == {"v": "1"} and b.networks.joined
    async with HostilePeer.connect(Identity.generate(), _addr(b), handshake=False) as peer:
        with pytest.raises(PeerClosed):
            await peer.handshake(10)
        assert b.key not in bytes(peer.received)
