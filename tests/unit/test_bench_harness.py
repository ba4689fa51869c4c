"""The benchmark harness's bookkeeping (no benchmark is run here, and nothing is timed)."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import merge
from bench.registry import OBJECTS

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_every_registered_script_exists_and_names_are_known() -> None:
    assert {"handshake", "direct", "catchup", "startup", "memory"} <= {e.name for e in OBJECTS}
    for entry in OBJECTS:
        assert (BENCH / entry.script).is_file(), entry.script


def test_entries_of_one_object_merge_into_one_line() -> None:
    line = merge("startup", [
        {"help_ratio_vs_python": 3.5, "targets": {"help_ratio_vs_python <= 8": True},
         "wall_s": 1.0},
        {"chat_first_screen_ms": 700, "targets": {"chat_first_screen_ms <= 500": False},
         "wall_s": 2.0},
    ])
    assert line["name"] == "startup"
    assert line["help_ratio_vs_python"] == 3.5 and line["chat_first_screen_ms"] == 700
    assert line["targets"] == {"help_ratio_vs_python <= 8": True,
                               "chat_first_screen_ms <= 500": False}
    assert line["met"] is False
    assert line["wall_s"] == 3.0


def test_unmeasured_or_failed_objects_are_not_reported_as_met() -> None:
    assert merge("x", [{"targets": {"a >= 1": True, "b <= 2": None}}])["met"] is None
    assert merge("x", [{"skipped": "needs root"}])["met"] is None
    failed = merge("x", [{"targets": {"a >= 1": True}}, {"error": "timed out"}])
    assert failed["met"] is False and failed["error"] == "timed out"
    assert merge("x", [{"targets": {"a >= 1": True}}])["met"] is True
