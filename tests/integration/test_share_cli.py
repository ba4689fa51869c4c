"""`p2pchat share-app` as a user meets it when something is wrong: one line, status 1."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli import assert_clean_failure, run


def test_a_bad_listen_address_is_one_line(tmp_path: Path) -> None:
    proc = run(tmp_path, "share-app", "--listen", "nowhere", "--no-mdns")
    assert_clean_failure(proc)
    assert "--listen" in proc.stderr


def test_a_port_in_use_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run(tmp_path, "share-app", "--listen", f"127.0.0.1:{port}", "--no-mdns",
                   timeout=120)
    assert_clean_failure(proc)
    assert "cannot serve on" in proc.stderr and "--listen" in proc.stderr


def test_help_names_the_options(tmp_path: Path) -> None:
    out = run(tmp_path, "share-app", "--help", check=True).stdout
    assert "--prepare" in out and "--no-mdns" in out and "--listen" in out
