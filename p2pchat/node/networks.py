"""Networks: the room passphrases this node joined, and what they change.

A node in no network behaves as before. In one or more networks (docs/protocol.md, "Networks"):

* handshakes: we dial members with their network's PSK, and answer network handshakes of every
  network we are in; a plain handshake gets through only for an existing contact (`admit`);
* discovery: our advert holds only one sealed entry per network (`properties`), and we read
  other members' entries to find them (`claims`) and to list them by name (`member`).

The keys live sealed in the home (storage/networks.py). Joining stores the passphrase as
*waiting*: node/admission.py then asks members for the network key (a SPAKE2 exchange), and
answers others' requests for the networks we are a member of (`admission_secret`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pchat.core import admission as adm
from p2pchat.core import network as net
from p2pchat.core.identity import Identity, fingerprint
from p2pchat.core.presence import PROTOCOL_VERSION, Advert
from p2pchat.core.session import Established
from p2pchat.node.config import CommandError
from p2pchat.node.peer_state import PeerLink
from p2pchat.passphrases import join_warning
from p2pchat.storage import networks as stored

log = logging.getLogger("p2pchat.node")

MAX_OPENED = 1024  # advert entries whose opening we remember (hostile adverts can't grow it)
MAX_MET = 4096  # peers remembered with the network we met them in


class Networks:
    def __init__(self, home: Path, identity: Identity, name: str, *,
                 on_change: Callable[[], None],
                 on_waiting: Callable[[], None] = lambda: None,
                 discovering: Callable[[], bool] = lambda: True,
                 is_own: Callable[[tuple[str, int]], bool] = lambda address: False) -> None:
        self._home = home
        self._is_own = is_own  # our own listening socket: not a member to ask (--via)
        # Whether mDNS discovery runs: admission finds members by their adverts only.
        self._discovering = discovering
        self._identity = identity
        self._key = identity.public_key
        self._name = name
        self._on_change = on_change  # joined or left: re-advertise
        self._on_waiting = on_waiting  # a network waits for admission: ask members now
        self._all: list[stored.Network] = []  # as the file holds them, waiting ones too
        self._joined: list[stored.Network] = []  # those we hold the key of
        self._psks: dict[bytes, str] = {}  # handshake PSK -> network name
        self._opened: dict[tuple[str, int], tuple[str, bytes, str | None] | None] = {}
        self._met: dict[bytes, str] = {}  # peer key -> network of its last network handshake
        self._attempts: dict[bytes, int] = {}  # dials to keys of unknown network (psk_for)
        # (name, passphrase) the members we heard refused: not asked again until joined again
        self._refused: set[tuple[str, str]] = set()

    # ------------------------------------------------------------ state

    def load(self) -> None:
        """Read the networks joined from the home (keys sealed with the identity)."""
        try:
            self._set(stored.load(self._home, self._identity))
        except stored.NetworksFileError as exc:
            raise CommandError("networks", str(exc)) from None
        for network in self._all:
            if network.legacy:
                log.warning("network %s was joined under the old scheme: its passphrase can be"
                            " guessed offline from adverts and handshakes. To upgrade, one"
                            " member runs `p2pchat network create %s` and the others join it"
                            " again", network.name, network.name)

    def _set(self, networks: list[stored.Network]) -> None:
        self._all = networks
        self._joined = [n for n in networks if not n.pending]
        self._psks = {net.handshake_psk(n.key): n.name for n in self._joined}
        self._opened.clear()
        if self.waiting():
            self._on_waiting()

    @property
    def joined(self) -> bool:
        """In a network, or waiting to be admitted to one: either way we advertise only
        sealed entries (none while waiting), never our name (docs/privacy.md)."""
        return bool(self._all)

    def hidden(self) -> bool:
        """Waiting for admission and in no network yet: answer handshakes as a member does
        (no plain XX; plain IK from contacts only), though with no network PSK to offer."""
        return bool(self._all) and not self._joined

    def names(self) -> list[str]:
        """The names of the networks joined, in the order they were joined."""
        return [n.name for n in self._joined]

    def waiting(self) -> list[tuple[str, str]]:
        """(name, passphrase) of every network joined but not admitted to yet."""
        return [(n.name, n.passphrase) for n in self._all
                if n.pending and (n.name, n.passphrase) not in self._refused]

    def pending(self) -> list[stored.Network]:
        """Every network joined but not admitted to yet, refused ones too."""
        return [n for n in self._all if n.pending]

    def to_ask(self) -> list[tuple[str, str]]:
        """(name, passphrase) of every network still to be admitted to, refused ones too: the
        joiner goes on asking nodes that have not refused it (node/admission.py)."""
        return [(n.name, n.passphrase) for n in self._all if n.pending]

    def refused_names(self) -> list[str]:
        """Networks waiting with a passphrase the members we heard refused (node/admission.py):
        a wrong passphrase or name. Asked again after the user joins again."""
        return [n.name for n in self._all if n.pending and (n.name, n.passphrase) in self._refused]

    def refuse(self, name: str, passphrase: str) -> None:
        """The nodes we asked did not admit us with this passphrase: say so (once); nodes not
        asked yet still are (members of `name` may come later, or those were in another)."""
        if (name, passphrase) in self._refused:
            return
        if len(self._refused) < 64:  # bounded: one per waiting network at most, in practice
            self._refused.add((name, passphrase))
        # A node not in the network answers as a member refusing a wrong passphrase does
        # (docs/protocol.md 10.7): which of the two it was cannot be known, so neither is said.
        log.warning("network %s: no node nearby admitted us: either none of them is in %s yet,"
                    " or the passphrase is wrong (they cannot be told apart); those are not"
                    " asked again, nodes heard later are", name, name,
                    extra={"shown_as_event": True})  # networks_changed's `refused` says it
        self._on_change()

    def admission_secret(self, network_id: bytes) -> tuple[str, str, bytes] | None:
        """(name, passphrase, key) of the network whose admission id is `network_id`, if we
        can admit to it (members only: a legacy network has no passphrase to check)."""
        for n in self._joined:
            if n.passphrase and not n.legacy and \
                    hmac.compare_digest(adm.network_id(n.name), network_id):
                return n.name, n.passphrase, n.key
        return None

    def admits_id(self, network_id: bytes) -> bool:
        """Whether we can admit joiners to the network with this id (we hold its key)."""
        return self.admission_secret(network_id) is not None

    def psks(self) -> tuple[bytes, ...]:
        """Every PSK an inbound handshake may use (the responder tries each)."""
        return tuple(self._psks)

    # ------------------------------------------------------------ handshakes

    def psk_for(self, key: bytes) -> tuple[bytes, ...]:
        """The PSK to dial `key` with: a network whose advert names the key, else the one we
        last met it in. A key we know from neither (an address typed by hand) gets each of our
        networks in turn and then a plain handshake, one per dial: the first that works is
        remembered."""
        names = [opened[0] for opened in self._opened.values()
                 if opened is not None and hmac.compare_digest(opened[1], key)]
        met = self._met.get(key)
        for network_name in [*names, *([met] if met is not None else [])]:
            for psk, name in self._psks.items():
                if name == network_name:
                    return (psk,)
        if not self._psks:
            return ()
        attempt = self._attempts.pop(key, -1) + 1
        if len(self._attempts) >= MAX_MET:
            del self._attempts[next(iter(self._attempts))]
        self._attempts[key] = attempt
        choices = [*((psk,) for psk in self._psks), ()]
        return choices[attempt % len(choices)]

    def relay_psk(self, key: bytes | None, configured: bool) -> tuple[bytes, ...]:
        """The PSK to attach to a relay with: like any peer we know from no advert, each
        network in turn, then a plain handshake, one per connection. A relay only heard on
        mDNS gets the plain try too (`configured` no longer matters): an open relay serves
        every node that finds it, whatever networks it is in. Its operator then learns our
        key, as the operator of any relay we attach to does (docs/privacy.md)."""
        if not self._psks:
            return ()
        return self.psk_for(key or b"")

    def admit(self, link: PeerLink, event: Established, is_contact: bool) -> bool:
        """Whether a completed handshake may go on to trust; closes the link if not."""
        if event.psk is not None:
            name = self._psks.get(event.psk)
            if name is None:  # left that network while the handshake ran
                link.close("not in that network any more")
                return False
            if event.remote_key not in self._met and len(self._met) >= MAX_MET:
                del self._met[next(iter(self._met))]
            self._met[event.remote_key] = name
            return True
        if self._all and not is_contact:
            link.close("not in any of our networks")
            return False
        return True

    def network_of(self, key: bytes) -> str | None:
        """The network through which we met `key`, if any."""
        return self._met.get(key)

    # ------------------------------------------------------------ discovery

    def properties(self, day: int) -> dict[str, str]:
        """Our advert inside networks: the version and one sealed entry per network."""
        props = {"v": PROTOCOL_VERSION}
        for index, network in enumerate(self._joined):
            props[f"{net.TXT_PREFIX}{index}"] = net.seal_entry(network.key, day, self._key,
                                                               self._name)
        return props

    def member(self, advert: Advert, day: int) -> tuple[str, bytes, str | None] | None:
        """(network, key, name) if `advert` is a member of one of our networks (claimed:
        the handshake proves it). Openings are cached: adverts are re-read on every query."""
        for value in advert.sealed:
            opened = self._open(value, day)
            if opened is not None and not hmac.compare_digest(opened[1], self._key):
                return opened
        return None

    def claims(self, advert: Advert, key: bytes, day: int) -> bool:
        """Whether `advert` carries a network entry of ours naming `key` (today's tag)."""
        member = self.member(advert, day)
        return member is not None and hmac.compare_digest(member[1], key)

    def _open(self, value: str, day: int) -> tuple[str, bytes, str | None] | None:
        cache_key = (value, day)
        if cache_key in self._opened:
            return self._opened[cache_key]
        result = None
        for network in self._joined:
            entry = net.open_entry(network.key, day, value)
            if entry is not None:
                result = (network.name, entry[0], entry[1])
                break
        if len(self._opened) >= MAX_OPENED:
            del self._opened[next(iter(self._opened))]
        self._opened[cache_key] = result
        return result

    # ------------------------------------------------------------ commands

    async def join(self, name: str, passphrase: str, via: str = "") -> dict[str, Any]:
        """Wait for admission to `name`: a member will hand us its key (node/admission.py);
        with `via` (HOST:PORT), ask the member there now, as `network join --via` does (the
        chat's join with discovery off, trial 4, B3): admitted, or refused with nothing joined."""
        try:
            net.check_name(name)
            stored.check_passphrase(passphrase)
        except net.NetworkError as exc:
            raise CommandError("bad_network", str(exc)) from None
        if via:
            key = await admitted_via(via, name, passphrase, self._is_own)
            return await self._change(lambda now: stored.joined(
                now, stored.Network(name, key, passphrase)), "bad_network", "admitted to", name)
        network = stored.Network(name, b"", passphrase)
        self._refused.discard((name, passphrase))  # joined again: ask again
        view = await self._change(lambda now: stored.joined(now, network), "bad_network",
                                  "joined (waiting for a member to admit us)", name)
        warnings = [text for text in (
            join_warning(passphrase, short=True),  # as the CLI's join says it (README)
            None if self._discovering() else no_discovery(name),  # it would wait (trial1 B8)
        ) if text]
        return {**view, "warnings": warnings} if warnings else view

    async def admitted(self, name: str, passphrase: str, key: bytes) -> None:
        """A member gave us the key of `name`: from now on we are a member too."""
        try:
            await self._change(lambda now: stored.admitted(now, name, passphrase, key),
                               "bad_network", "admitted to", name)
        except CommandError as exc:
            log.warning("could not keep the key of network %s: %s", name, exc)

    async def leave(self, name: str) -> dict[str, Any]:
        """Leave network `name`: forget its key and stop answering for it."""
        return await self._change(lambda now: stored.left(now, name), "unknown_network",
                                  "left", name)

    async def _change(self, edit: Callable[[list[stored.Network]], list[stored.Network]],
                      code: str, done: str, name: str) -> dict[str, Any]:
        """Change the file (under its lock, off the loop: `p2pchat network` may hold it a
        moment), then use what it holds: a change the file does not hold is not made."""
        try:
            networks = await asyncio.get_running_loop().run_in_executor(
                None, stored.change, self._home, self._identity, edit)
        except net.NetworkError as exc:
            raise CommandError(code, str(exc)) from None
        except stored.NetworksFileError as exc:
            raise CommandError("networks", str(exc)) from None
        except OSError as exc:
            raise CommandError("storage", f"could not save the networks: {exc}") from None
        self._set(networks)
        log.info("%s network %s", done, name)
        self._on_change()
        return self.view()

    def reload(self) -> dict[str, Any]:
        """Re-read the file (`p2pchat network join` wrote it while we ran)."""
        self.load()
        self._on_change()
        return self.view()

    def view(self) -> dict[str, Any]:
        """`networks`: those we are in; `waiting`: joined, not admitted yet; `legacy`: joined
        under the old, offline-guessable scheme (docs/protocol.md 10.8)."""
        return networks_view(self._all, self.refused_names())

    def peer_view(self, key: bytes) -> dict[str, Any]:
        """The network a link's peer was met through, for `peers`."""
        name = self._met.get(key)
        return {"network": name} if name is not None else {}


async def admitted_via(address_text: str, name: str, passphrase: str,
                       is_own: Callable[[tuple[str, int]], bool] = lambda address: False
                       ) -> bytes:
    """The key of `name` from the member at `address_text`, or a CommandError in the words
    of `network join --via` (network_command.py). `is_own`: the address is our node's own."""
    from p2pchat.net.addresses import parse_addr
    from p2pchat.node.admission import Busy, ask

    try:
        address = parse_addr(address_text)
    except ValueError as exc:
        raise CommandError("bad_address", f"--via: {exc}") from None
    if is_own(address):  # we would refuse ourselves and call it a wrong passphrase (trial 11)
        raise CommandError("bad_address", f"--via {address_text} is this node's own address:"
                                          " give the address of a member of the network")
    try:
        return await ask(address, name, passphrase)
    except Busy as exc:
        raise CommandError("busy", f"the member at {address_text} is limiting guesses: try"
                                   f" again in {exc.retry_after:.0f} s") from None
    except adm.AdmissionError:
        raise CommandError("not_admitted", f"not admitted by {address_text}: a wrong passphrase"
                           " or network name, or it is not a member; nothing was joined") from None
    except (OSError, TimeoutError) as exc:
        raise CommandError("unreachable", f"cannot reach {address_text}:"
                                          f" {str(exc) or 'timed out'}") from None


def listens_at(address: tuple[str, int], listening: list[tuple[str, int]]) -> bool:
    """Whether `address` is one of the `listening` sockets of our node: never a member to ask
    for admission (net/addresses.py is_own)."""
    if all(port != address[1] for _, port in listening):
        return False  # the usual case, without looking at the interfaces
    from p2pchat.net.addresses import is_own
    from p2pchat.net.discovery import local_addresses

    return is_own(address, listening, local_addresses())


def no_discovery(name: str) -> str:
    """Why a join cannot complete here by itself, and what works instead."""
    return (f"discovery is off (--no-mdns): no member can be found to admit you; use"
            f" p2pchat network join {name} --via HOST:PORT")


def member_view(member: tuple[str, bytes, str | None], addresses: list[str],
                contact_name: str | None, is_contact: bool) -> dict[str, Any]:
    network_name, key, name = member
    return {"fingerprint": fingerprint(key), "name": contact_name or name,
            "addresses": addresses, "contact": is_contact, "private": True,
            "network": network_name}


def networks_view(networks: list[stored.Network],
                  refused: list[str] | None = None) -> dict[str, Any]:
    """What `network list` shows, from the node or from the file alike: `networks`, those we are
    in; `waiting`, joined but not admitted yet; `legacy`, joined under the old, offline-guessable
    scheme (docs/protocol.md 10.8); each one's state ("refused": the members asked refused its
    passphrase, `refused` as the node knows it); and the check code of each network whose
    key we hold (10.1)."""
    return {"networks": [n.name for n in networks if not n.pending],
            "waiting": [n.name for n in networks if n.pending],
            "legacy": [n.name for n in networks if n.legacy],
            "states": {n.name: "refused" if n.name in (refused or []) else n.state
                       for n in networks},
            "check_codes": {n.name: net.check_code(n.key) for n in networks
                            if len(n.key) == net.KEY_LEN}}
