"""CLI wording a newcomer's trial found wrong (issue 23, notes/s31/trial1.md: B9, B14), through
the real command in real processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli import run
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_tmux import mutual

pytestmark = pytest.mark.timeout(120)


def test_settings_speak_of_a_running_node_only_when_one_runs(tmp_path: Path) -> None:
    """B14: "A node already running keeps its options…" was printed with no node running."""
    alice = NodeProcess(tmp_path / "alice", "alice")  # its home is made here, no node yet
    said = run(alice.home, "settings", "listen", "127.0.0.1:0", check=True).stdout
    assert "running" not in said, said
    alice.start()
    try:
        said = run(alice.home, "settings", "listen", "127.0.0.1:0", check=True).stdout
        assert "Your node is running: it keeps its options until it restarts." in said, said
    finally:
        alice.close()


def test_group_lines_count_the_others_online_and_a_leave_says_you_left(
        tmp_path: Path) -> None:
    """B14: `group accept` printed "2 members, 1 online" with both online (the node counts
    the others); `group leave` printed counts and "[left]". B9: `group members` showed the
    old own name after a nick."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        mutual(alice, bob, "alice", "bob")
        group = alice.json("group", "create", "hike")["group"]
        alice.cli("group", "invite", "hike", "bob", check=True)
        wait_for(lambda: any(g["group"] == group and g["role"] == "invited"
                             for g in bob.json("group", "list")), 20, "bob's invitation")
        accepted = bob.cli("group", "accept", group, check=True).stdout
        assert "2 members, 1 other online" in " ".join(accepted.split()), accepted

        bob.cli("nick", "Bobby", check=True)
        members = bob.cli("group", "members", "hike", check=True).stdout
        own = [line for line in members.splitlines() if "(you)" in line]
        assert len(own) == 1 and own[0].startswith("Bobby "), members

        left = bob.cli("group", "leave", "hike", check=True).stdout
        assert left.startswith("You left hike"), left
        assert "online" not in left and "members" not in left, left
    finally:
        alice.close()
        bob.close()


def test_someone_discovery_sees_is_nearby_not_offline(capsys: pytest.CaptureFixture[str],
                                                       ) -> None:
    """B14: a nearby requester was listed "offline [request]" (discovery runs over mDNS,
    which no test here may use: the printing is checked with what `peers` would say)."""
    from p2pchat.cli.remote import _print_contacts
    from p2pchat.core.identity import Identity

    near, away = Identity.generate().fingerprint, Identity.generate().fingerprint
    contacts = [{"name": "bob", "fingerprint": near, "state": "request", "online": False,
                 "note": ""},
                {"name": "carol", "fingerprint": away, "state": "contact", "online": False,
                 "note": ""}]
    _print_contacts(contacts, {near})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["bob", "nearby"] and "[request]" in lines[0]
    assert next(line for line in lines if line.startswith("carol")).split()[1] == "offline"


def test_contacts_add_says_what_happens_next(tmp_path: Path) -> None:
    """B14: `contacts add` printed only the contact's line."""
    from p2pchat.core.identity import Identity

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    try:
        said = alice.cli("contacts", "add", Identity.generate().fingerprint, "--name", "bob",
                         check=True).stdout
        # Trial 14a, B18: no node of theirs reached, so nobody sees a request yet
        assert said.strip() == (
            "Added bob; the request waits here until bob's node is reached: not found nearby"
            " and no address: p2pchat contacts addr bob HOST:PORT if you know where it runs,"
            " or both use the same relay."), said
        # trial 12, B15: "bob  offline ..." read as a failure; the list says asked
        row = next(line for line in alice.cli("contacts", check=True).stdout.splitlines()
                   if line.startswith("bob "))
        assert "offline" not in row and " asked, not delivered " in row, row  # 14b, B13
    finally:
        alice.close()


def test_a_contact_who_never_accepted_reads_asked_waiting_after_a_restart(
        tmp_path: Path) -> None:
    """Trial 12, B15 (issue 23 point 18): `contacts add` and the chat header said "asked,
    waiting" for a contact not met yet, `p2pchat contacts` run later (or after a restart)
    "offline": the node kept nothing. Now it keeps `asked` until their node accepts us."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    where = bob.addr
    bob.stop()  # away: nothing from their node says anything

    def row() -> str:
        said = alice.cli("contacts", check=True).stdout
        return next(line for line in said.splitlines() if line.startswith("bob "))

    def listed() -> dict[str, Any]:
        return next(c for c in alice.json("contacts", "list") if c["name"] == "bob")

    try:
        alice.cli("contacts", "add", bob.fingerprint, "--name", "bob", "--addr", where,
                  check=True)
        assert " asked, not delivered " in row() and listed()["asked"] is True, row()
        alice.stop()
        alice.start()
        assert " asked, not delivered " in row(), row()  # the node kept it (14b, B13)
        bob.start()
        wait_for(lambda: any(c["state"] == "request" for c in bob.json("contacts", "list")),
                 20, "alice's request at bob's")
        assert " asked, waiting " in row(), row()  # a knock: no link to chat on
        bob.cli("contacts", "accept", "alice", check=True)
        wait_for(lambda: listed()["asked"] is False, 20, "bob's Hello that knows alice")
        wait_for(lambda: " online " in row(), 20, "the link once bob accepted")
        bob.stop()
        wait_for(lambda: " offline " in row(), 20, "bob gone")
        seen = listed()["last_seen"]  # as the header's "offline (last seen HH:MM)"
        assert row().endswith(f"  last seen {seen[:10]} {seen[11:16]} UTC"), row()
        assert listed()["asked"] is False
    finally:
        alice.close()
        bob.close()
