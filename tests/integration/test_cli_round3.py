"""What a newcomer's third trial of the CLI hit (issue 23, round 2), through the real command
in real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import assert_clean_failure, run

pytestmark = pytest.mark.timeout(120)


def test_the_mdns_interface_setting_takes_what_the_flag_takes(tmp_path: Path) -> None:
    home = tmp_path / "a"
    run(home, "init", "--name", "alice", "--no-passphrase", check=True)
    run(home, "settings", "mdns-interface", "127.0.0.1", check=True)  # as --mdns-interface
    assert json.loads(run(home, "settings", "--json").stdout) == {
        "mdns-interface": ["127.0.0.1"]}
    failed = run(home, "settings", "mdns-interface", "127.0.0.1:5353")  # the flag refuses it
    assert_clean_failure(failed)
    assert "no port" in failed.stderr
    assert json.loads(run(home, "settings", "--json").stdout) == {
        "mdns-interface": ["127.0.0.1"]}
