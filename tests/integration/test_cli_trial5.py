"""Trial 5 (issue 23, node and CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.nodes import NodeProcess


def test_accept_says_one_sentence_a_nick_shows_and_a_left_group_is_a_row(
    tmp_path: Path,
) -> None:
    """B12: `contacts accept carol` printed "carol offline …" then "linked, you can chat".
    B8: after bob's /nick Bobby, carol's `contacts` and `peers` still said just "bob".
    B13: `group` listed a group left as the sentence `group leave` had printed."""
    from tests.nodes import wait_for

    carol = NodeProcess(tmp_path / "carol", "carol").start()
    bob = NodeProcess(tmp_path / "bob", "bob").start()
    try:
        bob.cli("contacts", "add", carol.fingerprint, "--name", "carol", "--addr", carol.addr,
                check=True)
        wait_for(lambda: any(c["state"] == "request" for c in carol.json("contacts", "list")),
                 20, "bob's request at carol")
        said = carol.cli("contacts", "accept", "bob", check=True).stdout
        assert said.strip().splitlines() == ["Accepted bob: linked, you can chat."], said
        wait_for(lambda: any(c["online"] for c in carol.json("contacts", "list")), 20, "linked")
        bob.cli("nick", "Bobby", check=True)
        wait_for(lambda: [c["their_name"] for c in carol.json("contacts", "list")] == ["Bobby"],
                 20, "the nick at carol")
        assert "bob (calls themself Bobby)" in carol.cli("contacts", check=True).stdout
        assert "bob (calls themself Bobby)" in carol.cli("peers", check=True).stdout
        carol.cli("group", "create", "climb", check=True)
        left = carol.cli("group", "leave", "climb", check=True).stdout
        assert left.startswith("You left climb"), left  # what it did, in words
        listed = " ".join(carol.cli("group", check=True).stdout.split())
        assert listed == ("climb left (history kept: p2pchat log '#climb';"
                          " p2pchat group forget climb)"), listed
        assert carol.cli("log", "#climb").returncode == 0  # the row's command works
    finally:
        carol.close()
        bob.close()


def test_contacts_add_of_a_fellow_member_says_they_see_a_request_and_they_do(
    tmp_path: Path,
) -> None:
    """B4 through the CLI: carol and dave, linked as fellow members only; `contacts add` said
    "Added dave: linked, you can chat." and dave saw no request until the group link ended."""
    from tests.nodes import wait_for
    from tests.tui.test_tmux import mutual

    mdns = {"mdns": True}
    nodes = [NodeProcess(tmp_path / n, n) for n in ("alice", "carol", "dave")]
    alice, carol, dave = (n.start("--mdns-interface", "127.0.0.1", **mdns) for n in nodes)
    try:
        mutual(alice, carol, "alice", "carol")
        mutual(alice, dave, "alice", "dave")
        group = alice.json("group", "create", "climb")["group"]
        for member in (carol, dave):
            alice.cli("group", "invite", "climb", member.name, check=True)
            wait_for(lambda m=member: any(g["role"] == "invited"
                                          for g in m.json("group", "list")), 20, "invited")
            member.cli("group", "accept", group, check=True)

        def fellow_link() -> bool:
            return any(p["state"] == "group" and p["fingerprint"] == dave.fingerprint
                       for p in carol.json("peers")["links"])

        wait_for(fellow_link, 30, "a group-only link carol-dave")
        listed = " ".join(carol.cli("peers", check=True).stdout.split())
        assert f"~dave ({dave.fingerprint[:7]}) group member" in listed, listed
        said = carol.cli("contacts", "add", dave.fingerprint, "--name", "dave",
                         check=True).stdout
        assert "they see a request until they add you too" in said, said
        assert "you can chat" not in said, said
        wait_for(lambda: any(c["state"] == "request" and c["fingerprint"] == carol.fingerprint
                             for c in dave.json("contacts", "list")), 10,
                 "carol's request at dave, at once")
    finally:
        for node in nodes:
            node.close()
