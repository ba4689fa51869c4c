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


def test_a_member_not_a_contact_has_one_name_in_the_chat_and_in_log(tmp_path: Path) -> None:
    """Trial 9, B4: carol invited mallory (who calls herself bob, and whose request waits at
    alice as "bob (SHORT)") under carol's name for her, "mal". alice's chat said "~bob (SHORT)
    joined" and "~bob (SHORT): hello", `log` "~bob (SHORT) joined" but "~mal: hello". One name
    everywhere: the one she gave, unverified; the inviter's name for her is not alice's."""
    from p2pchat.control_client import ControlClient
    from tests.nodes import wait_for
    from tests.tui.test_tmux import impostor_asks, mutual

    nodes = [NodeProcess(tmp_path / n, c) for n, c in
             (("alice", "alice"), ("bob", "bob"), ("mallory", "bob"), ("carol", "carol"))]
    alice, bob, mallory, carol = (n.start() for n in nodes)
    try:
        asking = impostor_asks(alice, bob, mallory)
        assert asking == f"bob ({mallory.fingerprint[:7]})", asking
        mutual(carol, alice, "carol", "alice")
        mutual(carol, mallory, "carol", "mal")
        group = carol.json("group", "create", "trio")["group"]
        for member, name in ((alice, "alice"), (mallory, "mal")):
            carol.cli("group", "invite", "trio", name, check=True)
            wait_for(lambda m=member: any(g["role"] == "invited"
                                          for g in m.json("group", "list")), 20, "invited")
            member.cli("group", "accept", group, check=True)
        mallory.cli("send", "trio", "hello trio, mal here", check=True)
        wait_for(lambda: "hello trio" in alice.cli("log", "trio").stdout, 30, "mal's message")
        said = alice.cli("log", "trio", check=True).stdout
        label = f"~{asking}"
        assert f"{label}: hello trio, mal here" in said, said
        assert f"group: {label} joined" in said, said
        assert "~mal" not in said, said
        # The chat screen's names come from the node's events and views: the same name.
        with ControlClient(alice.home) as client:
            members = client.call("groups.members", group="trio")
        assert f"~{next(m['name'] for m in members if m['fingerprint'] == mallory.fingerprint)}" \
            == label, members
        alice.stop()  # read from the home alone, the same
        offline = alice.cli("log", "trio", check=True).stdout
        assert f"{label}: hello trio, mal here" in offline, offline
        assert f"group: {label} joined" in offline, offline
    finally:
        for node in nodes:
            node.close()
