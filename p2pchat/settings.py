"""What the home remembers about how its node runs: `settings.json` (what the user set with
`p2pchat settings`) and `port` (where the node listened last time, and whether it looked for
people: kept across restarts so a friend's typed address keeps working, and so a start told
nothing is never more exposed than the last one).

Options on the command line win over the settings; the settings win over last run's choices,
and those over the defaults. Nothing secret lives here (the file is 0600 anyway, like
everything in the home).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

SETTINGS_FILE = "settings.json"
PORT_FILE = "port"
MAX_FILE_SIZE = 16 * 1024
MAX_VALUES = 8


class SettingsError(ValueError):
    """The settings file or a value for it is wrong; the message says how."""


def _addrs(values: list[str]) -> list[str]:
    from p2pchat.net.addresses import format_addr, parse_addr

    return [format_addr(parse_addr(v)) for v in values]


def _interfaces(values: list[str]) -> list[str]:
    """What --mdns-interface takes: an interface's IP address, no port (Discovery's rule)."""
    import ipaddress

    out = []
    for value in values:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an interface's IP address (as"
                             " --mdns-interface: 192.168.1.20, no port)") from None
        if address.is_unspecified or address.is_multicast:
            raise ValueError(f"{value!r} is not an interface's address")
        out.append(str(address))
    return out


def _relays(values: list[str]) -> list[str]:
    from p2pchat.net.relay_connection import parse_relay

    for value in values:
        parse_relay(value)  # raises ValueError with the reason
    return list(values)


def _switch(values: list[str]) -> bool:
    if len(values) != 1 or values[0].lower() not in ("on", "off"):
        raise ValueError("say on or off")
    return values[0].lower() == "on"


def _presence(values: list[str]) -> str:
    if len(values) != 1 or values[0] not in ("public", "private"):
        raise ValueError("say public or private")
    return values[0]


# key -> (what it means, how a typed value is checked and stored)
KEYS: dict[str, tuple[str, Callable[[list[str]], Any]]] = {
    "listen": ("addresses to accept links on, as --listen", _addrs),
    "relay": ("relays to attach to, as --relay", _relays),
    "mdns": ("on or off: look for people on the local network (--no-mdns is off)", _switch),
    "mdns-interface": ("discovery only on the interfaces with these addresses,"
                       " as --mdns-interface", _interfaces),
    "presence": ("public or private, as --presence", _presence),
    "found-relays": ("on or off: use relays other people advertise on the local network"
                     " (--no-found-relays is off)", _switch),
}


def load(home: Path) -> dict[str, Any]:
    """The settings kept in `home` (none: {}). Raises SettingsError for a broken file."""
    path = home / SETTINGS_FILE
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if len(data) > MAX_FILE_SIZE:
            raise ValueError("too large")
        settings = json.loads(data)
        if not isinstance(settings, dict):
            raise ValueError("not a JSON object")
        return {key: check(key, value if isinstance(value, list) else [
            "on" if value is True else "off" if value is False else str(value)])
            for key, value in settings.items()}
    except (ValueError, SettingsError) as exc:
        raise SettingsError(f"{path} is not valid ({exc}): fix it or 'p2pchat settings"
                            " KEY --unset'") from None


def check(key: str, values: list[str]) -> Any:
    """A typed value for `key`, checked; raises SettingsError saying what is wrong."""
    if key not in KEYS:
        raise SettingsError(f"unknown setting {key!r}: one of {', '.join(KEYS)}")
    if not values or len(values) > MAX_VALUES:
        raise SettingsError(f"{key}: give 1 to {MAX_VALUES} values")
    try:
        return KEYS[key][1](values)
    except ValueError as exc:
        raise SettingsError(f"{key}: {exc}") from None


def save(home: Path, settings: dict[str, Any]) -> None:
    from p2pchat.storage.atomic import replace_file  # here: `p2pchat --help` stays light

    replace_file(home / SETTINGS_FILE, (json.dumps(settings, indent=2) + "\n").encode())


_FROM = {"last run": "as last run", "settings": "from 'p2pchat settings'"}


def said_from(origin: object) -> str:
    """" (as last run)" after where the node listens or looks (`status`'s listen_from,
    mdns_from), when the user did not type it this time; "" otherwise."""
    return f" ({_FROM[origin]})" if isinstance(origin, str) and origin in _FROM else ""


def mdns_words(status: dict[str, Any]) -> str:
    """Discovery as `status` reports it, in words: "on", "on 127.0.0.1 only", "off"."""
    if not status.get("mdns"):
        return "off"
    only = status.get("mdns_interfaces") or []
    return f"on {', '.join(str(i) for i in only)} only" if only else "on"


class LastRun(NamedTuple):  # not a dataclass: `p2pchat --help` stays light
    """Where the node listened and looked for people last time (the `port` file): a start
    that is told neither does the same, never wider (trial 9, B1; trial 10, B1)."""

    port: int = 0  # 0: none kept
    host: str | None = None  # the first listening address's host ("::": every interface)
    mdns: bool | tuple[str, ...] | None = None  # off, on everywhere, on these interfaces


def _is_host(text: str) -> bool:
    """An IP address (an IPv6 one with its %zone) or a host name, as --listen takes."""
    import ipaddress
    import re

    try:
        ipaddress.ip_address(text.split("%")[0])
        return True
    except ValueError:
        return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}", text) is not None


def last_run(home: Path) -> LastRun:
    """What the `port` file says of the last run; what it does not say (a file from before
    trial 5 holds the port alone, before trial 11 no mDNS line) is left unknown."""
    try:
        with (home / PORT_FILE).open("rb") as handle:  # ours, but bounded like settings.json
            lines = [line.strip() for line in handle.read(4096).decode().split("\n")]
    except (OSError, ValueError):
        return LastRun()
    try:
        port = int(lines[0])
    except ValueError:
        port = 0
    host = lines[1] if len(lines) > 1 and _is_host(lines[1]) else None
    mdns: bool | tuple[str, ...] | None = None
    for line in lines[2:]:
        key, _, value = line.partition(" ")
        if key == "mdns" and value in ("on", "off"):
            mdns = value == "on"
        elif key == "mdns" and value:
            with contextlib.suppress(ValueError):
                mdns = tuple(_interfaces(value.split()[:MAX_VALUES]))
    return LastRun(port if 0 < port < 65536 else 0, host, mdns)


def keep_last_run(home: Path, run: LastRun) -> None:
    from p2pchat.storage.atomic import replace_file

    mdns = run.mdns
    said = ("on" if mdns else "off") if isinstance(mdns, bool) else " ".join(mdns or ())
    lines = [str(run.port), run.host or ""] + ([f"mdns {said}"] if said else [])
    with contextlib.suppress(OSError):  # a port not kept is picked afresh next time
        replace_file(home / PORT_FILE, "".join(f"{line}\n" for line in lines).encode(),
                     durable=False)
