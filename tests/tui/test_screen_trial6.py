"""notes/s32/trial6.md on the chat screen: a left network's notice goes for good (18, B2), a
"no" to "accept anyway?" says what was not done (B12)."""

from __future__ import annotations

import pytest

from p2pchat.tui.contact_commands import impostor_question
from p2pchat.tui.question import answered_no
from tests.tui.test_state import CAROL, loaded_state

pytestmark = pytest.mark.timeout(30)

REFUSED = "the nodes asked refused your passphrase"


def test_a_left_networks_refusal_goes_for_good() -> None:
    """18, B2: after `/network leave club` the refusal notice stayed, hidden behind newer
    notices, and showed again about 2 minutes later when those aged."""
    state = loaded_state()
    state.apply({"type": "networks_changed", "networks": [], "waiting": ["club"],
                 "refused": ["club"]})
    assert any(REFUSED in n.text for n in state.notices)
    state.set_status({"name": "me", "networks": []})  # the status /network leave reads
    assert not any("club" in n.text for n in state.notices), [n.text for n in state.notices]
    # A stale event naming it again, while we are not joining, raises nothing either.
    state.apply({"type": "networks_changed", "networks": [], "waiting": [], "refused": []})
    assert not any("club" in n.text for n in state.notices)


def test_a_left_networks_refusal_goes_on_the_event_too() -> None:
    """Left from the CLI: the node's networks_changed says it before any status is read."""
    state = loaded_state()
    state.apply({"type": "networks_changed", "networks": [], "waiting": ["club"],
                 "refused": ["club"]})
    state.notice("info", "something newer")
    state.apply({"type": "networks_changed", "networks": [], "waiting": [], "refused": []})
    assert [n.text for n in state.notices] == ["something newer"]


def test_no_to_accept_anyway_says_who_was_not_accepted() -> None:
    """B12: "n" to "accept anyway?" said "no: nothing done"; other questions say what was not
    done ("bob not blocked")."""
    name = f"bob ({CAROL[:7]})"
    assert answered_no(impostor_question(name, "bob")) == f"{name} not accepted"
