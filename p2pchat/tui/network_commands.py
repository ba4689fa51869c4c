"""The chat's commands about links and networks: /network, /peers, /id, /rekey. One part of
the controller (tui/controller.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from p2pchat.core.contact_words import look_alike, outside
from p2pchat.core.text import hidden_nearby
from p2pchat.node.networks import no_discovery
from p2pchat.tui import news
from p2pchat.tui.backend import BackendError, ChatBackend
from p2pchat.tui.commands import ParseError, parse_network
from p2pchat.tui.news import CHECK_CODE, NETWORKS, networks_key
from p2pchat.tui.reach import local_addresses, reachable
from p2pchat.tui.reach_watch import relay_lines
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState

# The node's short weak-passphrase warning (passphrases.join_warning): said in words here.
_WEAK = re.compile(r"weak passphrase \(about (\d+) bits, guessed online in ~([^)]*)\)")


def joining_words(name: str, warnings: list[str], again: bool = False) -> str:
    """The answer to a join that waits, in words (trial 11, B7: "networks: none; waiting to
    be admitted: club: weak passphrase (...)" read as if the weak passphrase were why it
    waits, and nothing said why the status line turned to "hidden nearby"). The passphrase
    itself is never said: "this passphrase"."""
    said = [f"joining {name} again with this passphrase: asking the nodes nearby now (one"
            " that refused this very passphrase before is not asked it again)" if again else
            f"joining {name}: waiting for a member nearby to admit you; until then only your"
            " contacts can find you (your node is hidden from others nearby)"]
    for warning in warnings:
        found = _WEAK.fullmatch(warning)
        said.append(f"this passphrase is weak: about {found[1]} bits, guessed online in"
                    f" ~{found[2]}; a longer one is safer" if found else warning)
    return ". ".join(said)


class NetworkCommands:
    """/network, /peers, /id and /rekey."""

    def __init__(self, state: ChatState, backend: ChatBackend) -> None:
        self._state = state
        self._backend = backend
        # The screen's own state for the status page (/peers): desktop notifications.
        self.notes: Callable[[], list[str]] = list

    async def cmd_rekey(self, _: str) -> None:
        """/rekey: new session keys on every contact link."""
        result = await self._backend.rekey()
        self._state.drop_notices(key="rekey")  # said once, as now (session 35)
        links = result.get("links", 0)
        self._state.notice("info", f"new session keys on {links} link"
                           f"{'' if links == 1 else 's'}", key="rekey")

    async def cmd_network(self, rest: str) -> None:
        """/network ACTION [NAME]: create, join, leave, list."""
        try:
            command = parse_network(rest)
        except ParseError as exc:
            self._state.notice("error", str(exc))
            return
        if command.action == "join" and not command.via and not self._state.mdns \
                and not self._state.discovering and not self._state.starting:  # off, not starting
            # It would wait for ever, closed to strangers: refused as the CLI refuses it.
            self._state.notice("error", no_discovery(command.name).replace(
                f"p2pchat network join {command.name} --via HOST:PORT",
                f"/network join {command.name} --via HOST:PORT PASSPHRASE"))
            return
        result = await self._backend.network(command.action, command.name, command.passphrase,
                                             *([command.via] if command.via else []))
        found = result.get("check_codes")
        codes: dict[str, Any] = found if isinstance(found, dict) else {}
        names = ", ".join(f"{clean(n)} (check code {clean(codes.get(n))})" if codes.get(n)
                          else clean(n) for n in result.get("networks") or []) or "none"
        found_states = result.get("states")
        states: dict[str, Any] = found_states if isinstance(found_states, dict) else {}
        # As `network list` and the status line say it (trial 4, B22): refused, not waiting.
        refused = [clean(n) for n in result.get("waiting") or [] if states.get(n) == "refused"]
        waiting = [clean(n) for n in result.get("waiting") or [] if states.get(n) != "refused"]
        said = f"networks: {names}" + (f"; waiting to be admitted: {', '.join(waiting)}"
                                       if waiting else "") \
            + (f"; not admitted: {', '.join(refused)} (no node nearby admitted you: nobody"
               f" here is in it yet, or the passphrase is wrong; /network join {refused[0]}"
               " PASSPHRASE to try another)" if refused else "")
        found_warnings = result.get("warnings") if command.action == "join" else None
        warnings = [clean(w) for w in found_warnings[:4]] \
            if isinstance(found_warnings, list) else []  # a weak passphrase, discovery off
        if command.action == "join" and command.name in (result.get("waiting") or []):
            # Keyed: "admitted to" or "refused" replaces it when the node knows. One notice
            # with the node's warnings: the last notice is the one the row shows.
            name = clean(command.name)
            key = f"admission:{name}"
            again = name in self._state.networks_refused
            self._state.drop_notices(key=key)
            self._state.drop_notices(mentioning=(name, "admitted you"))  # the old refusal
            if states.get(command.name) == "refused":  # refused already, before this answer
                self._state.networks_refused = [n for n in self._state.networks_refused
                                                if n != name]
                news.admission_news(self._state, {
                    "networks": result.get("networks") or [], "refused": refused,
                    "waiting": [n for n in result.get("waiting") or [] if n not in refused]})
            else:  # a join is a fresh start: its refusal, if it comes, is said anew (B5)
                self._state.networks_refused = [n for n in self._state.networks_refused
                                                if n != name]
                self._state.notice("warning" if warnings else "info",
                                   joining_words(name, warnings, again=again), key=key)
        else:  # one answer about the networks at a time: a /network list after a leave
            # showed "networks: none" twice (trial 8, B9); and what was done, first
            self._state.drop_notices(key=NETWORKS)
            done = {"leave": "left", "join": "joined"}.get(command.action)
            name = clean(command.name)
            # Keyed by the networks it names: a join or leave from the CLI makes it untrue
            self._state.notice("info", f"{done} {name}; {said}" if done else said,
                               key=networks_key([clean(n) for n in result.get("networks") or []]))
            for warning in warnings:
                self._state.notice("warning", warning)
        if command.action == "join" and codes.get(command.name):
            self._state.notice("info", "every member sees the same check code; a different one"
                                      " means another network of the same name",
                               key=f"{CHECK_CODE}{clean(command.name)}")
        self._state.set_status(await self._backend.status())

    async def cmd_peers(self, _: str) -> None:
        """/peers: live links, who is nearby, pending requests."""
        self._show_peers(await self._backend.peers())

    async def cmd_id(self, _: str) -> None:
        """/id: our fingerprint and the addresses friends can type."""
        with contextlib.suppress(BackendError):
            self._state.set_status(await self._backend.status())  # the ports as they are now
        me = self._state.me
        # One notice: its rows show from the start, so the fingerprint is whole even where
        # the addresses after it are cut (trial 4, B8; /notices shows them all).
        lines = [f"You are {me.name}; your fingerprint, for friends to add:",
                 f"  {me.fingerprint}"]
        addrs = reachable(self._state.listen, local_addresses())
        if addrs:
            lines.append(f"  reachable at {', '.join(addrs[:4])} (for /addr where discovery"
                         " does not find you)")
        for relay in self._state.relays[:2]:  # trial 13, B15: what a friend off the LAN needs
            line = str(relay.get("relay") or "")
            if relay.get("state") == "attached" and "#" in line:
                lines.append(f"  via relay: --relay {clean(line)} (a friend who cannot reach"
                             " your address uses this relay too: docs/relay.md)")
        self._state.drop_notices(key="id")  # said once, as now (session 35: /id twice, twice)
        self._state.notice("info", "\n".join(lines), key="id",
                           whole=True)  # the address too (trial 9, B9)

    def _show_peers(self, peers: dict[str, Any]) -> None:
        lines = []
        links = peers.get("links") or []
        if not links:
            lines.append("No live links.")
        lines += relay_lines(self._state.relays)  # trial 8, B6: a relay down said nothing
        for link in links:
            relay = str(link.get("relay") or "").split("#")[0]
            path = f"via relay {relay}" if link.get("path") == "relay" \
                else f"{link.get('address')}"
            lines.append(f"link: {link.get('name')} {link.get('state')}"
                         f" {link.get('direction')} {path}")
        for near in peers.get("nearby") or []:
            label = near.get("name") or "(private)"
            if near.get("name") and not near.get("contact"):  # as /nearby marks it (B15)
                label += look_alike(clean(near.get("name")), self._state.me.name, (
                    c.name for c in self._state.conversations.values()
                    if c.kind == "dm" and c.state == "contact"))
            label += outside(near, self._state.networks)  # a stranger outside (14a, B8)
            lines.append(f"nearby: {label} {near.get('fingerprint') or ''}"
                         f" {' '.join(near.get('addresses') or [])}")
        lines += hidden_nearby_lines(peers)
        for request in peers.get("requests") or []:
            lines.append(f"{request.get('name')} asks to connect: /accept {request.get('name')}")
        self._state.show_page("Peers", lines + self.notes())


def hidden_nearby_lines(peers: dict[str, Any]) -> list[str]:
    """The line saying how many nearby nodes are private, if any are."""
    hidden = peers.get("nearby_hidden")
    return [hidden_nearby(hidden)] if isinstance(hidden, int) and hidden > 0 else []
