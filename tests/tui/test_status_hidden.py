"""Trial 2, 4: with a network joined but not admitted (or refused), the node's advert has no
entries (peers see "(private)"), so the status line must not say "visible on this network"."""

from __future__ import annotations

from p2pchat.tui import render
from tests.tui.test_render import text_of
from tests.tui.test_state import loaded_state


def test_the_status_line_says_hidden_while_a_network_waits_or_refused() -> None:
    state = loaded_state()
    state.mdns = True
    state.set_status({"name": "me", "fingerprint": state.me.fingerprint, "mdns": True,
                      "presence": "public", "networks": [], "networks_waiting": [],
                      "networks_refused": ["club"]})
    text = text_of(render.status_line(state))
    assert "visible on this network" not in text and "hidden nearby" not in text
    # Failed, not waiting (trial 3, 15: "hidden nearby until admitted" read as still waiting)
    # Not "passphrase refused": nobody nearby may be in club yet (trial 11)
    assert ("club: not admitted: nobody in it here, or a wrong passphrase"
            " (/network join club again)") in text
    state.set_status({"name": "me", "fingerprint": state.me.fingerprint, "mdns": True,
                      "presence": "public", "networks": [], "networks_waiting": ["club"],
                      "networks_refused": []})
    assert "hidden nearby until admitted to club" in text_of(render.status_line(state))
    state.set_status({"name": "me", "fingerprint": state.me.fingerprint, "mdns": True,
                      "presence": "public", "networks": ["club"], "networks_waiting": [],
                      "networks_refused": []})
    assert "visible to network club" in text_of(render.status_line(state))
