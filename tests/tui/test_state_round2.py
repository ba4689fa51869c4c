"""The view-model and its text for the chat screen's second round (issue 23)."""

from __future__ import annotations

from p2pchat.tui import render
from tests.tui.test_state import BOB, loaded_state


def text_of(fragments: list[tuple[str, str]]) -> str:
    return "".join(text for _, text in fragments)


def test_a_link_replaced_by_a_newer_one_leaves_the_peer_online() -> None:
    state = loaded_state()
    state.apply({"type": "link_up", "fingerprint": BOB, "name": "bob", "contact": True,
                 "address": "127.0.0.1:1"})
    state.apply({"type": "link_down", "fingerprint": BOB, "name": "bob",
                 "reason": "replaced by a newer link", "online": True})
    assert state.conversations[BOB].online
    state.apply({"type": "link_down", "fingerprint": BOB, "name": "bob", "reason": "x",
                 "online": False})
    assert not state.conversations[BOB].online


def test_network_changes_from_elsewhere_reread_the_status() -> None:
    state = loaded_state()
    assert state.apply({"type": "networks_changed", "networks": ["club"]}) == {"status"}


def test_discovery_starting_is_not_called_off() -> None:
    state = loaded_state()
    state.discovering = True
    assert "starting to look on this network" in text_of(render.status_line(state))
    state.discovering, state.mdns = False, True
    assert "visible on this network" in text_of(render.status_line(state))


def test_a_contact_renaming_themself_is_said() -> None:
    state = loaded_state()
    state.apply({"type": "peer_renamed", "fingerprint": BOB, "name": "bob",
                 "their_name": "Robert"})
    assert "bob now calls themself 'Robert'" in state.notices[-1].text
