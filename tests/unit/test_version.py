"""`p2pchat --version` says what is installed: the distribution's metadata, on stdout."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

PROBE = ("import importlib.metadata as m\nm.version = lambda name: {version!r}\n"
         "from p2pchat.cli import main\nmain(['--version'])")


def test_version_is_the_installed_distributions() -> None:
    out = subprocess.run([sys.executable, "-m", "p2pchat", "--version"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == f"p2pchat {version('p2pchat')}\n"


def test_version_comes_from_the_metadata_not_the_source() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(version="7.7.7")],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "p2pchat 7.7.7\n"
