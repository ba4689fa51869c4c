"""Trial 5 (issue 23, node and CLI side): what a newcomer hit, through real processes."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_cli_trial4 import _port, _start_node
from tests.nodes import NodeProcess


def test_a_one_off_listen_host_is_kept_with_its_port_and_widening_is_said(
    tmp_path: Path,
) -> None:
    """B1: `--listen 127.0.0.1:0`, stop, start without --listen: same port on every interface,
    in silence. The host is kept with the port; the same host again says nothing; a wider
    start is said in `status` and by `node` (the wider start itself is checked on a real home
    at the function level: a test binds no wildcard address)."""
    from p2pchat import settings

    alice = NodeProcess(tmp_path / "alice", "alice")
    try:
        first = _port(_start_node(alice, "--listen", "127.0.0.1:0", "--no-mdns"))
        assert alice.stop() == 0
        assert settings.kept_host(alice.home) == "127.0.0.1"  # was unknown: the port alone
        assert settings.widened_from(settings.kept_host(alice.home), "::") == "127.0.0.1"
        alice.cli("settings", "listen", "127.0.0.1:0", check=True)
        again = _start_node(alice, "--no-mdns")
        assert _port(again) == first and again["listen_widened_from"] is None, again
        assert "wider" not in alice.cli("status", check=True).stdout
        assert "wider" not in alice.log_path.read_text()
    finally:
        alice.close()


def test_the_widening_warning_names_the_setting_that_keeps_it_narrow(tmp_path: Path) -> None:
    """B1 at the function level, on a real home: last run on 127.0.0.1 only, this one on every
    interface: the field and the line `node`/`status` print, with the fix to paste."""
    from p2pchat import settings

    settings.keep_port(tmp_path, 35471, "127.0.0.1")
    assert settings.kept_port(tmp_path) == 35471
    last = settings.kept_host(tmp_path)
    assert settings.widened_from(last, "::") == "127.0.0.1"
    assert settings.widened_from(last, "0.0.0.0") == "127.0.0.1"
    assert settings.widened_from(last, "127.0.0.1") is None
    assert settings.widened_from("::", "::") is None  # bare last time too: nothing new
    (tmp_path / settings.PORT_FILE).write_text("35471\n")  # a port file from before
    assert settings.kept_port(tmp_path) == 35471 and settings.kept_host(tmp_path) is None
    line = settings.widened_warning({"listen": ["0.0.0.0:35471", "[::]:35471"],
                                     "listen_widened_from": "127.0.0.1"})
    assert line == ("warning: listening on 0.0.0.0:35471, [::]:35471, wider than last run"
                    " (127.0.0.1 only); 'p2pchat settings listen 127.0.0.1:35471' keeps it")
    assert settings.widened_warning({"listen": ["0.0.0.0:1"], "listen_widened_from": None}) == ""


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


def test_a_bare_start_after_a_one_off_listen_warns_that_it_listens_wider(
    tmp_path: Path,
) -> None:
    """B1 end to end: `--listen 127.0.0.1:0`, stop, a bare `p2pchat node`: the same port on
    every interface, now said (stderr, `status`). The bare node runs in a network namespace of
    its own (`unshare -rn`), where every interface is a loopback one."""
    import shutil
    import subprocess
    import sys

    import pytest

    from tests.cli import cli_env
    from tests.nodes import wait_for

    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged network namespace here")
    alice = NodeProcess(tmp_path / "alice", "alice")
    try:
        first = _port(_start_node(alice, "--listen", "127.0.0.1:0", "--no-mdns"))
        assert alice.stop() == 0
        argv = ["unshare", "-rn", sys.executable, "-m", "p2pchat", "--home", str(alice.home),
                "node", "--no-mdns"]
        with alice.log_path.open("a") as log:
            alice.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, text=True, env=cli_env(),
                                          start_new_session=True)
        status = wait_for(alice._status, 20, "the bare node to start")
        assert _port(status) == first and status["listen_widened_from"] == "127.0.0.1", status
        fix = f"'p2pchat settings listen 127.0.0.1:{first}' keeps it"
        said = alice.cli("status", check=True).stdout
        assert "wider than last run (127.0.0.1 only)" in said and fix in said, said
        assert "warning: listening on" in alice.log_path.read_text()  # node's stderr
    finally:
        alice.close()


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
