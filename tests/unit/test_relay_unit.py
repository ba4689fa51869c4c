"""The systemd unit that docs/relay.md gives for the relay: the options the doc promises, the
home it writes to the one it may write, and (where systemd-analyze exists) a unit systemd
accepts without a warning."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "relay.md"


def unit_text() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- relay-unit -->\n```ini\n(.*?)\n```", text, re.S)
    assert match, "docs/relay.md lost its unit"
    return match.group(1)


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_unit_runs_the_relay_as_its_own_user_with_its_own_home_hardened() -> None:
    s = settings()
    assert s["User"] == ["p2pchat-relay"] and s["Restart"] == ["on-failure"]
    assert s["ExecStart"][0].split()[1] == "relay"
    home = "/var/lib/" + s["StateDirectory"][0]
    assert f"P2PCHAT_HOME={home}" in s["Environment"]
    assert s["ReadWritePaths"] == [home]
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                       ("CapabilityBoundingSet", "")):
        assert s[key] == [value], key


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this interpreter.
    unit = re.sub(r"^ExecStart=\S+", f"ExecStart={sys.executable} -m p2pchat", unit_text(),
                  flags=re.M)
    path = tmp_path / "p2pchat-relay.service"
    path.write_text(unit + "\n")
    proc = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
