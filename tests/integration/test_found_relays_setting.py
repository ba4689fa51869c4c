"""Trial 11, B1: a node with discovery on attached to relays other people advertised on the
LAN, and the only way to stop it was private presence (which also changes how people see you).
`p2pchat settings found-relays off` (or `--no-found-relays`) stops it alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aio import until
from tests.cli import assert_clean_failure, cli_env, run
from tests.integration.test_relay_discovery import LOOPBACK_MDNS
from tests.local_nodes import MakeLocalNode
from tests.nodes import wait_for
from tests.relay_client import RelayProcess

pytestmark = pytest.mark.timeout(120)


def _settings_node(home: Path) -> subprocess.Popen[str]:
    """`p2pchat node` on 127.0.0.1 with discovery there; found-relays as the home's settings
    say."""
    return subprocess.Popen([sys.executable, "-m", "p2pchat", "--home", str(home), "node",
                             "--listen", "127.0.0.1:0", "--mdns-interface", "127.0.0.1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, env=cli_env(),
                            start_new_session=True)


async def test_found_relays_off_in_the_settings_uses_no_relay_found_nearby(
        make_local_node: MakeLocalNode, tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "relay").start(mdns=True)
    try:  # the relay never outlives the test, whatever fails (one did, for an hour)
        await _found_relays_off(make_local_node, tmp_path, relay)
    finally:
        relay.close()


async def _found_relays_off(make_local_node: MakeLocalNode, tmp_path: Path,
                            relay: RelayProcess) -> None:
    home = tmp_path / "alice"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    run(home, "settings", "found-relays", "off", check=True)
    assert json.loads(run(home, "settings", "--json").stdout) == {"found-relays": False}
    assert_clean_failure(run(home, "settings", "found-relays", "maybe"))
    node = _settings_node(home)
    try:
        fingerprint = relay.status["fingerprint"]
        status = wait_for(lambda: (p := run(home, "status", "--json")).returncode == 0
                          and json.loads(p.stdout), 20, "the node")
        assert status["mdns"] is True and status["presence"] == "public"  # only relays off
        assert status["found_relays"] is False
        # A node with found relays on (the default) sees and attaches to this relay...
        bob = await make_local_node("bob", **LOOPBACK_MDNS)
        await until(lambda: any(str(r["relay"]).endswith(fingerprint)
                                and r["state"] == "attached"
                                for r in bob.status()["relays"]), 60, "bob attached")
        # ...and by then alice's node, browsing the same adverts for longer, has not.
        relays = json.loads(run(home, "status", "--json", check=True).stdout)["relays"]
        assert not [r for r in relays if str(r["relay"]).endswith(fingerprint)], relays
    finally:
        os.killpg(node.pid, signal.SIGTERM)
        node.wait(timeout=15)
    run(home, "settings", "found-relays", "--unset", check=True)
    assert json.loads(run(home, "settings", "--json").stdout) == {}
