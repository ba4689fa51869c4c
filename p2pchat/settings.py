"""What the home remembers about how its node runs: `settings.json` (what the user set with
`p2pchat settings`) and `port` (the listening port the node picked, kept across restarts so a
friend's typed address keeps working).

Options on the command line win over the settings; the settings win over the defaults. Nothing
secret lives here (the file is 0600 anyway, like everything in the home).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def kept_port(home: Path) -> int:
    """The port the node listened on last time, or 0 (none kept)."""
    try:
        port = int((home / PORT_FILE).read_text().split("\n")[0].strip())
    except (OSError, ValueError):
        return 0
    return port if 0 < port < 65536 else 0


def kept_host(home: Path) -> str | None:
    """The host the node listened on last time with the kept port ("::": every interface), or
    None if not recorded (a port file from before trial 5 holds the port alone)."""
    try:
        lines = (home / PORT_FILE).read_text().split("\n")
    except OSError:
        return None
    return lines[1].strip() if len(lines) > 1 and lines[1].strip() else None


ANY_HOST = frozenset({"", "::", "0.0.0.0"})


def widened_from(last_host: str | None, host: str) -> str | None:
    """Last run's host when it listened on one address and this run listens on another (every
    interface, after a one-off `--listen 127.0.0.1:0`): never widened in silence (trial 5,
    B1). None when last time was already every interface, this run is one address, or not
    known."""
    if last_host is None or last_host in ANY_HOST or host not in ANY_HOST:
        return None
    return last_host


def widened_warning(status: dict[str, Any]) -> str:
    """The line `node`, `chat` and `status` print when this run listens wider than the last
    (`status`'s listen_widened_from), with the setting that keeps it narrow; "" if not."""
    from p2pchat.net.addresses import format_addr, parse_addr

    host = status.get("listen_widened_from")
    if not isinstance(host, str) or not status.get("listen"):
        return ""
    port = parse_addr(str(status["listen"][0]))[1]
    return (f"warning: listening on {', '.join(status['listen'])}, wider than last run"
            f" ({host} only); 'p2pchat settings listen {format_addr((host, port))}' keeps it")


def keep_port(home: Path, port: int, host: str = "::") -> None:
    from p2pchat.storage.atomic import replace_file

    with contextlib.suppress(OSError):  # a port not kept is picked afresh next time
        replace_file(home / PORT_FILE, f"{port}\n{host}\n".encode(), durable=False)
