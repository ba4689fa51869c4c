"""The input's passphrase mask, and the rule built on it (notes/s36/trial14a.md B1-B3): what
it stars never leaves as a message; a line quoted back is starred the same way; a near miss
of `/network join` is starred too."""

from __future__ import annotations

import pytest

from p2pchat.tui.commands import as_command, holds_secret, masked, secret_start
from p2pchat.tui.refusals import secret_refusal

STARRED = [
    # (typed, as the input shows it)
    (" /network join club secretpw3", " /network join club *********"),  # B1
    ("/msg @bob /network join club secretpw7", "/msg @bob /network join club *********"),  # B2
    ("//network join club secretpw4", "//network join club *********"),  # B2
    ("/netwrok join club secretpw2", "/netwrok join club *********"),  # B3: a typo
    ("/net join club pw", "/net join club **"),
    ("/netw join club pw", "/netw join club **"),
    ("/networks join club pw", "/networks join club **"),
    ("/network jion club pw", "/network jion club **"),
    ("/network joni club pw", "/network joni club **"),
    ("/network create club pw", "/network create club **"),  # no such action, a guess at one
    ("/network craete club pw", "/network craete club **"),
    ("/NETWORK JOIN club pw", "/NETWORK JOIN club **"),
    ("/msg bob /netwrok jion club two words", "/msg bob /netwrok jion club *********"),
    ("/network join club --via 127.0.0.1:9 pw", "/network join club --via 127.0.0.1:9 **"),
    ("/network join club pw\nmore", "/network join club **\n****"),
]

NOT_STARRED = [
    "/network list", "/network leave club", "/network join club ", "hello there",
    "/nick bob", "/me waves at /networks of friends", "/msg bob see you at the net bar",
    "/new join club pw", "/me join club pw", "/msg bob join club pw", "network join club",
]


@pytest.mark.parametrize(("typed", "shown"), STARRED)
def test_the_mask_stars_a_passphrase_and_its_near_misses(typed: str, shown: str) -> None:
    assert masked(typed) == shown
    assert holds_secret(typed)


@pytest.mark.parametrize("typed", NOT_STARRED)
def test_the_mask_leaves_other_lines(typed: str) -> None:
    assert masked(typed) == typed
    assert not holds_secret(typed)


def test_a_name_being_typed_is_not_a_secret_yet() -> None:
    assert secret_start("/netwrok join club ") == len("/netwrok join club ")
    assert not holds_secret("/netwrok join club ")


@pytest.mark.parametrize(("typed", "runs"), [
    (" /help", "/help"), ("   /network join club pw", "/network join club pw"),
    ("\t/msg bob hi", "/msg bob hi"), (" /to bob hi", "/to bob hi"), (" /me waves", "/me waves"),
    (" /nosuch thing", " /nosuch thing"), (" //x", " //x"), (" hello", " hello"),
    ("/help", "/help"),
])
def test_blanks_before_a_known_command_run_it(typed: str, runs: str) -> None:
    assert as_command(typed) == runs


@pytest.mark.parametrize(("line", "to"), [
    ("/msg @bob /network join club pw", "bob"), ("/to #team /network join club pw", "team"),
    ('/msg "Carol S" /network join club pw', "Carol S"),
    ("//network join club pw", "carol"), ("/me /network join club pw", "carol"),
    (" /netwrok join club pw", "carol"), ("/nick /network join club pw", "whoever /nick tells"),
])
def test_a_line_that_would_send_a_passphrase_is_refused(line: str, to: str) -> None:
    assert secret_refusal(line, "carol") == (
        "not sent: it holds a network passphrase (the stars), which would go out in clear to"
        f" {to}; remove it to send the rest")


@pytest.mark.parametrize("line", ["/network join club pw", "/netwrok join club pw",
                                  "/network join club --via 127.0.0.1:9 pw", "hello",
                                  "/msg bob hello"])
def test_the_command_itself_and_a_typo_of_it_are_not_refused_as_messages(line: str) -> None:
    """/network join runs; a typo of it is refused as an unknown command, sending nothing."""
    assert secret_refusal(line, "carol") is None
