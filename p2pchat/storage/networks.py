"""The networks a home is in: names, network keys and passphrases, sealed with the identity.

`networks.json` (version 3) holds one SecretBox (key: the identity's derived "networks" key) over
the msgpack list of [name, network key, passphrase, legacy] entries, and the names alone in the
clear (`names`), so `p2pchat network list` with no node running needs no passphrase: they are no
more secret than the contacts' names in the address book (docs/privacy.md). The sealed list is
the truth; the clear one is only shown. A version-2 file is the same without `names`. A member
keeps the passphrase because it admits others with it (a SPAKE2 exchange needs it on both
sides); a node still waiting to be admitted has a passphrase and no key yet. Reading the sealed
list takes the unlocked identity. A version-1 file (from before admissions: [name, Argon2id
key] pairs) is read as legacy networks, which keep working but can admit nobody (docs/
protocol.md 10.8).
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.secret

from p2pchat.core.codec import pack, unpack
from p2pchat.core.errors import ProtocolError
from p2pchat.core.identity import Identity
from p2pchat.core.network import KEY_LEN, MAX_NETWORKS, NetworkError, check_name
from p2pchat.storage.atomic import replace_file

FILE_NAME = "networks.json"
LOCK_NAME = ".networks.lock"
FORMAT = "p2pchat-networks"
VERSION = 3
SEALED_ONLY_VERSION = 2  # no clear `names` yet: written again as VERSION at the next change
LEGACY_VERSION = 1
READABLE = (VERSION, SEALED_ONLY_VERSION, LEGACY_VERSION)
MAX_FILE_SIZE = 64 * 1024  # eight passphrases of up to 1024 bytes, in hex
MAX_PASSPHRASE_BYTES = 1024
PURPOSE = "networks"


class NetworksFileError(Exception):
    """networks.json is unreadable, damaged or sealed for another identity."""


@dataclass(frozen=True)
class Network:
    name: str
    key: bytes  # the network key (b"" while waiting for admission): never logged, never shown
    passphrase: str = ""  # what admits others ("" for a legacy network): never logged
    legacy: bool = False  # a version-1 network: its key is Argon2id of the passphrase

    @property
    def pending(self) -> bool:
        """Joined with a passphrase, not admitted by a member yet."""
        return not self.key

    @property
    def state(self) -> str:
        """waiting (for admission), legacy (a passphrase key) or member."""
        return "waiting" if self.pending else "legacy" if self.legacy else "member"


def check_passphrase(passphrase: str) -> None:
    if not passphrase:
        raise NetworkError("an empty network passphrase protects nothing")
    if len(passphrase.encode("utf-8")) > MAX_PASSPHRASE_BYTES:
        raise NetworkError(f"a network passphrase is at most {MAX_PASSPHRASE_BYTES} bytes")


def path_of(home: Path) -> Path:
    return home / FILE_NAME


def _read_record(path: Path) -> dict[str, object] | None:
    """The file's JSON object, its format and version checked; None when it is missing."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NetworksFileError(f"cannot read {path}: {exc}") from None
    if len(data) > MAX_FILE_SIZE:
        raise NetworksFileError(f"{path} is too large")
    try:
        record = json.loads(data)
        if (not isinstance(record, dict) or record.get("format") != FORMAT
                or record.get("version") not in READABLE):
            raise ValueError("not a networks file of this version")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so nesting
        raise NetworksFileError(f"{path} is damaged: {exc}") from None
    return record


def load_names(home: Path) -> list[str] | None:
    """The joined networks' names, read without the identity: [] when the file is missing,
    None when it is from before the names were kept in the clear (only unlocking tells)."""
    path = path_of(home)
    record = _read_record(path)
    if record is None:
        return []
    if record["version"] != VERSION:
        return None
    names = record.get("names")
    try:
        if not isinstance(names, list) or len(names) > MAX_NETWORKS:
            raise ValueError(f"`names` is not a list of at most {MAX_NETWORKS}")
        for name in names:
            check_name(name)  # bounded: at most 32 characters of a-z 0-9 . _ -
        if len(set(names)) != len(names):
            raise ValueError("a name is listed twice")
    except (ValueError, NetworkError) as exc:
        raise NetworksFileError(f"{path} is damaged (its list of names): {exc}") from None
    return names


def load(home: Path, identity: Identity) -> list[Network]:
    """The joined networks; [] when the file is missing."""
    path = path_of(home)
    record = _read_record(path)
    if record is None:
        return []
    try:
        version = record["version"]
        sealed = bytes.fromhex(str(record["sealed"]))
        plain = nacl.secret.SecretBox(identity.derive_key(PURPOSE)).decrypt(sealed)
        items = unpack(plain, max_len=MAX_FILE_SIZE, max_str=MAX_PASSPHRASE_BYTES,
                       max_bin=KEY_LEN, max_array=MAX_NETWORKS, max_map=0, what="networks file")
        parse = _legacy_network if version == LEGACY_VERSION else _network
        return [parse(item) for item in _as_list(items)]
    except nacl.exceptions.CryptoError:
        raise NetworksFileError(f"{path} was not sealed by this identity") from None
    except (ValueError, TypeError, KeyError, AttributeError, ProtocolError) as exc:
        raise NetworksFileError(f"{path} is damaged: {exc}") from None


def _as_list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value


def _legacy_network(item: object) -> Network:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError("entry is not a pair")
    return _network([*item, "", True])


def _network(item: object) -> Network:
    if not isinstance(item, list) or len(item) != 4:
        raise ValueError("entry is not [name, key, passphrase, legacy]")
    name, key, passphrase, legacy = item
    if (not isinstance(name, str) or not isinstance(key, bytes) or len(key) not in (0, KEY_LEN)
            or not isinstance(passphrase, str) or not isinstance(legacy, bool)):
        raise ValueError("entry has the wrong types")
    if not key and not passphrase:
        raise ValueError("entry has neither key nor passphrase")
    try:
        check_name(name)
    except NetworkError as exc:
        raise ValueError(str(exc)) from None
    return Network(name, key, passphrase, legacy)


def save(home: Path, identity: Identity, networks: list[Network]) -> None:
    """Replace the file atomically (mode 0600)."""
    if len(networks) > MAX_NETWORKS:
        raise NetworkError(f"at most {MAX_NETWORKS} networks")
    box = nacl.secret.SecretBox(identity.derive_key(PURPOSE))
    sealed = box.encrypt(pack([[n.name, n.key, n.passphrase, n.legacy] for n in networks]))
    data = json.dumps({"format": FORMAT, "version": VERSION, "names": [n.name for n in networks],
                       "sealed": bytes(sealed).hex()})
    replace_file(path_of(home), data.encode("ascii"))


def change(home: Path, identity: Identity,
           edit: Callable[[list[Network]], list[Network]]) -> list[Network]:
    """Apply `edit` to what the file holds now and save the result, under an exclusive lock:
    the node and `p2pchat network join` may change networks at the same time, and each must
    build on the other's change, not overwrite it. The lock is held for one read and one write
    (the slow Argon2id is done before); `edit` may raise NetworkError, and then nothing is
    written. Returns the networks saved."""
    fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        networks = edit(load(home, identity))
        save(home, identity, networks)
        return networks
    finally:
        os.close(fd)  # and with it the lock


def joined(networks: list[Network], network: Network) -> list[Network]:
    """`networks` with `network` in it. A network we are a member of is not replaced (leave it
    first); a legacy or still waiting one is (a rejoin, or a new passphrase)."""
    for n in networks:
        if n.name == network.name and not n.pending and not n.legacy:
            raise NetworkError(f"already a member of network {n.name}: leave it first to"
                               " join it with another passphrase")
    kept = [n for n in networks if n.name != network.name]
    if len(kept) >= MAX_NETWORKS:
        raise NetworkError(f"at most {MAX_NETWORKS} networks at once: leave one first")
    return [*kept, network]


def admitted(networks: list[Network], name: str, passphrase: str,
             key: bytes) -> list[Network]:
    """A member gave us the key of the network we were waiting for. Nothing changes if we left
    it, or joined it again with another passphrase, meanwhile."""
    return [Network(n.name, key, n.passphrase)
            if n.name == name and n.pending and hmac.compare_digest(
                n.passphrase.encode("utf-8"), passphrase.encode("utf-8")) else n
            for n in networks]


def left(networks: list[Network], name: str) -> list[Network]:
    if not any(n.name == name for n in networks):
        raise NetworkError(f"not in a network named {name!r}")
    return [n for n in networks if n.name != name]
