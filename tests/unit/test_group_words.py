"""core/group_words.py: the rule for `group create NAME CONTACT...` that the chat and the node
share: commas separate contacts (trial 10, B7), and a word that is the name a contact calls
itself, whom we renamed, says what to type (trial 9, B11)."""

from __future__ import annotations

import shlex

import pytest

from p2pchat.core.group_words import NotAContact, instead, invitees, listed, renamed_as

CONTACTS = {"bob": "B", "carol s": "C", "smith, john": "J"}


def contact(word: str) -> str | None:
    return CONTACTS.get(word.casefold())


VIEWS = [{"name": "bob", "state": "contact", "announced_name": "bob"},
         {"name": "Carol S", "state": "contact", "announced_name": "carol"},
         {"name": "Dan", "state": "request", "announced_name": "danny"}]


@pytest.mark.parametrize("words", [["bob,", "Carol S"], ["bob,Carol S"], ["bob", ",", "carol s,"]])
def test_commas_separate_contacts(words: list[str]) -> None:
    assert invitees(words, contact) == ["B", "C"]


def test_a_contact_named_with_a_comma_stays_whole() -> None:
    assert listed(["Smith, John", "bob"], contact) == ["Smith, John", "bob"]
    assert invitees(["Smith, John"], contact) == ["J"]


def test_a_word_with_a_comma_not_a_contact_is_refused_by_its_part() -> None:
    with pytest.raises(NotAContact) as refused:
        invitees(["bob,zed"], contact)
    assert refused.value.word == "zed"


def test_a_renamed_contact_is_named_as_they_are_now() -> None:
    with pytest.raises(NotAContact) as refused:
        invitees(["bob", "carol"], contact, renamed_as(VIEWS))
    assert str(refused.value) == "nothing created: carol is now called 'Carol S'"
    words = ["climbing", "bob", "carol"]
    assert instead("p2pchat group create", words, refused.value, shlex.quote, contact) \
        == "p2pchat group create climbing bob 'Carol S'"


def test_only_a_contact_whose_own_name_it_is_and_only_one() -> None:
    now_called = renamed_as(VIEWS)
    assert now_called("danny") is None  # a request: not one to invite
    assert now_called("bob") is None  # called so by us too
    assert renamed_as([*VIEWS, {"name": "Caz", "state": "contact",
                                "announced_name": "carol"}])("carol") is None  # which one?
    with pytest.raises(NotAContact) as refused:
        invitees(["zed"], contact, now_called)
    assert str(refused.value) == "nothing created: 'zed' is not a contact"
    assert instead("/group create", ["team", "zed"], refused.value, shlex.quote, contact) \
        .endswith("a name with spaces goes in quotes: /group create 'team zed'")


def test_with_commas_spaces_stay_in_a_name() -> None:
    """Trial 11: "bob, Carol S" was read as bob, Carol and S."""
    assert listed(["bob,", "Carol", "S"], contact) == ["bob", "Carol S"]
    assert invitees(["bob,", "Carol", "S"], contact) == ["B", "C"]
    assert listed(["bob", "carol"], contact) == ["bob", "carol"]  # no comma: a word each


def test_the_name_to_retype_carries_no_stray_words() -> None:
    """Trial 11: "/group create climbing bob Carol S" suggested '... "Carol S" S'."""
    words = ["climbing", "bob", "Carol", "S"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact, renamed_as(VIEWS))
    assert instead("/group create", words, refused.value, shlex.quote, contact) \
        == "/group create climbing bob 'Carol S'"


def test_a_list_with_a_stranger_is_not_offered_as_one_name() -> None:
    words = ["climbing", "bob,", "zed"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact)
    hint = instead("/group create", words, refused.value, shlex.quote, contact)
    assert "zed" not in hint and "climbing" not in hint, hint


def test_a_stranger_after_a_contact_is_never_offered_as_part_of_the_name() -> None:
    """Trial 13, B9: `group create hike2 bob dave` offered 'hike2 bob dave' as one name."""
    words = ["hike2", "bob", "dave"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact)
    hint = instead("p2pchat group create", words, refused.value, shlex.quote, contact)
    assert "'hike2 bob dave'" not in hint, hint
    assert hint == ("add dave as a contact first (p2pchat contacts add FINGERPRINT --name dave),"
                    " then invite them; or now without them: p2pchat group create hike2 bob")
    # Words before the first contact: a name with spaces, quoted without the contacts
    words = ["hike", "3", "bob"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact)
    assert instead("/group create", words, refused.value, shlex.quote, contact) \
        .endswith("a name with spaces goes in quotes: /group create 'hike 3' bob")


def test_a_quoted_name_is_offered_only_when_the_rest_are_contacts() -> None:
    """Trial 13b, B6: `group create climbing with bob and carol` offered '"climbing with" bob
    and carol', refused again for 'and'."""
    words = ["climbing", "with", "bob", "and", "carol s"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact)
    hint = instead("/group create", words, refused.value, shlex.quote, contact)
    assert "goes in quotes" not in hint, hint
    # trial 13c, B10: both words named, coherently, and the hint is without either
    assert str(refused.value) == "nothing created: 'with' and 'and' are not contacts"
    assert hint == ("add them first (/add FINGERPRINT NAME), then invite them; or now without"
                    " them: /group create climbing bob 'carol s'")


def test_filler_words_before_the_contacts_are_left_out_of_the_hint() -> None:
    """Trial 13c, B10: "crew with bob carol" was offered '"crew with" bob carol' as the name;
    a name more than filler is still offered quoted ("hike 3 bob": 'hike 3' bob)."""
    words = ["crew", "with", "bob", "carol s"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact)
    assert str(refused.value) == "nothing created: 'with' is not a contact"
    assert instead("/group create", words, refused.value, shlex.quote, contact) == \
        "/group create NAME CONTACT... invites contacts: /group create crew bob 'carol s'"
    words = ["a", "b", "c", "bob"]
    with pytest.raises(NotAContact) as refused:
        invitees(words[1:], contact)
    assert str(refused.value) == "nothing created: 'b' and 'c' are not contacts"
    assert instead("/group create", words, refused.value, shlex.quote, contact) \
        .endswith("goes in quotes: /group create 'a b c' bob")


@pytest.mark.parametrize("typed", ["Carol", "carol"])
def test_words_that_split_a_name_are_said_so_not_as_a_rename(typed: str) -> None:
    """Trial 14c, B3: `/group create carol Bob B` said "Bob is now called 'Bob B'" (bob calls
    himself bob; nobody was ever "Bob"): the typed words split the name, said so."""
    with pytest.raises(NotAContact) as refused:
        invitees(["bob", typed, "S"], contact, renamed_as(VIEWS))
    assert str(refused.value) == (f"nothing created: {typed!r} is no contact; did you mean"
                                  f" '{typed} S' (in quotes)")
    assert "is now called" not in str(refused.value)
    assert instead("/group create", ["team", "bob", typed, "S"], refused.value, shlex.quote,
                   contact) == f"/group create team bob '{typed} S'"


def test_the_cli_says_the_split_name_with_the_line_that_works() -> None:
    """Trial 14c, B3 in `p2pchat group create carol Bob B`, as the CLI words the refusal."""
    from p2pchat.cli.group_create import refused_create

    views = [{"name": "Bob B", "state": "contact", "announced_name": "bob", "fingerprint": "F1"},
             {"name": "carol", "state": "contact", "announced_name": "carol",
              "fingerprint": "F2"}]
    said = refused_create("carol", ["Bob", "B"], views, "nothing created: ...")
    assert said == ("nothing created: 'Bob' is no contact; did you mean 'Bob B' (in quotes):"
                    " p2pchat group create carol 'Bob B'"), said
