"""notes/s32/trial6.md on the chat screen: a left network's notice goes for good (18, B2), a
"no" to "accept anyway?" says what was not done (B12)."""

from __future__ import annotations

import pytest

from p2pchat.tui.contact_commands import impostor_question
from p2pchat.tui.question import answered_no
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_state import BOB, CAROL, loaded_state

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


def test_a_forgotten_group_goes_with_its_notices() -> None:
    """18: carol kept "you were removed (climb)" after "forgot climb and its history"; B3: a
    group forgotten from the CLI stayed listed with its history."""
    state = loaded_state()
    state.apply({"type": "group_joined", **group("climb"), "by": BOB, "by_name": "bob"})
    state.apply({"type": "group_changed", **group("climb", role="removed"), "change": "remove",
                 "you": True})
    assert any("climb" in n.text for n in state.notices), [n.text for n in state.notices]
    state.apply({"type": "group_forgotten", **group("climb", role="forgotten")})
    assert GROUP not in state.conversations
    assert not any("climb" in n.text for n in state.notices), [n.text for n in state.notices]
