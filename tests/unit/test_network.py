"""Network keys, sealed adverts and the sealed networks file (core/network.py,
storage/networks.py). The known answers below are the ones docs/protocol.md prints."""

from __future__ import annotations

import json
import random as pyrandom
from pathlib import Path

import nacl.pwhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core import network as net
from p2pchat.core.identity import Identity
from p2pchat.core.presence import parse_advert
from p2pchat.storage import networks as stored

ALICE = Identity.from_seed(b"\x01" * 32)
BOB = Identity.from_seed(b"\x02" * 32)
FAST = {"opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
        "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN}
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
DAY = 20_000


def test_known_answer_with_the_documented_costs() -> None:
    assert net.OPSLIMIT == 3 and net.MEMLIMIT == 256 * 1024 * 1024
    assert net.salt("class").hex() == "39e966c2e6f4ea038224cd0516c99185"
    key = net.derive_key("class", b"blue-otter-42")
    assert key.hex() == "ccffa338e35dfe93b9bb848082d965b8909cc768c4e9bc7c2733112bb8c035fb"
    assert net.handshake_psk(key).hex() == \
        "085a7333f3269d21a20dbcc2f93d4015d47a32a1a01f9433965b6b19e35c4d0b"


def test_the_psk_of_a_random_network_key() -> None:
    """The known answer of docs/protocol.md 10.1 for keys made by `network create`."""
    assert net.handshake_psk(KEY).hex() == \
        "d21174e14841c21c003cc137109dd27ab0b0ce4dc18252c8c39ed20c9851a3a2"


def test_the_check_code_of_a_network_key() -> None:
    """protocol.md 10.1's known answer; members of one key see one code, another key another."""
    assert net.check_code(bytes(range(32))) == "4112 4442"
    assert net.check_code(bytes(32)) != net.check_code(bytes(range(32)))


def test_the_key_depends_on_name_and_passphrase() -> None:
    base = net.derive_key("class", b"blue-otter-42", **FAST)
    assert net.derive_key("class", b"blue-otter-42", **FAST) == base
    assert net.derive_key("class", b"blue-otter-43", **FAST) != base
    assert net.derive_key("class2", b"blue-otter-42", **FAST) != base
    assert net.handshake_psk(base) != base and len(net.handshake_psk(base)) == 32
    assert net.advert_key(base, DAY) != net.advert_key(base, DAY + 1)


@pytest.mark.parametrize("name", ["", "Class", "a b", "-x", "x" * 33, "ü", "a/b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(net.NetworkError):
        net.check_name(name)


def test_empty_and_huge_passphrases_are_refused() -> None:
    with pytest.raises(net.NetworkError):
        net.derive_key("class", b"", **FAST)
    with pytest.raises(net.NetworkError):
        net.derive_key("class", b"x" * 1025, **FAST)


def test_sealed_entries_open_only_with_the_key_and_near_the_day() -> None:
    value = net.seal_entry(KEY, DAY, ALICE.public_key, "alice\u202e")
    assert len(value) <= 256 and ALICE.fingerprint not in value
    assert net.open_entry(KEY, DAY, value) == (ALICE.public_key, "alice")
    assert net.open_entry(KEY, DAY + 1, value) is not None  # a clock a day off
    assert net.open_entry(KEY, DAY - 1, value) is not None
    assert net.open_entry(KEY, DAY + 2, value) is None
    assert net.open_entry(OTHER_KEY, DAY, value) is None
    # A fresh nonce each time: two adverts of one node can't be matched by their bytes.
    assert net.seal_entry(KEY, DAY, ALICE.public_key, "alice") != \
        net.seal_entry(KEY, DAY, ALICE.public_key, "alice")


def test_a_long_name_still_fits_a_txt_value() -> None:
    value = net.seal_entry(KEY, DAY, ALICE.public_key, "🦦" * 64)
    assert len(value) <= 256
    opened = net.open_entry(KEY, DAY, value)
    assert opened is not None and opened[1] is not None and opened[1].startswith("🦦")


def test_every_entry_has_the_same_length_whatever_the_name() -> None:
    """Issue 25 point 3: an entry's length (110 against 136 characters before padding) told
    a listener how long the member's name was. Now every entry is 246 characters."""
    lengths = {len(net.seal_entry(KEY, DAY, ALICE.public_key, name))
               for name in ("", "a", "alice", "Alice Wonderland-Smith", "x" * 96, "🦦" * 64,
                            "x" * 500)}
    assert lengths == {246}
    for name in ("", "bob", "x" * 64):  # names are shown cut to 64 characters
        opened = net.open_entry(KEY, DAY, net.seal_entry(KEY, DAY, ALICE.public_key, name))
        assert opened == (ALICE.public_key, name or None)


def test_an_unpadded_entry_is_still_read() -> None:
    import base64

    import nacl.secret

    from p2pchat.core.codec import pack

    box = nacl.secret.SecretBox(net.advert_key(KEY, DAY))
    sealed = box.encrypt(pack([ALICE.public_key, "alice"]), bytes(24))
    text = base64.urlsafe_b64encode(bytes(sealed)).rstrip(b"=").decode()
    assert net.open_entry(KEY, DAY, text) == (ALICE.public_key, "alice")


def test_a_new_network_key_is_random() -> None:
    assert len(net.new_key()) == 32 and net.new_key() != net.new_key()
    assert net.new_key(lambda n: b"\x07" * n) == b"\x07" * 32


def test_entries_travel_in_adverts() -> None:
    value = net.seal_entry(KEY, DAY, ALICE.public_key, "alice")
    advert = parse_advert("p2pchat-x._p2pchat._tcp.local.",
                          {b"v": b"1", b"m0": value.encode(), b"m9": b"ignored"},
                          ["192.0.2.1"], 7000)
    assert advert is not None and advert.sealed == (value,) and advert.public_key is None


@settings(derandomize=True, deadline=None, max_examples=200)
@given(value=st.one_of(st.text(max_size=300), st.binary(max_size=300), st.none(), st.integers()))
def test_hostile_entries_never_raise(value: object) -> None:
    assert net.open_entry(KEY, DAY, value) is None


def test_a_member_forging_junk_inside_a_valid_box_is_refused() -> None:
    import base64

    import nacl.secret

    from p2pchat.core.codec import pack

    box = nacl.secret.SecretBox(net.advert_key(KEY, DAY))
    for junk in (pack({"a": 1}), pack([b"short", "x"]), pack([ALICE.public_key, 5]), b"\xc1",
                 pack([ALICE.public_key, "x", 5]), pack([ALICE.public_key, "x", b"", b""])):
        sealed = box.encrypt(junk, bytes(24))
        text = base64.urlsafe_b64encode(bytes(sealed)).rstrip(b"=").decode()
        assert net.open_entry(KEY, DAY, text) is None


# ---------------------------------------------------------------- the sealed file


def test_networks_file_round_trip_and_sealing(tmp_path: Path) -> None:
    assert stored.load(tmp_path, ALICE) == []
    networks = stored.joined([], stored.Network("class", KEY))
    networks = stored.joined(networks, stored.Network("club", OTHER_KEY))
    stored.save(tmp_path, ALICE, networks)
    text = (tmp_path / stored.FILE_NAME).read_text()
    assert KEY.hex() not in text  # keys are sealed; the names alone are also in the clear
    assert json.loads(text)["names"] == ["class", "club"] == stored.load_names(tmp_path)
    assert (tmp_path / stored.FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert stored.load(tmp_path, ALICE) == networks
    with pytest.raises(stored.NetworksFileError, match="not sealed by this identity"):
        stored.load(tmp_path, BOB)
    # A member is not replaced by a join (that would drop the key): leave first.
    with pytest.raises(net.NetworkError, match="leave it first"):
        stored.joined(networks, stored.Network("class", b"", "other words"))
    rejoined = stored.joined(stored.left(networks, "class"),
                             stored.Network("class", b"", "blue-otter-42"))
    assert [(n.name, n.state) for n in rejoined] == [("club", "member"), ("class", "waiting")]
    # Waiting: a new passphrase replaces the old one.
    retyped = stored.joined(rejoined, stored.Network("class", b"", "blue-otter-43"))
    assert [(n.name, n.passphrase) for n in retyped][1] == ("class", "blue-otter-43")
    # Admitted with the passphrase we wait with; a key for another passphrase is ignored.
    assert stored.admitted(retyped, "class", "blue-otter-42", KEY) == retyped
    done = stored.admitted(retyped, "class", "blue-otter-43", KEY)
    assert [(n.name, n.state, n.key) for n in done][1] == ("class", "member", KEY)
    stored.save(tmp_path, ALICE, done)
    assert stored.load(tmp_path, ALICE) == done
    text = (tmp_path / stored.FILE_NAME).read_text()
    assert "blue-otter" not in text and '"version": 3' in text
    assert [n.name for n in stored.left(rejoined, "club")] == ["class"]
    with pytest.raises(net.NetworkError):
        stored.left(rejoined, "nope")


def test_a_version_1_file_is_read_as_legacy_networks(tmp_path: Path) -> None:
    """Networks joined before admissions (Argon2id keys) keep working, flagged legacy; a new
    join or create of the same name replaces them (the upgrade)."""
    import nacl.secret

    from p2pchat.core.codec import pack

    box = nacl.secret.SecretBox(ALICE.derive_key(stored.PURPOSE))
    sealed = box.encrypt(pack([["class", KEY]]), bytes(24))
    (tmp_path / stored.FILE_NAME).write_text(json.dumps(
        {"format": "p2pchat-networks", "version": 1, "sealed": bytes(sealed).hex()}))
    loaded = stored.load(tmp_path, ALICE)
    assert loaded == [stored.Network("class", KEY, "", True)]
    assert loaded[0].state == "legacy" and not loaded[0].pending
    upgraded = stored.joined(loaded, stored.Network("class", OTHER_KEY, "new words here"))
    assert upgraded == [stored.Network("class", OTHER_KEY, "new words here")]
    stored.save(tmp_path, ALICE, upgraded)
    assert stored.load(tmp_path, ALICE) == upgraded


def test_two_programs_changing_networks_at_once_both_count(tmp_path: Path) -> None:
    """The node and `p2pchat network join` edit the same file: the second change is built on
    the first, whatever the timing, instead of overwriting it."""
    import threading

    club = stored.Network("club", OTHER_KEY)
    other = threading.Thread(target=stored.change,
                             args=(tmp_path, ALICE, lambda now: stored.joined(now, club)))

    def join_class(now: list[stored.Network]) -> list[stored.Network]:
        # The other program reads the file while this one is between its read and its write;
        # without the lock it would read [] and its write, or ours, would be lost.
        other.start()
        other.join(0.5)  # bounded: with the lock it waits for our write, however long we take
        return stored.joined(now, stored.Network("class", KEY))

    assert [n.name for n in stored.change(tmp_path, ALICE, join_class)] == ["class"]
    other.join(10)
    assert not other.is_alive()
    assert [n.name for n in stored.load(tmp_path, ALICE)] == ["class", "club"]
    # An edit that refuses writes nothing.
    with pytest.raises(net.NetworkError):
        stored.change(tmp_path, ALICE, lambda now: stored.left(now, "nope"))
    assert [n.name for n in stored.load(tmp_path, ALICE)] == ["class", "club"]


def test_at_most_eight_networks(tmp_path: Path) -> None:
    networks: list[stored.Network] = []
    for index in range(net.MAX_NETWORKS):
        networks = stored.joined(networks, stored.Network(f"n{index}", KEY))
    with pytest.raises(net.NetworkError):
        stored.joined(networks, stored.Network("one-more", KEY))


@pytest.mark.parametrize("content", [
    b"", b"{", b"[]", json.dumps({"format": "p2pchat-networks", "version": 1}).encode(),
    json.dumps({"format": "p2pchat-networks", "version": 1, "sealed": "zz"}).encode(),
    json.dumps({"format": "p2pchat-networks", "version": 2, "sealed": ""}).encode(),
    json.dumps({"format": "p2pchat-networks", "version": 3, "sealed": ""}).encode(),
    b"x" * (stored.MAX_FILE_SIZE + 1),
])
def test_damaged_files_give_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / stored.FILE_NAME).write_bytes(content)
    with pytest.raises(stored.NetworksFileError):
        stored.load(tmp_path, ALICE)


def test_sealed_junk_gives_a_clear_error(tmp_path: Path) -> None:
    import nacl.secret

    from p2pchat.core.codec import pack

    box = nacl.secret.SecretBox(ALICE.derive_key(stored.PURPOSE))
    for junk in (pack({"a": 1}), pack([["Bad Name", KEY]]), pack([["ok", b"short"]])):
        sealed = box.encrypt(junk, pyrandom.Random(1).randbytes(24))
        (tmp_path / stored.FILE_NAME).write_text(json.dumps(
            {"format": "p2pchat-networks", "version": 1, "sealed": bytes(sealed).hex()}))
        with pytest.raises(stored.NetworksFileError):
            stored.load(tmp_path, ALICE)
