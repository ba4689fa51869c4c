"""What a node is told at start, and the one error its commands raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from p2pchat import __version__
from p2pchat.core.session import SessionConfig
from p2pchat.net.addresses import Address
from p2pchat.net.relay_connection import RelayAddress

SOFTWARE = f"p2pchat/{__version__}"
MAX_ADDRS = 8  # addresses kept per contact, and ports announced in a Hello


class CommandError(Exception):
    """A command the user (or a script) got wrong; the message says how to put it right."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class NodeConfig:
    listen: tuple[Address, ...] = (("::", 0),)  # every interface, IPv6 and IPv4, one port
    mdns: bool = True
    mdns_interfaces: tuple[str, ...] | None = None
    presence: str = "public"  # or "private": see docs/privacy.md
    # Attach to relays other people advertise by mDNS (settings found-relays, --no-found-relays)
    found_relays: bool = True
    max_links: int = 128  # authenticated links, and our own dials
    max_links_per_ip: int = 16
    # Inbound connections still handshaking: kept apart from the links above, so strangers
    # holding idle connections can neither fill the node nor stop it dialling its contacts.
    max_handshakes: int = 32
    max_handshakes_per_ip: int = 4
    max_strangers: int = 8
    max_requests: int = 64
    stranger_lifetime: float = 30.0
    connect_timeout: float = 5.0
    group_sync_interval: float = 10.0  # seconds between a group's anti-entropy rounds
    session: SessionConfig = field(default_factory=SessionConfig)
    relays: tuple[RelayAddress, ...] = ()  # --relay; mDNS adds the ones it finds
    # Head start of a round's direct dials before a relay is tried alongside them (happy
    # eyeballs, net/dialer.py); with no address to dial the relay is tried at once.
    relay_after: float = 0.25
    # The longest wait between two dials of a contact that does not answer (net/dialer.py's
    # backoff cap); tests shorten it so a few failed dials take a moment, not a quarter minute.
    dial_cap: float = 4.0
    # The first waits between knocks on a node that has our contact request (net/dialer.py's
    # patient_interval: they may accept at any moment and be unable to dial back).
    knock_interval: float = 2.0
    # How long a contact's last known address may not answer before the screens suggest it
    # moved (node/reach.py): at first a contact who went is just "offline" (trial 9, B7).
    stale_address_after: float = 600.0
    # Listen on last time's port (kept in the home) where the port is not fixed, so a typed
    # address keeps working; never with private presence (ports rotate there).
    keep_port: bool = False
    # The chat screen starts discovery itself once drawn (Node.start_discovery), on a node
    # started with mdns=False: still the home's choice to keep for the next start.
    mdns_deferred: bool = False
    # Where listen and the mDNS choice came from, for `status` to say: "options",
    # "settings", "last run" (kept in the home, cli/serve.py) or "default".
    listen_from: str = "default"
    mdns_from: str = "default"
    # The node runs inside a chat screen's process (`status` says so: another screen that
    # attaches to it tells its user that screen runs it, not a background node).
    in_chat_screen: bool = False
    # Files (node/files.py): where received files go (None: the home's "downloads" folder), and
    # the largest file from a contact saved without asking.
    downloads: Path | None = None
    auto_accept_size: int = 64 * 1024 * 1024
