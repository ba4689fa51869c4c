"""The benchmark objects `python -m bench` knows: one line each.

An object is a script in this directory that prints ONE JSON object on stdout (indented or not)
and exits 0: its figures, the baseline it measured in the same run where it has one, and
`targets`, a mapping from a target's name (e.g. "msgs_per_s >= 2000") to whether it was met
(true / false; null when it could not be measured). It may print "skipped": "why" instead of
figures when it cannot run here (no root for network namespaces). Scripts import their helpers
as `from _common import ...`, because the harness runs each as `python bench/<script> ...`, in
its own process, from the repository root.

To add an object, add one `Entry` line below. Several entries may share a name: their figures
are merged into that object's one JSON line (the `startup` object takes `help_ratio_vs_python`
from bench_help.py and `chat_first_screen_ms` from the UI's bench_startup.py).
`quick` is the argument list for `--quick` runs (None: the object runs only in a full run);
`full` the list for a full run; `timeout` the seconds it gets before it is reported as failed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str
    script: str
    quick: tuple[str, ...] | None = ()
    full: tuple[str, ...] = ()
    timeout: float = 120.0


OBJECTS: tuple[Entry, ...] = (
    Entry("handshake", "bench_handshake.py", quick=("--quick",)),
    Entry("crypto", "bench_crypto.py", quick=("--quick",)),
    Entry("direct", "bench_direct.py", quick=("--quick",), timeout=300.0),
    Entry("catchup", "bench_catchup.py", quick=("--quick",)),
    Entry("startup", "bench_help.py", quick=("--quick",)),
    Entry("startup", "bench_startup.py", quick=("-n", "3")),
    Entry("memory", "bench_memory.py", quick=("--quick",)),
    Entry("growth", "bench_growth.py", quick=None, timeout=300.0),
    Entry("discovery", "bench_discovery.py", quick=None, timeout=180.0),
    Entry("network", "bench_network.py", quick=("--quick",)),
    Entry("admission", "bench_admission.py", quick=("--quick",), timeout=600.0),
    # Three repeats, as in a full run: one 16 MiB transfer each way moved the bulk ratio
    # between 0.36 and 0.73 from one quick run to the next.
    Entry("relay", "bench_relay.py", quick=("--small", "5000", "--bulk-mib", "16", "--repeats",
                                            "3"), timeout=300.0),
    # `--nodes 200` builds 200 nodes (about 40 s) and sends 200 messages at 2 a second.
    Entry("group", "bench_group.py", quick=("-n", "40", "--rate", "40"), timeout=600.0),
    Entry("file", "bench_file.py", quick=("--quick",), timeout=600.0),
)
