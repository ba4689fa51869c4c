"""Parsing what is typed on the input line, and what Tab completes."""

from __future__ import annotations

import pytest

from p2pchat.core.identity import Identity
from p2pchat.tui.commands import (
    COMMANDS,
    AddContact,
    AddNearby,
    Named,
    ParseError,
    Plain,
    SendText,
    complete,
    help_lines,
    parse,
    secret_start,
)

FP = Identity.from_seed(b"f" * 32).fingerprint


def test_plain_text_is_a_message() -> None:
    assert parse("hello there") == SendText("hello there")
    assert parse("  spaced  ") == SendText("  spaced  ")
    assert parse("//etc/hosts is a path") == SendText("/etc/hosts is a path")
    assert parse("") is None and parse("   ") is None


@pytest.mark.parametrize(("line", "expected"), [
    (f"/add {FP} bob", AddContact(FP, "bob")),
    (f"/add {FP} bob 192.168.1.20:7331", AddContact(FP, "bob", ("192.168.1.20:7331",))),
    (f"/add {FP} Bob Smith [fe80::1]:7331 10.0.0.2:1",
     AddContact(FP, "Bob Smith", ("[fe80::1]:7331", "10.0.0.2:1"))),
    (f"/add {FP} bob:2", AddContact(FP, "bob:2")),  # one word after the key is the name
    (f"/add {FP.replace('-', ' ')} bob", AddContact(FP.replace("-", " "), "bob")),
    (f"/ADD {FP.lower()} bob", AddContact(FP.lower(), "bob")),
])
def test_add(line: str, expected: AddContact) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize(("line", "message"), [
    ("/add", "usage: /add FINGERPRINT NAME"),
    (f"/add {FP}", "a name is needed"),
    ("/add NOTAFINGERPRINT bob", "that fingerprint is not valid"),
    (f"/add {FP[:-1]}{'A' if FP[-1] != 'A' else 'B'} bob", "mistyped"),
    (f"/add {FP[:10]} bob", "that fingerprint is not valid"),
])
def test_add_mistakes(line: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(line)


def test_commands_about_a_contact_take_the_rest_of_the_line() -> None:
    assert parse("/to bob (ABCDEFG)") == Named("msg", "bob (ABCDEFG)")  # /to is /msg
    assert parse("/msg bob hello there") == Named("msg", "bob hello there")
    assert parse("/unblock mallory") == Named("unblock", "mallory")
    assert parse("/rename bob Bob Smith") == Named("rename", "bob Bob Smith")
    assert parse("/search") == Named("search", "")
    assert parse("/accept  carol ") == Named("accept", "carol")
    assert parse("/block mallory") == Named("block", "mallory")
    assert parse("/remove bob") == Named("remove", "bob")
    assert parse("/safety bob") == Named("safety", "bob")
    with pytest.raises(ParseError, match="usage: /msg NAME"):
        parse("/to")


def test_add_by_nearby_number_or_name() -> None:
    assert parse("/add 2") == AddNearby("2")
    assert parse("/add 2 Bob") == AddNearby("2 Bob")
    assert parse("/add bob") == AddNearby("bob")


def test_commands_without_arguments() -> None:
    for name in ("peers", "id", "help", "quit", "contacts", "nearby", "rekey"):
        assert parse(f"/{name}") == Plain(name)
    with pytest.raises(ParseError, match="takes no arguments"):
        parse("/quit now")
    with pytest.raises(ParseError, match="unknown command /frob"):
        parse("/frob")


def test_completion_of_commands_and_names() -> None:
    names = ["bob", "Bea", "carol", "bob"]
    assert complete("/a", names) == [("/add ", -2), ("/addr ", -2), ("/accept ", -2)]
    assert complete("/addr b", names) == [("Bea ", -1), ("bob ", -1)]
    assert complete("/TO", names) == [("/to ", -3)]
    assert complete("/m", names) == [("/msg ", -2), ("/me ", -2)]
    assert complete("/pe", names) == [("/peers", -3)]  # nothing follows: no space
    assert complete("/to b", names) == [("Bea ", -1), ("bob ", -1)]
    assert complete("/msg bob", names) == []  # already whole
    assert complete("/unblock m", names, {"blocked": ["mallory"]}) == [("mallory ", -1)]
    assert complete("/add ca", names, {"nearby": ["carl", "dave"]}) == [("carl ", -2)]
    assert complete("/safety  CA", names) == [("carol ", -2)]
    assert complete("/to ", names) == [("Bea ", 0), ("bob ", 0), ("carol ", 0)]
    assert complete("/add b", names) == []  # no one nearby
    assert complete("hello", names) == [] and complete("//x", names) == []
    assert complete("thanks ca", names) == [("carol", -2)]  # a name inside a message
    assert complete("thanks ", names) == []


def test_help_names_every_command() -> None:
    text = "\n".join(help_lines())
    assert all(command in text for command in COMMANDS)
    assert "Tab" in text and "PageUp" in text and "Alt+Up" in text


@pytest.mark.parametrize(("typed", "secret"), [
    ("/network join office correct horse", "correct horse"),
    ("  /network   join  office  pw", "pw"),
    ("/network join office ", ""),
    ("/network join office", None),
    ("/network leave office", None),
    ("/network list", None),
    # after other text, as a draft left in the input makes it (trial 9, B12)
    ("say /network join office pw", "pw"),
    ("and then/network join room9 crisp-print", "crisp-print"),
    ("say network join office pw", "pw"),  # no "/", after other text: hidden (s36 hunt1 F6)
    # only the passphrase, never the --via address (trial 5, B11)
    # (typed text only: nothing binds or dials this address)
    ("/network join club --via host.lan:43031 PASS word", "PASS word"),
    ("/network join club  --via  host.lan:43031  pw", "pw"),
    ("/network join club --via 127.0.0.1:43", ""),
    ("/network join club --vi", ""),
    ("/network join club --vixen", "--vixen"),
])
def test_the_passphrase_of_a_network_join_is_found_where_it_starts(
        typed: str, secret: str | None) -> None:
    start = secret_start(typed)
    assert (None if start is None else typed[start:]) == secret


def test_group_completes_its_actions_then_names() -> None:
    names = ["bob", "carol"]
    assert complete("/group ", names)[:2] == [("create ", 0), ("invite ", 0)]
    assert complete("/group me", names) == [("members", -2)]
    assert complete("/group create c", names) == []  # a new name: nothing to offer


def test_a_completed_argument_gets_its_space() -> None:
    """Issue 23, point 21: `/msg ca`+Tab then X gave `/msg carolX`."""
    names = ["carol", "climbing"]
    assert complete("/msg ca", names) == [("carol ", -2)]
    assert complete("/msg carol ", names) == []  # what follows is the message


def test_group_actions_complete_what_their_name_is() -> None:
    """Issue 23, point 21: invite offers contacts (not groups); accept and decline offer the
    pending invitations; forget the groups left."""
    names = ["carol", "climbing", "hike", "old"]
    extra = {"contacts": ["carol"], "invited": ["climbing"], "ended": ["old"]}
    assert complete("/group invite ", names, extra) == [("carol ", 0)]
    assert complete("/group invite c", names, extra) == [("carol ", -1)]
    assert complete("/group accept c", names, extra) == [("climbing ", -1)]
    assert complete("/group decline ", names, extra) == [("climbing ", 0)]
    assert complete("/group forget o", names, extra) == [("old ", -1)]
    assert complete("/group remove c", names, extra) == [("carol ", -1), ("climbing ", -1)]
    assert complete("/group acc", names, extra) == [("accept ", -3)]


def test_irc_habits() -> None:
    assert parse("/me waves") == SendText("/me waves")
    assert parse("/query bob hi") == Named("msg", "bob hi")
    assert parse("/join bob") == Named("j", "bob")
    assert parse("/names") == Plain("names")
    for bad in ("/me", "/j"):
        with pytest.raises(ParseError):
            parse(bad)
    assert ("/me ", -3) in complete("/me", [])
