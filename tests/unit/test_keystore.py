import json
import os
import stat
from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from p2pchat.storage import keystore


def test_sealed_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    ident = Identity.generate()
    keystore.create(tmp_path, ident, "alice", b"correct horse")
    path = keystore.identity_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ident.seed.hex() not in path.read_text()
    loaded = keystore.load(tmp_path, b"correct horse")
    assert loaded.identity.public_key == ident.public_key and loaded.sealed
    before = path.read_bytes()
    with pytest.raises(keystore.WrongPassphrase, match="wrong passphrase"):
        keystore.load(tmp_path, b"incorrect horse")
    with pytest.raises(keystore.PassphraseNeeded):
        keystore.load(tmp_path, None)
    assert path.read_bytes() == before


def test_unsealed(tmp_path: Path) -> None:
    ident = Identity.generate()
    keystore.create(tmp_path, ident, "relay", None)
    loaded = keystore.load(tmp_path, None)
    assert loaded.identity.seed == ident.seed and not loaded.sealed
    assert keystore.read_header(tmp_path).name == "relay"


def test_never_overwrites(tmp_path: Path) -> None:
    keystore.create(tmp_path, Identity.generate(), "a", None)
    before = keystore.identity_path(tmp_path).read_bytes()
    with pytest.raises(keystore.KeystoreError, match="already exists"):
        keystore.create(tmp_path, Identity.generate(), "b", None)
    assert keystore.identity_path(tmp_path).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [keystore.FILE_NAME]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: os.urandom(len(raw)),
        lambda raw: raw[: len(raw) // 2],
        lambda raw: b"",
        lambda raw: raw.replace(b'"version": 1', b'"version": 99'),
        lambda raw: raw.replace(b'"sealed": true', b'"sealed": "yes"'),
        lambda raw: raw.replace(b'"opslimit": 2', b'"opslimit": 999999'),
        lambda raw: json.dumps([1, 2]).encode(),
        lambda raw: b"\xff" * 100_000,
    ],
)
def test_damaged_files_give_clear_errors_and_stay(tmp_path: Path, mangle) -> None:
    keystore.create(tmp_path, Identity.generate(), "alice", b"pw")
    path = keystore.identity_path(tmp_path)
    damaged = mangle(path.read_bytes())
    path.write_bytes(damaged)
    with pytest.raises(keystore.KeystoreError) as info:
        keystore.load(tmp_path, b"pw")
    assert str(info.value)
    assert path.read_bytes() == damaged


def test_seed_swapped_for_another_is_detected(tmp_path: Path) -> None:
    keystore.create(tmp_path, Identity.generate(), "alice", None)
    path = keystore.identity_path(tmp_path)
    record = json.loads(path.read_text())
    record["seed"] = Identity.generate().seed.hex()
    path.write_text(json.dumps(record))
    with pytest.raises(keystore.KeystoreError, match="does not match"):
        keystore.load(tmp_path, None)


def test_deeply_nested_file_is_damaged_not_a_recursion_error(tmp_path: Path) -> None:
    path = keystore.identity_path(tmp_path)
    path.write_bytes(b"[" * 8000)  # well under the size cap, far over the parser's stack
    with pytest.raises(keystore.KeystoreError, match="damaged"):
        keystore.load(tmp_path, None)
    assert path.read_bytes() == b"[" * 8000


@pytest.mark.parametrize("name", ["evil\u202eexe", "a\x9b31m", "a\x85b", " ", ""])
def test_names_the_wire_would_refuse_are_refused_at_init(tmp_path: Path, name: str) -> None:
    with pytest.raises(keystore.KeystoreError, match="name"):
        keystore.create(tmp_path, Identity.generate(), name, None)
    assert not keystore.exists(tmp_path)


def test_a_file_whose_name_breaks_the_rule_says_what_to_fix(tmp_path: Path) -> None:
    # Written by an older version, whose rule let C1 and bidi controls through.
    keystore.create(tmp_path, Identity.generate(), "alice", None)
    path = keystore.identity_path(tmp_path)
    record = json.loads(path.read_text())
    record["name"] = "alice\u202e"
    path.write_text(json.dumps(record))
    with pytest.raises(keystore.KeystoreError, match=r"U\+202E.*edit its \"name\" field"):
        keystore.load(tmp_path, None)
