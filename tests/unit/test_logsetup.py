"""Log lines: timestamped on a terminal; under journald, a priority prefix and no timestamp of
their own; one line per event either way."""

from __future__ import annotations

import os
import re
import subprocess
import sys

PROBE = ("import logging\nfrom p2pchat.logsetup import configure_logging\nconfigure_logging(0)\n"
         "log = logging.getLogger('p2pchat.test')\nlog.info('attached\\nforged: line')\n"
         "log.warning('queue full')\nlog.debug('not shown')\n")


def run_probe(journal: bool | str) -> str:
    read, write = os.pipe()
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal is True:
        st = os.fstat(write)
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    elif journal:
        env["JOURNAL_STREAM"] = journal
    try:
        subprocess.run([sys.executable, "-c", PROBE], stderr=write, env=env, timeout=30,
                       check=True)
    finally:
        os.close(write)
    with os.fdopen(read) as stream:
        return stream.read()


def test_under_journald_lines_carry_a_priority_and_no_timestamp() -> None:
    assert run_probe(True) == ("<6>INFO attached\\nforged: line\n"
                               "<4>WARNING queue full\n")


def test_on_a_terminal_or_pipe_lines_are_timestamped_and_one_per_event() -> None:
    out = run_probe(False)
    lines = out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO attached\\nforged: line", lines[0])


def test_a_journal_stream_inherited_from_elsewhere_is_not_ours() -> None:
    """JOURNAL_STREAM names another stream (a service that piped our stderr somewhere)."""
    assert run_probe("1:12345").splitlines()[1].endswith("WARNING queue full")
    assert not run_probe("1:12345").startswith("<")
