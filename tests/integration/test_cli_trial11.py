"""notes/s34/trial11.md with the CLI: `group` counts the others online ("1 member, 0 online"
of a group with you alone in it); `group create NAME bob, Carol S` reads a comma-separated
list (it tried bob, Carol and S)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli_trial4 import _port, _start_node
from tests.integration.test_groups_cli import MakeNode, hub, invited
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(120)


def test_group_lists_you_alone_as_you_and_a_comma_list_names_contacts(
        make_node: MakeNode) -> None:
    alice, bob, carol = (make_node(n).start() for n in ("alice", "bob", "carol"))
    hub(alice, bob, carol)
    alice.cli("contacts", "rename", "carol", "Carol S", check=True)
    alice.cli("group", "create", "solo", check=True)
    listed = alice.cli("group", check=True).stdout
    assert "1 member (you)" in listed and "0 online" not in listed, listed

    made = alice.json("group", "create", "climbing", "bob,", "Carol", "S")
    assert sorted(made["invitees"]) == ["Carol S", "bob"], made
    wait_for(lambda: invited(carol, made["group"]), 20, "carol's invitation")
    refused = alice.cli("group", "create", "hike", "bob", "Carol", "S")
    assert refused.returncode != 0
    assert "p2pchat group create hike bob 'Carol S'" in refused.stderr, refused.stderr
    assert "'Carol S' S" not in refused.stderr, refused.stderr


def test_settings_and_status_say_where_a_plain_start_listens(tmp_path: Path) -> None:
    """Trial 11: after a run with `--listen 127.0.0.1:0 --mdns-interface 127.0.0.1`, `settings`
    said "No settings kept: the node runs with the defaults..." and `status` "no node is
    running", so bob and carol typed the options again on restart."""
    carol = NodeProcess(tmp_path / "carol", "carol")
    try:
        first = _port(_start_node(carol, "--listen", "127.0.0.1:0",
                                  "--mdns-interface", "127.0.0.1"))
        assert carol.stop() == 0
        plain = (f"A plain start listens on 127.0.0.1:{first} (as last run) and looks for"
                 " people on 127.0.0.1 only (as last run)")
        said = carol.cli("settings", check=True).stdout
        assert said.startswith("No settings kept.") and plain in said, said
        status = carol.cli("status")
        assert status.returncode != 0 and "no node is running" in status.stderr
        assert plain in " ".join(status.stderr.split()), status.stderr
        carol.cli("settings", "mdns", "off", check=True)
        said = carol.cli("settings", check=True).stdout
        assert "does not look for people nearby (from 'p2pchat settings')" in said, said
    finally:
        carol.close()
