"""`p2pchat network join` with a node running (trial 13b, B5): it waits a few seconds for the
node's first round of asking and says what came of it; "Joined" was printed at once before,
and the refusal only showed in the chat screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2pchat import network_command

WAITING: dict[str, Any] = {"networks": [], "networks_waiting": ["crew"], "networks_refused": []}


def _statuses(monkeypatch: pytest.MonkeyPatch, *statuses: dict[str, Any]) -> None:
    """The node's `status` answers, in turn (the last one repeated)."""
    answers: Iterator[dict[str, Any]] = iter(statuses)
    last = statuses[-1]
    monkeypatch.setattr(network_command, "_node_status", lambda home: next(answers, last))
    monkeypatch.setattr(network_command, "JOIN_POLL", 0.0)


def test_a_refused_passphrase_is_said_with_a_failure_status(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _statuses(monkeypatch, WAITING, WAITING | {"networks_refused": ["crew"]})
    assert network_command._await_admission(Path("home"), "crew") == 1
    out, err = capsys.readouterr()
    assert "Joined" not in out and out.startswith("Asking to join network crew")
    assert "crew: no node nearby admitted you" in err and "passphrase is wrong" in err
    assert "p2pchat network leave crew" in err


def test_an_admission_is_said(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _statuses(monkeypatch, WAITING, WAITING | {"networks": ["crew"], "networks_waiting": []})
    assert network_command._await_admission(Path("home"), "crew") == 0
    assert "Admitted to network crew" in capsys.readouterr().out


def test_no_answer_in_time_says_it_still_waits(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _statuses(monkeypatch, WAITING)
    assert network_command._await_admission(Path("home"), "crew", wait=0.05) == 0
    out = capsys.readouterr().out
    assert "Joined" not in out and "waiting: no member has answered yet" in out
    # why it waits, when the node knows, is said at once
    _statuses(monkeypatch, WAITING | {"networks_waiting_why": {"crew": {"reason": "none_heard"}}})
    assert network_command._await_admission(Path("home"), "crew", wait=60) == 0
    assert "no node of a network is heard nearby yet" in capsys.readouterr().out
