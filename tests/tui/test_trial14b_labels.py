"""Trial 14b on the chat screen. B9: a group named like a contact was "carol" in its own header
("carol · group · 2 members") and in its invitation ("invites you to the group carol") while
the list said "? #carol" and questions "#carol". B12: `/network create NAME` gave only the
usage line, nothing said where networks are created."""

from __future__ import annotations

import pytest

from p2pchat.tui.commands import ParseError, parse_network
from p2pchat.tui.render import header
from tests.tui.test_groups_ui import GROUP, group
from tests.tui.test_state import BOB, CAROL, loaded_state


def test_a_group_named_like_a_contact_is_marked_in_its_invitation_and_header() -> None:
    state = loaded_state()  # contacts bob and carol
    state.apply({"type": "group_invited", **group("carol", role="invited"), "members": 2,
                 "invited_by": BOB, "invited_by_name": "bob"})
    assert state.notices[-1].text == ("bob invites you to the group #carol (/group accept carol,"
                                      " /group decline carol)"), state.notices[-1].text
    state.select(GROUP)
    assert header(state).startswith(" #carol · group invitation"), header(state)
    state.apply({"type": "group_joined", **group("carol"), "by": BOB, "by_name": "bob"})
    assert header(state) == " #carol · group · 3 members", header(state)
    state.select(CAROL)  # the contact, where a group has her name: as /msg @carol takes it
    assert header(state).startswith(" @carol · "), header(state)
    state.apply({"type": "group_joined", **group("club") | {"group": "ef" * 16}, "by": BOB,
                 "by_name": "bob"})
    state.select("ef" * 16)
    assert header(state) == " club · group · 3 members", header(state)  # no namesake: bare


@pytest.mark.parametrize("typed", ["create club", "create club s3cret words", "create"])
def test_network_create_says_it_is_made_from_the_command_line(typed: str) -> None:
    with pytest.raises(ParseError) as said:
        parse_network(typed)
    name = typed.split()[1] if len(typed.split()) > 1 else "NAME"
    assert str(said.value) == (
        f"networks are created from the command line: p2pchat network create {name} (it makes"
        f" the passphrase the others join with); here: /network join {name} PASSPHRASE"), \
        said.value
    assert "s3cret" not in str(said.value)
