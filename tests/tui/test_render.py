"""The panes as styled text: marks, colours, times, and nothing that drives a terminal."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.styles import Style

from p2pchat.core.text import is_unsafe
from p2pchat.tui import render
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState
from tests.tui.test_state import BOB, CAROL, contact, loaded_state, message


def text_of(fragments: render.Fragments) -> str:
    return "".join(text for _, text in fragments)


def test_styles_and_author_colours_parse() -> None:
    Style.from_dict(render.STYLE_RULES)
    for colour in render.AUTHOR_COLOURS:
        Style.from_dict({"x": f"bold fg:{colour}"})
    assert render.author_style(BOB, False) == render.author_style(BOB, False)
    assert render.author_style(BOB, True) == render.OWN_STYLE


def test_conversation_list_marks_online_requests_and_unread() -> None:
    state = ChatState()
    state.set_contacts([contact(BOB, "bob", online=True), contact(CAROL, "carol")])
    state.apply(message(CAROL, "c1", "hi", author_name="carol"))
    state.apply({"type": "contact_request", "fingerprint": "D" * 56, "name": "dave", "note": ""})
    rows = text_of(render.conversation_list(state, 20)).splitlines()
    # By last activity (dave's request came just now, carol wrote), then by name.
    assert rows[1].startswith(" 1 ? dave") and rows[2].startswith(" 2 ○ carol (1)")
    assert rows[3].startswith(" 3 ● bob")
    assert all(len(row) == 20 for row in rows[1:])


def test_an_old_request_does_not_top_the_list_when_the_screen_opens() -> None:
    """Trial 13, B13: after a plain restart "1 ! bob (CVZVPAH)" (a request from 18:56) came
    above erin (messages at 19:07): a request's place is when it came, as a message's is."""
    state = ChatState()
    state.set_contacts([contact(BOB, "erin"), contact(CAROL, "carol"),
                        {**contact("D" * 56, "bob (CVZVPAH)", "request"),
                         "requested_at": "2026-01-01T18:56:00.000+00:00"}])
    state.apply(message(BOB, "e1", "hi", author_name="erin", at="2026-01-01T19:07:00.000+00:00"))
    state.apply(message(CAROL, "c1", "hi", author_name="carol",
                        at="2026-01-01T18:00:00.000+00:00"))
    rows = text_of(render.conversation_list(state, 30)).splitlines()
    assert rows[1].startswith(" 1 ○ erin") and rows[2].startswith(" 2 ? bob (CVZVPAH)"), rows
    assert rows[3].startswith(" 3 ○ carol"), rows


def test_fit_counts_terminal_cells() -> None:
    assert render.fit("bob", 5) == "bob"
    assert render.fit("abcdefgh", 5) == "abcd…"
    assert render.fit("漢字漢字", 5) == "漢字…"


def test_local_time_shows_the_date_only_for_other_days() -> None:
    now = datetime.now().astimezone()
    iso = now.isoformat()
    assert render.local_time(iso, now.date()) == now.strftime("%H:%M")
    assert render.local_time(iso, now.date() + timedelta(days=1)) == now.strftime("%Y-%m-%d %H:%M")
    assert render.local_time("garbage") == "??:??"


def test_local_time_of_the_last_representable_instant_east_of_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The codec allows sent_at up to 9999-12-31T23:59:59.999Z; in Tokyo that is year 10000.
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert render.local_time("9999-12-31T23:59:59.999+00:00") == "??:??"
        assert render.local_time("9999-12-30T00:00:00.000+00:00") == "9999-12-30 09:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_history_shows_status_and_indents_continuation_lines() -> None:
    state = loaded_state()
    state.apply(message(BOB, "m1", "two\nlines", at="2026-01-01T10:00:00.000+00:00"))
    state.apply(message(BOB, "m2", "mine", own=True, status="queued",
                        at="2026-01-01T10:01:00.000+00:00"))
    state.apply({"type": "delivery", "id": "m2", "status": "delivered", "fingerprint": BOB})
    fragments, lines = render.history(state)
    text = text_of(fragments)
    assert lines == 4 and len(text.splitlines()) == 4
    day, first, second, third = text.splitlines()
    assert render.day_label("2026-01-01T10:00:00.000+00:00") in day and "─" in day
    assert first.endswith("bob: two") and second.strip() == "lines"
    assert second.startswith(" " * (len(first) - len("bob: two")))
    assert third.endswith("me: mine ✓✓")  # a quiet mark, no words


def test_status_line_speaks_plainly() -> None:
    state = loaded_state()
    state.conversations[BOB].online = True
    text = text_of(render.status_line(state))
    assert "me " + state.me.fingerprint[:7] in text and "1 contact online" in text
    assert "discovery off: reached by address only" in text  # trial1 B8: it was cryptic
    assert "links" not in text and "mDNS" not in text and "in-process" not in text
    state.mdns = True
    assert "visible on this network" in text_of(render.status_line(state))
    state.presence = "private"
    assert "visible only to contacts" in text_of(render.status_line(state))
    state.connected = False
    assert "reconnecting" in text_of(render.status_line(state))
    state.connected = True
    narrow = text_of(render.status_line(state, 40))
    # your own fingerprint is the last thing shortened (trial 11, B13 c)
    assert len(narrow) <= 40 and state.me.fingerprint[:7] in narrow and "1 on" in narrow \
        and "private" in narrow
    state.conversations[CAROL].online = True  # carol, a request, is not counted
    state.conversations[CAROL].state = "request"
    assert "1 contact online" in text_of(render.status_line(state))
    state.conversations[CAROL].state = "contact"
    assert "2 contacts online" in text_of(render.status_line(state, 80))


def test_wrap_breaks_at_words_with_a_hanging_indent() -> None:
    rows = render.wrap([("", "12:00 bob: the quick brown fox jumps")], 16, 6)
    texts = [text_of(row) for row in rows]
    assert texts == ["12:00 bob: the", "      quick", "      brown fox", "      jumps"]
    assert all(len(t) <= 16 for t in texts)
    long_word = [text_of(r) for r in render.wrap([("", "x" * 25)], 10, 2)]
    assert long_word == ["x" * 10, "  " + "x" * 8, "  " + "x" * 7]
    assert [text_of(r) for r in render.wrap([("", "漢字漢字漢字")], 5)] == ["漢字", "漢字", "漢字"]


def test_help_descriptions_wrap_under_their_own_column() -> None:
    from p2pchat.tui.commands import help_lines
    from p2pchat.tui.conversation import Page

    lines = help_lines()
    column = lines[1].index("open NAME")  # where every description starts
    rows = [text_of(r) for r in render.page_rows(Page("Help", [("info", t) for t in lines]), 74)]
    commands = rows[1:next(n for n, row in enumerate(rows) if row.startswith("Keys:"))]
    continued = [r for r in commands if not r.lstrip().startswith(("/", "IRC:"))]
    assert continued, "at 74 cells some descriptions wrap"
    for row in continued:
        assert len(row) - len(row.lstrip(" ")) == column, row


def test_a_new_messages_line_above_the_first_unread() -> None:
    state = loaded_state()
    state.set_contacts([contact(BOB, "bob"), contact(CAROL, "carol")])
    state.select(CAROL)
    state.apply(message(BOB, "m1", "unseen", at="2026-01-01T10:00:00.000+00:00"))
    state.select(BOB)
    rows = [text_of(r) for r in render.history_rows(state, 40)]
    assert "new messages" in rows[1] and rows[2].endswith("bob: unseen")
    state.select(CAROL)  # once read and left, the line goes
    state.select(BOB)
    assert not any("new messages" in r for r in render.history_rows(state, 40)
                   for r in [text_of(r)])


@given(st.text(), st.text())
def test_nothing_unsafe_reaches_the_screen(name: str, text: str) -> None:
    state = loaded_state()
    state.apply({"type": "contact_request", "fingerprint": "D" * 56, "name": name, "note": text})
    state.apply(message(BOB, "m1", text, author_name=name))
    state.apply({"type": "key_mismatch", "address": text, "name": name, "expected": BOB,
                 "presented": text})
    shown = (text_of(render.conversation_list(state, 24)) + text_of(render.history(state)[0])
             + text_of(render.notices(state, 100)) + text_of(render.status_line(state)))
    assert not any(is_unsafe(ch, newlines=True) for ch in shown)
    assert clean(text, newlines=True).count("\n") == text.replace("\r\n", "\n").count("\n")
