"""Trial 9, B1 and trial 10, B1/B6 (issue 23, points 11 and 16): a start told nothing keeps
where the last run listened (host and port) and its mDNS choice (off, or which interfaces):
never more exposed than last time unless asked. Real processes through the CLI.

No test here may bind a wildcard address: before each plain start, the options the CLI would
give the node are checked in-process (`_planned`), so a broken keep fails there, unbound."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from tests.integration.test_cli_trial4 import _port, _start_node
from tests.nodes import NodeProcess


def _planned(home: Path, *typed: str) -> Any:
    """The NodeConfig `p2pchat --home HOME node TYPED` would start with (nothing binds)."""
    from p2pchat.cli.parser import build_parser
    from p2pchat.cli.serve import _node_config
    from p2pchat.home import resolve_home

    args = build_parser().parse_args(["--home", str(home), "node", *typed])
    args.home = resolve_home(args.home)  # as p2pchat.cli.main does
    return _node_config(args)


def test_a_plain_restart_keeps_the_host_the_port_and_the_mdns_interface(
    tmp_path: Path,
) -> None:
    """Trial 9, B1: carol ran `node --listen 127.0.0.1:0 --mdns-interface 127.0.0.1`; a plain
    `node` listened on 0.0.0.0 and [::] and looked on every interface."""
    carol = NodeProcess(tmp_path / "carol", "carol")
    try:
        first = _port(_start_node(carol, "--listen", "127.0.0.1:0",
                                  "--mdns-interface", "127.0.0.1"))
        assert carol.stop() == 0
        plan = _planned(carol.home)
        assert plan.listen == (("127.0.0.1", 0),), plan
        assert plan.mdns_interfaces == ("127.0.0.1",), plan
        again = _start_node(carol)
        assert again["listen"] == [f"127.0.0.1:{first}"], again
        assert again["listen_from"] == "last run" and again["mdns_from"] == "last run", again
        assert again["mdns"] is True and again["mdns_interfaces"] == ["127.0.0.1"], again
        said = carol.cli("status", check=True).stdout
        assert f"listening: 127.0.0.1:{first} (as last run)" in said, said
        assert "mDNS: on 127.0.0.1 only (as last run)" in said, said
        log = carol.log_path.read_text()
        assert f"listening on 127.0.0.1:{first} (as last run)" in log, log
        assert "wider" not in log + said
    finally:
        carol.close()


def test_a_plain_restart_after_no_mdns_stays_off_and_settings_or_options_win(
    tmp_path: Path,
) -> None:
    """Trial 10, B1 for `node`: --no-mdns once, then a plain start announced on the LAN. A
    setting wins over last run; a typed `--listen 127.0.0.1:0` asks for a fresh port."""
    alice = NodeProcess(tmp_path / "alice", "alice")
    try:
        first = _port(_start_node(alice, "--listen", "127.0.0.1:0", "--no-mdns"))
        assert alice.stop() == 0
        assert _planned(alice.home).mdns is False
        again = _start_node(alice)
        assert again["listen"] == [f"127.0.0.1:{first}"] and again["mdns"] is False, again
        said = alice.cli("status", check=True).stdout
        assert "mDNS: off (as last run)" in said, said
        assert "'p2pchat settings mdns on' turns it on" in said, said
        assert alice.stop() == 0
        # A setting wins over last run (here: look on the loopback only).
        alice.cli("settings", "mdns-interface", "127.0.0.1", check=True)
        plan = _planned(alice.home)
        assert plan.mdns is True, plan
        turned = _start_node(alice)
        assert turned["mdns"] is True and turned["mdns_from"] == "settings", turned
        assert turned["mdns_interfaces"] == ["127.0.0.1"], turned
        assert "mDNS: on 127.0.0.1 only (from 'p2pchat settings')" in \
            alice.cli("status", check=True).stdout
        assert alice.stop() == 0
        # Typed --listen ...:0 is a fresh port: it does not even try the kept one.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", first))
            taken.listen()
            fresh = _start_node(alice, "--listen", "127.0.0.1:0")
        assert fresh["listen_from"] == "options" and fresh["port_changed_from"] is None, fresh
        assert _port(fresh) != first
    finally:
        alice.close()


def test_what_the_port_file_says_of_the_last_run(tmp_path: Path) -> None:
    """The `port` file as each version wrote it: the port alone (before trial 5), port and
    host, and now the mDNS line; what it does not say stays unknown (the default)."""
    from p2pchat import settings

    assert settings.last_run(tmp_path) == settings.LastRun()
    (tmp_path / settings.PORT_FILE).write_text("35471\n")
    assert settings.last_run(tmp_path) == settings.LastRun(35471)
    (tmp_path / settings.PORT_FILE).write_text("35471\n127.0.0.1\n")
    assert settings.last_run(tmp_path) == settings.LastRun(35471, "127.0.0.1")
    for mdns in (False, True, ("127.0.0.1", "::1")):
        settings.keep_last_run(tmp_path, settings.LastRun(35471, "127.0.0.1", mdns))
        assert settings.last_run(tmp_path) == settings.LastRun(35471, "127.0.0.1", mdns)
    (tmp_path / settings.PORT_FILE).write_text("99999\nno such host!\nmdns 0.0.0.0\n")
    assert settings.last_run(tmp_path) == settings.LastRun()


def test_an_option_or_a_setting_widens_on_purpose(tmp_path: Path) -> None:
    """Last run on 127.0.0.1 with discovery off: a typed `--listen 0.0.0.0:0` or a `listen`
    setting on every interface wins (checked as the CLI plans the start: nothing binds)."""
    from p2pchat import settings
    from tests.cli import run

    home = NodeProcess(tmp_path / "alice", "alice").home
    settings.keep_last_run(home, settings.LastRun(35471, "127.0.0.1", False))
    plan = _planned(home)
    assert (plan.listen, plan.mdns, plan.keep_port) == \
        ((("127.0.0.1", 0),), False, True), plan
    typed = _planned(home, "--listen", "0.0.0.0:0", "--mdns-interface", "127.0.0.1")
    assert typed.listen == (("0.0.0.0", 0),), typed
    assert typed.keep_port is False and typed.mdns is True
    run(home, "settings", "listen", "[::]:0", check=True)
    run(home, "settings", "mdns", "on", check=True)
    kept = _planned(home)
    assert (kept.listen, kept.mdns, kept.mdns_interfaces,
            kept.listen_from) == ((("::", 0),), True, None, "settings"), kept
    run(home, "settings", "mdns", "off", check=True)  # as a first `chat --no-mdns` keeps it
    assert _planned(home).mdns is False
    flag = _planned(home, "--mdns-interface", "127.0.0.1")  # was off: the setting won
    assert (flag.mdns, flag.mdns_interfaces) == (True, ("127.0.0.1",)), flag


def test_every_form_of_settings_ends_its_output_with_a_newline(tmp_path: Path) -> None:
    """Issue 23, point 11 (a newcomer trial): "`p2pchat settings` prints no final newline: the
    next output runs on". Every form, empty and with values kept, ends its line."""
    from tests.cli import run

    home = tmp_path / "home"
    relay = "127.0.0.1:17744"
    for form in [(), ("--json",), ("relay", relay), (), ("--json",), ("mdns", "off"), (),
                 ("relay", "--unset"), ("mdns", "--unset"), ()]:
        shown = run(home, "settings", *form, check=True).stdout
        assert shown.endswith("\n") and shown.strip(), (form, shown)
    assert "No settings kept." in shown, shown
