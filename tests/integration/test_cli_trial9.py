"""Trial 9 (issue 23, node and CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.nodes import NodeProcess


def test_group_leave_names_the_log_as_the_group_list_does(tmp_path: Path) -> None:
    """Trial 9: `group leave` printed "p2pchat log 8f680add..." while `group` said
    "p2pchat log '#climbing'": the name form, quoted for pasting, in both."""
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        carol.cli("group", "create", "climbing club", check=True)
        left = carol.cli("group", "leave", "climbing club", check=True).stdout
        assert "p2pchat log '#climbing club'" in left, left
        listed = carol.cli("group", check=True).stdout
        assert "p2pchat log '#climbing club'" in listed, listed
        assert carol.cli("log", "#climbing club").returncode == 0  # the hint works
    finally:
        carol.close()


def test_unblocking_a_new_key_under_a_verified_name_names_the_contact(tmp_path: Path) -> None:
    """Trial 9: `contacts unblock 'bob (K55H6V5)'` warned of "a NEW KEY under the name of a
    contact, whom you VERIFIED" without saying whose name (the listing named bob)."""
    from tests.tui.test_tmux import impostor_asks

    alice = NodeProcess(tmp_path / "alice", "alice").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    impostor = NodeProcess(tmp_path / "impostor", "bob").start()
    try:
        asking = impostor_asks(alice, bob, impostor)
        alice.cli("contacts", "block", asking, check=True)
        said = alice.cli("contacts", "unblock", asking, check=True).stdout
        assert "a NEW KEY under the name of bob, whom you VERIFIED" in said, said
    finally:
        alice.close()
        bob.close()
        impostor.close()
