"""Trial 13b: one state in one wording on the screen and in `p2pchat contacts` (B7), the CLI's
sentences for group invite/remove and block (B11), "discovery off" kept at 80 columns (B12),
and plain words for /receipts and /rekey (B14)."""

from __future__ import annotations

from typing import Any

import pytest

from p2pchat.cli.group_said import said_member
from p2pchat.cli.remote import _print_contacts
from p2pchat.core.contact_words import NOT_LINKED, blocked, contact_presence
from p2pchat.tui.controller import Controller
from p2pchat.tui.receipts import lines_for
from p2pchat.tui.render import status_line
from tests.tui.test_controller import FakeBackend
from tests.tui.test_group_delivery import text_of
from tests.tui.test_state import loaded_state

# carol's view of alice after alice's /remove: their node had us, and asks us again
FORGOT = {"name": "alice", "fingerprint": "A" * 56, "state": "contact", "online": False,
          "asked": False, "awaits_answer": True}


def test_a_contact_who_removed_you_reads_as_the_header_says(
        capsys: pytest.CaptureFixture[str]) -> None:
    """B7: the header said "not linked: alice's node no longer knows you ...", /contacts and
    `p2pchat contacts` "asked, waiting"."""
    assert contact_presence(FORGOT) == NOT_LINKED
    _print_contacts([FORGOT], set())
    said = capsys.readouterr().out
    assert "not linked" in said and "asked, waiting" not in said, said
    assert "their node no longer knows you (they may have removed you); you are linked again" \
        " once they add you" in said, said  # trial 14b, B10: no "they see a request"
    assert "see a request" not in said, said


def test_group_invite_and_remove_say_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    group: dict[str, Any] = {"title": "hike", "members": 2, "invited": 1, "online": 0}
    said_member("invite", "carol", group)
    said_member("remove", "carol", {**group, "invited": 0, "online": 1})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Invited carol to hike: they join when they accept ("), out
    assert out[1] == "Removed carol from hike (2 members, 1 other online).", out


def test_block_says_what_it_did_and_how_to_undo_it() -> None:
    said = blocked("bob (LA5DK2U)", "p2pchat contacts unblock")
    assert said == ("Blocked bob (LA5DK2U): no links or requests from them; p2pchat contacts"
                    " unblock 'bob (LA5DK2U)' undoes it.")
    assert "offline" not in said


def test_discovery_off_is_kept_at_80_columns() -> None:
    """B12: dave (--no-mdns, in crew) read "net crew" at 80 columns."""
    state = loaded_state()
    state.set_status({"name": "dave", "fingerprint": "ALDUGGD" + "A" * 49, "mdns": False,
                      "networks": ["crew"]})
    state.mode = "attached"  # its node runs apart: "node apart" too, as dave had it
    text = text_of(status_line(state, 80))
    assert "· net crew, discovery off · node apart" in text, text
    wide = text_of(status_line(state, 130))
    assert "network crew, discovery off" in wide, wide


def test_receipts_say_no_jargon() -> None:
    lines = lines_for(set(), [{"fingerprint": "B" * 56, "name": "bob", "online": True}])
    assert not any("sync vector" in line for line in lines), lines
    assert any("when its node confirms it holds the message" in line for line in lines)


async def test_rekey_counts_links_in_words() -> None:
    controller = Controller(FakeBackend())
    await controller.start()
    try:
        await controller.execute("/rekey")
        said = [n.text for n in controller.state.notices]
        assert "new session keys on 1 link" in said, said
    finally:
        await controller.stop()


def test_the_node_is_read_soon_after_a_request_is_said() -> None:
    """B3: a node closed to strangers refuses erin's first dial at once, yet "they see a
    request" stayed ~35 s: the watch reads the node every SETTLE while that claim is new."""
    from p2pchat.tui.reach_watch import FRESH, SETTLE, ReachWatch

    state = loaded_state()
    now = [100.0]
    state.clock = lambda: now[0]
    watch = ReachWatch(state, FakeBackend(), on_change=lambda: None, period=5.0)
    assert watch.wait() == 5.0
    state.notice("info", "added alice; they see a request until they add you too",
                 key="pending:" + "A" * 56)
    assert watch.wait() == SETTLE
    now[0] += FRESH
    assert watch.wait() == 5.0
