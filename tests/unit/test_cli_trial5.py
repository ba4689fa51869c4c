"""Trial 5's CLI wording points (issue 23): what the CLI prints can be pasted and reads as a
list, not as an event."""

from __future__ import annotations

import re
import shlex

from p2pchat.cli.contact_warnings import impostor_warning


def test_the_impostor_warning_gives_a_command_that_pastes_whole() -> None:
    """B7: "('p2pchat safety 'bob (DLUBGO3)'')" nested quotes; the command must split back into
    exactly the name it is about."""
    contacts = [{"name": "bob", "fingerprint": "F1", "state": "contact"}]
    request = {"name": "bob (DLUBGO3)", "state": "request", "same_name_verified": True,
               "same_name_as": "F1"}
    warning = impostor_warning(request, contacts)
    command = re.search(r"\((p2pchat safety .*)\) before you accept", warning)
    assert command is not None, warning
    assert shlex.split(command.group(1)) == ["p2pchat", "safety", "bob (DLUBGO3)"], warning


def test_a_fellow_member_not_a_contact_is_listed_by_the_name_they_gave() -> None:
    """B9: `peers` showed "4DUVTAL  group" for carol; the Members page says "~carol"."""
    from p2pchat.cli.rows import peer_row

    link = {"fingerprint": "4DUVTAL-AAAAAAA", "name": "4DUVTAL", "their_name": "carol",
            "state": "group", "contact": None, "address": "127.0.0.1:1", "relay": "r:1",
            "direction": "outbound"}
    row = " ".join(peer_row(link).split())
    assert row == "~carol (4DUVTAL) group member outbound via relay r:1", row
    bob = {**link, "name": "bob", "their_name": "Bobby", "state": "contact",
           "contact": "contact", "relay": None}
    assert peer_row(bob).startswith("bob (calls themself Bobby) contact"), peer_row(bob)
    assert peer_row({**bob, "their_name": "bob"}).startswith("bob                  contact")


def test_a_group_left_is_listed_as_a_row_not_as_the_leave_sentence() -> None:
    """B13: `p2pchat group` listed "You left climb 60b4… (its history is kept: …)"."""
    from p2pchat.cli.rows import left_group_row

    left = {"title": "climb", "role": "left", "group": "60b4e400"}
    assert left_group_row(left) == ("climb                left  (history kept: p2pchat log"
                                    " '#climb'; p2pchat group forget climb)")
    assert left_group_row(left, said=True).startswith("You left climb")
