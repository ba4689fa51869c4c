"""The networks a home has joined: names and network keys, sealed with the identity.

`networks.json` holds one SecretBox (key: the identity's derived "networks" key) over the
msgpack list of [name, network key] pairs. The passphrase itself is never written anywhere: only
the Argon2id output is kept, and only sealed, so reading it takes the unlocked identity.
"""

from __future__ import annotations

import fcntl
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
VERSION = 1
MAX_FILE_SIZE = 8 * 1024
PURPOSE = "networks"


class NetworksFileError(Exception):
    """networks.json is unreadable, damaged or sealed for another identity."""


@dataclass(frozen=True)
class Network:
    name: str
    key: bytes  # the Argon2id network key: never logged, never shown


def path_of(home: Path) -> Path:
    return home / FILE_NAME


def load(home: Path, identity: Identity) -> list[Network]:
    """The joined networks; [] when the file is missing."""
    path = path_of(home)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise NetworksFileError(f"cannot read {path}: {exc}") from None
    if len(data) > MAX_FILE_SIZE:
        raise NetworksFileError(f"{path} is too large")
    try:
        record = json.loads(data)
        if record.get("format") != FORMAT or record.get("version") != VERSION:
            raise ValueError("not a networks file of this version")
        sealed = bytes.fromhex(record["sealed"])
        plain = nacl.secret.SecretBox(identity.derive_key(PURPOSE)).decrypt(sealed)
        items = unpack(plain, max_len=MAX_FILE_SIZE, max_str=64, max_bin=KEY_LEN,
                       max_array=MAX_NETWORKS, max_map=0, what="networks file")
        return [_network(item) for item in _as_list(items)]
    except nacl.exceptions.CryptoError:
        raise NetworksFileError(f"{path} was not sealed by this identity") from None
    except (ValueError, TypeError, KeyError, AttributeError, ProtocolError) as exc:
        raise NetworksFileError(f"{path} is damaged: {exc}") from None


def _as_list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value


def _network(item: object) -> Network:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError("entry is not a pair")
    name, key = item
    if not isinstance(name, str) or not isinstance(key, bytes) or len(key) != KEY_LEN:
        raise ValueError("entry has the wrong types")
    try:
        check_name(name)
    except NetworkError as exc:
        raise ValueError(str(exc)) from None
    return Network(name, key)


def save(home: Path, identity: Identity, networks: list[Network]) -> None:
    """Replace the file atomically (mode 0600)."""
    if len(networks) > MAX_NETWORKS:
        raise NetworkError(f"at most {MAX_NETWORKS} networks")
    box = nacl.secret.SecretBox(identity.derive_key(PURPOSE))
    sealed = box.encrypt(pack([[n.name, n.key] for n in networks]))
    data = json.dumps({"format": FORMAT, "version": VERSION, "sealed": bytes(sealed).hex()})
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
    """`networks` with `network` in it (a rejoin replaces the key: a new passphrase)."""
    kept = [n for n in networks if n.name != network.name]
    if len(kept) >= MAX_NETWORKS:
        raise NetworkError(f"at most {MAX_NETWORKS} networks at once: leave one first")
    return [*kept, network]


def left(networks: list[Network], name: str) -> list[Network]:
    if not any(n.name == name for n in networks):
        raise NetworkError(f"not in a network named {name!r}")
    return [n for n in networks if n.name != name]
