"""The input's passphrase mask, and the rule built on it (notes/s36/trial14a.md B1-B3): what
it stars never leaves as a message; a line quoted back is starred the same way; a near miss
of `/network join` is starred too."""

from __future__ import annotations

import pytest

from p2pchat.tui.commands import Named, SendText, as_command, holds_secret, masked, secret_start
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


# s36 hunt1 (the blocker, point 1): the join phrase anywhere in a line, whatever precedes it,
# across any whitespace; each is starred from the passphrase and refused at Enter.
ANYWHERE = [
    "?network join class PASSWD", "\\network join class PASSWD", ".network join class PASSWD",
    ",network join class PASSWD", ";network join class PASSWD", " -network join class PASSWD",
    "?NETWORK JOIN class PASSWD", "// network join class PASSWD",
    "ok network join class PASSWD", "hey, network join class PASSWD",
    "hello\nnetwork join class PASSWD", "／network join class PASSWD",
    "∕network join class PASSWD", "//netwrok join class PASSWD", "//net join class PASSWD",
    "\u00ad.network join class PASSWD",
    # inside commands whose text goes to others or is kept visibly (F8, F9)
    "/me network join class PASSWD", "/me .network join class PASSWD",
    "/nick network join class PASSWD", '/group create "network join class PASSWD"',
    "/rename bob network join class PASSWD", "/group invite network join class PASSWD",
    "/msg bob ?network join class PASSWD",
    # IRC's channel key (F5)
    "/join #class PASSWD", "/j #class PASSWD", "/JOIN #class PASSWD",
]
GAPS = ["\t", "\u00a0", "\u2003", "\u3000", "\n"]


def _refused(line: str) -> bool:
    from p2pchat.tui.refusals import passphrase_refusal
    from p2pchat.tui.state import ChatState

    return passphrase_refusal(ChatState(), as_command(line)) is not None


@pytest.mark.parametrize("line", ANYWHERE)
def test_the_phrase_anywhere_is_starred_and_refused_at_enter(line: str) -> None:
    assert "PASSWD" not in masked(line) and masked(line).endswith("******")
    assert _refused(line)


@pytest.mark.parametrize("line", [
    "/ network join class PASSWD", "/network-join class PASSWD", "/netwrok join class PASSWD",
    "/network join class --via PASSWD", '/network join "my class" PASSWD',
    '/network join "my class PASSWD', *(f"/network{gap}join{gap}class{gap}PASSWD" for gap in GAPS),
    *(f"/netwrok{gap}join{gap}class{gap}PASSWD" for gap in GAPS),
])
def test_a_command_line_holding_it_is_starred_and_never_quotes_it(line: str) -> None:
    """A real or mistyped /network line is let through Enter: it runs, or its refusal (an
    unknown verb, a usage) never quotes the passphrase (F2, F4, F10, F13)."""
    from p2pchat.tui.commands import ParseError, parse, parse_network

    assert "PASSWD" not in masked(line)
    try:
        command = parse(as_command(line))
        assert command is not None and not isinstance(command, SendText)
        if getattr(command, "command", "") == "network":
            parse_network(command.who)  # type: ignore[union-attr]
    except ParseError as exc:
        assert "passwd" not in str(exc).lower(), exc


@pytest.mark.parametrize("gap", GAPS)
def test_any_whitespace_is_a_gap_of_network_join(gap: str) -> None:
    from p2pchat.tui.commands import parse, parse_network

    command = parse(f"/network{gap}join{gap}class{gap}PASSWD")
    assert isinstance(command, Named) and command.command == "network"
    joined = parse_network(command.who)
    assert (joined.action, joined.name, joined.passphrase) == ("join", "class", "PASSWD")


def test_a_quoted_network_name_is_one_name() -> None:
    from p2pchat.tui.commands import ParseError, parse_network

    joined = parse_network('join "my class" two words')
    assert (joined.name, joined.passphrase, joined.via) == ("my class", "two words", "")
    joined = parse_network("join 'my class' --via 127.0.0.1:9 pw")
    assert (joined.name, joined.passphrase, joined.via) == ("my class", "pw", "127.0.0.1:9")
    with pytest.raises(ParseError, match="not closed") as refused:
        parse_network('join "my class PASSWD')
    assert "PASSWD" not in str(refused.value)


def test_the_address_after_via_shows_and_a_passphrase_there_is_starred() -> None:
    assert masked("/network join class --via PASSWD") == "/network join class --via ******"
    assert masked("/network join class --via 10.0.0.2:7") == "/network join class --via 10.0.0.2:7"
    assert masked("/network join class --via 10.0.0") == "/network join class --via 10.0.0"


@pytest.mark.parametrize(("typed", "runs"), [
    ("\u00ad/names", "/names"), ("\u200b/network join c pw", "/network join c pw"),
    ("\ufeff\u00a0/help", "/help"),
])
def test_an_invisible_format_character_before_a_command_is_a_blank(typed: str, runs: str) -> None:
    assert as_command(typed) == runs


@pytest.mark.parametrize("line", ["/me network join club", "networking join us tonight",
                                  "hello world", "/j carol", "/join #crew"])
def test_lines_without_a_passphrase_still_go(line: str) -> None:
    assert not holds_secret(line) and not _refused(line)
