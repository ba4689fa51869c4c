"""What a node says about itself on the LAN (mDNS / DNS-SD), and how to read what others say.

A node advertises the service type ``_p2pchat._tcp.local.`` with a small TXT record:

* public mode: ``{"v": "1", "fp": <fingerprint of the Ed25519 public key>, "n": <display name>}``
  under a stable instance name derived from the key;
* private mode: ``{"v": "1", "tag": <presence tag>}`` under a random instance name. The tag is
  keyed BLAKE2b over the day number with the public key as key, so only someone who already knows
  the key (a contact) can recognise it, and it changes every day. It does not hide the node from
  someone who knows its key; it hides it from everyone else.

Relays advertise ``_p2pchat-relay._tcp.local.`` (:data:`RELAY_SERVICE_TYPE`).

SECURITY: an advert is an unauthenticated multicast packet. Anyone on the LAN can send one with
any fingerprint, name, tag or address. An advert only suggests *where to dial*; the Noise handshake
on the resulting connection decides *who* the peer is. Never show an advert's name or key as a
verified identity, never trust its addresses beyond "try this", and treat every field as hostile:
:func:`parse_advert` bounds and validates all of it and never raises.

Pure module: standard library and PyNaCl only; time is passed in as a day number
(``unix_seconds // 86400``) and randomness as an injectable callable.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypeGuard

from p2pchat.core.identity import FingerprintError, fingerprint, parse_fingerprint

SERVICE_TYPE = "_p2pchat._tcp.local."
RELAY_SERVICE_TYPE = "_p2pchat-relay._tcp.local."
PROTOCOL_VERSION = "1"

SECONDS_PER_DAY = 86400
KEY_SIZE = 32
TAG_HEX_CHARS = 16  # 8 bytes of BLAKE2b, hex
MAX_VALUE_BYTES = 256  # any single TXT value
MAX_NAME_CHARS = 64  # display name after cleaning
MAX_INSTANCE_CHARS = 256  # full service name as zeroconf hands it over
MAX_ADDRESSES = 8  # addresses kept per advert
MAX_ADDRESSES_SCANNED = 64  # entries of the hostile address list looked at before giving up
MAX_ADDRESS_CHARS = 64  # longest address literal accepted (IPv6 with a scope id fits)
MAX_PROPERTIES_SCANNED = 64  # TXT entries looked at
MAX_SEALED = 8  # network entries m0..m7 (one per network a node is in)

_TAG_PERSON = b"p2pchat-presence"  # BLAKE2b personalisation, exactly 16 bytes
_INSTANCE_PREFIX = "p2pchat-"
_HEX = frozenset("0123456789abcdef")
# Unicode categories dropped from names: controls, format characters (bidi overrides,
# zero-width joiners), line/paragraph separators, surrogates, private use, unassigned.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def day_number(unix_seconds: float) -> int:
    """The day a Unix time falls in (UTC), as :func:`presence_tag` wants it."""
    return int(unix_seconds // SECONDS_PER_DAY)


def _check_key(public_key: bytes) -> None:
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != KEY_SIZE:
        raise ValueError(f"a public key is {KEY_SIZE} bytes")


def presence_tag(public_key: bytes, day: int) -> str:
    """The private-mode tag for `public_key` on `day`: 16 hex characters, rotating daily.

    Keyed BLAKE2b (key = the 32-byte public key, personalised for this purpose) over the day
    number. Recognisable only by someone who knows the key; unlinkable across days otherwise.
    """
    _check_key(public_key)
    if isinstance(day, bool) or not isinstance(day, int) or day < 0:
        raise ValueError("day is a non-negative integer (unix_seconds // 86400)")
    digest = hashlib.blake2b(
        day.to_bytes(8, "big"),
        key=bytes(public_key),
        person=_TAG_PERSON,
        digest_size=TAG_HEX_CHARS // 2,
    )
    return digest.hexdigest()


def _is_tag(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) == TAG_HEX_CHARS and set(value) <= _HEX


def matches_tag(public_key: bytes, tag: str, day: int) -> bool:
    """Whether `tag` is `public_key`'s tag for day-1, day or day+1 (clock skew). Never raises
    on a hostile tag; a malformed tag is simply no match."""
    if not _is_tag(tag):
        return False
    given = tag.encode("ascii")
    found = False
    for candidate_day in (day - 1, day, day + 1):
        if candidate_day < 0:
            continue
        expected = presence_tag(public_key, candidate_day).encode("ascii")
        # Check every day regardless, so timing does not say which one matched.
        found |= hmac.compare_digest(expected, given)
    return found


def clean_name(text: str) -> str | None:
    """A display name fit to show: no control/format characters, trimmed, at most 64 chars.

    Returns None when nothing printable is left.
    """
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in islice(text, MAX_NAME_CHARS * 4)
        if ch in "\t\n\r" or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    kept = " ".join(kept.split())[:MAX_NAME_CHARS].strip()
    return kept or None


def public_properties(public_key: bytes, name: str) -> dict[str, str]:
    """TXT properties for public mode: version, fingerprint, display name."""
    props = {"v": PROTOCOL_VERSION, "fp": fingerprint(bytes(public_key))}
    cleaned = clean_name(name)
    if cleaned is not None:
        # Keep the UTF-8 within the per-value cap that readers enforce.
        encoded = cleaned.encode("utf-8")[:MAX_VALUE_BYTES]
        props["n"] = encoded.decode("utf-8", errors="ignore")
    return props


def private_properties(public_key: bytes, day: int) -> dict[str, str]:
    """TXT properties for private mode: version and today's presence tag, nothing else."""
    return {"v": PROTOCOL_VERSION, "tag": presence_tag(public_key, day)}


def public_instance_name(public_key: bytes) -> str:
    """A stable DNS-SD instance label for public mode (the key is public there anyway).

    Stable across restarts, so a peer that moves to a new address replaces its old records.
    """
    _check_key(public_key)
    return _INSTANCE_PREFIX + bytes(public_key[:8]).hex()


def private_instance_name(random: Callable[[int], bytes] = os.urandom) -> str:
    """A random DNS-SD instance label for private mode (says nothing about who runs it)."""
    return _INSTANCE_PREFIX + bytes(random(8)).hex()


@dataclass(frozen=True)
class Advert:
    """What one DNS-SD advert claims. Unauthenticated: a hint where to dial, nothing more."""

    instance: str
    addresses: tuple[tuple[str, int], ...]
    version: str
    public_key: bytes | None = None
    name: str | None = None
    tag: str | None = None
    # Network entries (TXT m0..m7): opaque here, opened with a network key (core/network.py).
    sealed: tuple[str, ...] = ()

    def may_be(self, public_key: bytes, day: int) -> bool:
        """Whether this advert claims to be `public_key` (by fingerprint or by today's tag).

        A claim only: confirm it with the handshake before believing it.
        """
        if self.public_key is not None:
            return hmac.compare_digest(self.public_key, bytes(public_key))
        return self.tag is not None and matches_tag(public_key, self.tag, day)


def _text_value(properties: Mapping[object, object], key: bytes) -> str | None:
    """The value under `key` as text, or None when missing, not bytes, too big or not UTF-8."""
    raw: object = properties.get(key)
    if raw is None:
        # Some callers hand over str keys (zeroconf's decoded_properties).
        raw = properties.get(key.decode("ascii"))
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogatepass")
    if not isinstance(raw, bytes | bytearray | memoryview) or len(raw) > MAX_VALUE_BYTES:
        return None
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _bounded_properties(properties: object) -> dict[object, object] | None:
    """Copy at most MAX_PROPERTIES_SCANNED entries out of a hostile mapping."""
    if not isinstance(properties, Mapping):
        return None
    copied: dict[object, object] = {}
    for key in islice(iter(properties), MAX_PROPERTIES_SCANNED):
        if isinstance(key, bytes | str) and len(key) <= 16:
            copied[key] = properties[key]
    return copied


def _parse_address(value: object) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ADDRESS_CHARS:
        return None
    if not value.isascii() or not value.isprintable() or " " in value:
        return None  # ipaddress lets almost anything through as an IPv6 scope id
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if address.is_unspecified or address.is_multicast:
        return None
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
        "255.255.255.255"
    ):
        return None
    return str(address)


def _parse_addresses(addresses: object, port: int) -> tuple[tuple[str, int], ...]:
    if isinstance(addresses, str | bytes | bytearray) or not isinstance(addresses, Iterable):
        return ()
    kept: list[tuple[str, int]] = []
    for value in islice(iter(addresses), MAX_ADDRESSES_SCANNED):
        host = _parse_address(value)
        if host is not None and (host, port) not in kept:
            kept.append((host, port))
            if len(kept) == MAX_ADDRESSES:
                break
    return tuple(kept)


def _parse_instance(instance: object) -> str | None:
    if not isinstance(instance, str) or not 0 < len(instance) <= MAX_INSTANCE_CHARS:
        return None
    if any(unicodedata.category(ch) in _DROPPED_CATEGORIES for ch in instance):
        return None
    return instance


def parse_advert(
    instance: str,
    properties: Mapping[bytes, bytes | None],
    addresses: Sequence[str],
    port: int,
) -> Advert | None:
    """Read a resolved DNS-SD record; None when it is not a usable p2pchat v1 advert.

    Every input is hostile: wrong types, non-UTF-8, oversized values, unknown versions, bad
    ports and junk addresses give None (for the record) or drop the field. Never raises.
    """
    try:
        return _parse_advert(instance, properties, addresses, port)
    except Exception:  # a hostile Mapping/Sequence may raise anything from its dunders
        return None


def _parse_advert(
    instance: object, properties: object, addresses: object, port: object
) -> Advert | None:
    name_of_instance = _parse_instance(instance)
    if name_of_instance is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        return None
    props = _bounded_properties(properties)
    if props is None:
        return None
    if _text_value(props, b"v") != PROTOCOL_VERSION:
        return None
    parsed_addresses = _parse_addresses(addresses, port)
    if not parsed_addresses:
        return None

    public_key: bytes | None = None
    fp_text = _text_value(props, b"fp")
    if fp_text is not None:
        try:
            public_key = parse_fingerprint(fp_text)
        except (FingerprintError, ValueError):
            public_key = None
        if public_key is not None and len(public_key) != KEY_SIZE:
            public_key = None

    name_text = _text_value(props, b"n")
    name = clean_name(name_text) if name_text is not None else None

    tag_text = _text_value(props, b"tag")
    tag = tag_text if _is_tag(tag_text) else None

    sealed = tuple(value for index in range(MAX_SEALED)
                   if (value := _text_value(props, f"m{index}".encode("ascii"))) is not None)

    return Advert(
        instance=name_of_instance,
        addresses=parsed_addresses,
        version=PROTOCOL_VERSION,
        public_key=public_key,
        name=name,
        tag=tag,
        sealed=sealed,
    )
