"""The identity file in a home: the Ed25519 seed, sealed with a passphrase.

Format (JSON, so a person can see what it holds and what it does not):
    {"format": "p2pchat-identity", "version": 1, "name": "...", "public_key": "<hex>",
     "sealed": true, "kdf": {"alg": "argon2id", "opslimit": N, "memlimit": N, "salt": "<hex>"},
     "seed": "<hex of SecretBox(nonce || ciphertext)>"}
With "sealed": false there is no "kdf" and "seed" is the plain seed (relays, tests).

The seed is sealed with SecretBox (XSalsa20-Poly1305) under a key stretched from the passphrase by
Argon2id. The file is written atomically (temp file, fsync, rename) with mode 0600. Its key
material is never rewritten: a wrong passphrase or a damaged file is reported and left as it is;
only `rename` replaces the file, with the same fields and a new name.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from p2pchat.core.identity import Identity, IdentityError
from p2pchat.core.text import MAX_NAME_CHARS, BadName, name_problem, valid_name
from p2pchat.storage.atomic import replace_file

FILE_NAME = "identity.json"
FORMAT = "p2pchat-identity"
VERSION = 1
MAX_FILE_SIZE = 16 * 1024
MAX_NAME = MAX_NAME_CHARS
# Interactive limits keep unlocking under a second on a small machine. A hostile file could ask
# for absurd costs to hang us, so anything above these ceilings is refused.
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
_MAX_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE
_MAX_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE


class KeystoreError(Exception):
    """The identity file is missing, damaged or of an unknown version; the message says which."""


class WrongPassphrase(KeystoreError):
    def __init__(self) -> None:
        super().__init__("wrong passphrase")


class PassphraseNeeded(KeystoreError):
    """The identity is sealed and no passphrase was given."""


@dataclass(frozen=True)
class StoredIdentity:
    identity: Identity
    name: str
    sealed: bool


@dataclass(frozen=True)
class IdentityHeader:
    """What the file says without unlocking it."""

    name: str
    public_key: bytes
    sealed: bool


def identity_path(home: Path) -> Path:
    return home / FILE_NAME


def exists(home: Path) -> bool:
    return identity_path(home).exists()


def validate_name(name: str) -> str:
    """`name` as the identity keeps it and Hello sends it: the one name rule of core.text."""
    try:
        return valid_name(name)
    except BadName as exc:
        raise KeystoreError(f"{exc} (a name is 1 to {MAX_NAME} characters, no control or"
                            " bidi characters)") from None


def create(home: Path, identity: Identity, name: str, passphrase: bytes | None) -> None:
    """Write a new identity file; refuses if one exists (nothing is ever overwritten)."""
    record: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": validate_name(name),
        "public_key": identity.public_key.hex(),
        "sealed": passphrase is not None,
    }
    if passphrase is None:
        record["seed"] = identity.seed.hex()
    else:
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(_stretch(passphrase, salt, OPSLIMIT, MEMLIMIT))
        record["kdf"] = {"alg": "argon2id", "opslimit": OPSLIMIT, "memlimit": MEMLIMIT,
                         "salt": salt.hex()}
        record["seed"] = bytes(box.encrypt(identity.seed)).hex()
    _write_new(identity_path(home), json.dumps(record, indent=2).encode() + b"\n")


def rename(home: Path, name: str) -> str:
    """Change the name kept with the identity (what contacts see); the key stays as it is."""
    name = validate_name(name)
    path = identity_path(home)
    _read(home)  # the file must be sound before we touch it
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read {path}: {exc}") from None
    record["name"] = name
    replace_file(path, json.dumps(record, indent=2).encode() + b"\n")
    return name


def read_header(home: Path) -> IdentityHeader:
    record = _read(home)
    return IdentityHeader(name=record["name"], public_key=record["public_key"],
                          sealed=record["sealed"])


def load(home: Path, passphrase: bytes | None) -> StoredIdentity:
    """Unlock the identity. `passphrase` is used only when the file is sealed."""
    record = _read(home)
    if record["sealed"]:
        if passphrase is None:
            # How to give one is the caller's to say (a command names its own option).
            raise PassphraseNeeded("this identity is protected by a passphrase")
        kdf = record["kdf"]
        box = nacl.secret.SecretBox(
            _stretch(passphrase, kdf["salt"], kdf["opslimit"], kdf["memlimit"])
        )
        try:
            seed = bytes(box.decrypt(record["seed"]))
        except nacl.exceptions.CryptoError:
            raise WrongPassphrase() from None
    else:
        seed = record["seed"]
    try:
        identity = Identity.from_seed(seed)
    except IdentityError as exc:
        raise KeystoreError(f"{identity_path(home)} is damaged: {exc}") from None
    if not hmac.compare_digest(identity.public_key, record["public_key"]):
        raise KeystoreError(f"{identity_path(home)} is damaged: its key does not match its seed")
    return StoredIdentity(identity=identity, name=record["name"], sealed=record["sealed"])


def _stretch(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=opslimit,
            memlimit=memlimit,
        )
    )


def _read(home: Path) -> dict[str, Any]:
    """Parse and check every field; the file is hostile until proven otherwise."""
    path = identity_path(home)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise KeystoreError(
            f"no identity in {home}: create one with 'p2pchat init'"
        ) from None
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}") from None
    damaged = f"{path} is damaged or not a p2pchat identity file"
    if len(raw) > MAX_FILE_SIZE:
        raise KeystoreError(f"{damaged} (too large)")
    try:
        record = json.loads(raw.decode("utf-8"))
    # RecursionError: deep nesting ("[[[[..."), which fits in far fewer bytes than the cap.
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise KeystoreError(damaged) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise KeystoreError(damaged)
    version = record.get("version")
    if version != VERSION:
        raise KeystoreError(
            f"{path} has format version {version!r}; this p2pchat reads version {VERSION}:"
            " upgrade p2pchat"
        )
    try:
        name = _typed(record, "name", str)
    except TypeError:
        raise KeystoreError(damaged) from None
    problem = name_problem(name)
    if problem is not None:
        # Written by a version with a looser rule: say what to fix rather than "damaged".
        raise KeystoreError(
            f"the name in {path} is not allowed ({problem}): edit its \"name\" field"
            f" (1 to {MAX_NAME} characters, no control or bidi characters)"
        )
    try:
        checked: dict[str, Any] = {
            "name": name,
            "public_key": _hex(record, "public_key", 32),
            "sealed": _typed(record, "sealed", bool),
        }
        if checked["sealed"]:
            kdf = _typed(record, "kdf", dict)
            if kdf.get("alg") != "argon2id":
                raise ValueError("unknown kdf")
            opslimit, memlimit = _typed(kdf, "opslimit", int), _typed(kdf, "memlimit", int)
            if not (1 <= opslimit <= _MAX_OPSLIMIT and 8192 <= memlimit <= _MAX_MEMLIMIT):
                raise ValueError("kdf cost out of range")
            checked["kdf"] = {"opslimit": opslimit, "memlimit": memlimit,
                              "salt": _hex(kdf, "salt", nacl.pwhash.argon2id.SALTBYTES)}
            sealed_len = 32 + nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES
            checked["seed"] = _hex(record, "seed", sealed_len)
        else:
            checked["seed"] = _hex(record, "seed", 32)
    except (ValueError, TypeError, KeystoreError):
        raise KeystoreError(damaged) from None
    return checked


def _typed(record: dict[str, Any], key: str, kind: type) -> Any:
    value = record.get(key)
    # bool is an int in Python; a count must not be a bool and a flag must be one.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(key)
    return value


def _hex(record: dict[str, Any], key: str, size: int) -> bytes:
    value = bytes.fromhex(_typed(record, key, str))
    if len(value) != size:
        raise ValueError(key)
    return value


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` with `data` atomically, mode 0600, refusing to replace an existing file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails if the target exists, where rename() would silently replace it.
        os.link(tmp, path)
    except FileExistsError:
        raise KeystoreError(f"an identity already exists in {path.parent}; not overwriting it")\
            from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
