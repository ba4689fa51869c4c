"""The view-model and its text for the chat screen's second round (issue 23)."""

from __future__ import annotations

from p2pchat.tui import render
from tests.tui.test_state import BOB, loaded_state
from tests.tui.test_state import CAROL as CAROL_FP


def text_of(fragments: list[tuple[str, str]]) -> str:
    return "".join(text for _, text in fragments)


def test_a_link_replaced_by_a_newer_one_leaves_the_peer_online() -> None:
    state = loaded_state()
    state.apply({"type": "link_up", "fingerprint": BOB, "name": "bob", "contact": True,
                 "address": "127.0.0.1:1"})
    state.apply({"type": "link_down", "fingerprint": BOB, "name": "bob",
                 "reason": "replaced by a newer link", "online": True})
    assert state.conversations[BOB].online
    state.apply({"type": "link_down", "fingerprint": BOB, "name": "bob", "reason": "x",
                 "online": False})
    assert not state.conversations[BOB].online


def test_network_changes_from_elsewhere_reread_the_status() -> None:
    state = loaded_state()
    assert state.apply({"type": "networks_changed", "networks": ["club"]}) == {"status"}


def test_discovery_starting_is_not_called_off() -> None:
    state = loaded_state()
    state.discovering = True
    assert "starting to look on this network" in text_of(render.status_line(state))
    state.discovering, state.mdns = False, True
    assert "visible on this network" in text_of(render.status_line(state))


def test_a_contact_renaming_themself_is_said() -> None:
    state = loaded_state()
    state.apply({"type": "peer_renamed", "fingerprint": BOB, "name": "bob",
                 "their_name": "Robert"})
    assert "bob now calls themself 'Robert'" in state.notices[-1].text


def test_a_nick_and_back_leaves_one_true_notice_that_does_not_come_back() -> None:
    """Trial 9, B3: "/nick Bobby" then "/nick bob" kept "bob now calls themself 'Bobby'"
    (the newer notice was refused as a duplicate of its key), and after it had gone, the same
    news told again brought it back."""
    state = loaded_state()

    def renamed(theirs: str) -> None:
        state.apply({"type": "peer_renamed", "fingerprint": BOB, "name": "bob",
                     "their_name": theirs})

    def about_bob() -> list[str]:
        return [n.text for n in state.notices if "calls themself" in n.text]

    renamed("Bobby")
    renamed("bob")  # back to the name we call them: the Bobby notice goes, nothing else
    assert about_bob() == []
    renamed("Bobby")
    state.clear_notices()  # as ageing or Esc does
    renamed("Bobby")  # the same news again: nothing new to say
    assert about_bob() == []
    renamed("Robert")
    renamed("Bobby")
    assert about_bob() == ["bob now calls themself 'Bobby' (/rename bob Bobby to call them"
                           " that too)"]


def test_places_stay_put_once_loaded_and_alt_a_finds_the_unread() -> None:
    from tests.tui.test_state import CAROL, DAVE, message
    state = loaded_state()
    state.apply(message(CAROL, "c0", "earlier", author_name="carol",
                        at="2026-01-01T09:00:00.000+00:00"))
    state.fix_numbers()
    assert [c.name for c in state.order()] == ["carol", "bob"]
    state.apply(message(BOB, "b1", "news"))  # bob is newer now: places do not move
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": "dave", "note": ""})
    assert [c.name for c in state.order()] == ["carol", "bob", "dave"]
    rows = text_of(render.conversation_list(state, 24)).splitlines()
    assert rows[1].startswith(" 1 ○ carol") and rows[3].startswith(" 3 ? dave")
    state.select(BOB)
    state.apply(message(CAROL, "c1", "psst", author_name="carol"))
    # unread messages before a request (trial 6, B15), as weechat's hotlist
    assert state.next_unread() is state.conversations[CAROL]
    assert state.conversations[CAROL].unread == 0
    assert state.next_unread() is state.conversations[DAVE]  # a request waits till answered
    state.forget(DAVE)
    assert state.next_unread() is None
    state.forget(CAROL)  # a contact removed keeps its place, marked (trial 4, 9)
    assert [(c.name, c.state) for c in state.order()] == [("carol", "removed"), ("bob", "contact")]


def test_a_renamed_contact_s_past_messages_carry_the_new_name() -> None:
    from tests.tui.test_state import contact, message
    state = loaded_state()
    state.apply(message(BOB, "b1", "before"))
    state.upsert_contact(contact(BOB, "Robert"))
    assert state.conversations[BOB].messages[0].author_name == "Robert"


def test_a_relayed_link_shows_in_the_header_until_a_direct_one_replaces_it() -> None:
    state = loaded_state()
    state.select(BOB)
    state.set_links([{"fingerprint": BOB, "path": "relay", "relay": "10.0.0.9:7400#ABC"}])
    state.apply({"type": "link_up", "fingerprint": BOB, "name": "bob", "contact": True,
                 "address": "10.0.0.9:7400", "path": "relay", "relay": "10.0.0.9:7400#ABC"})
    assert render.header(state) == " bob · online via relay 10.0.0.9:7400"
    state.apply({"type": "link_up", "fingerprint": BOB, "name": "bob", "contact": True,
                 "address": "10.0.0.2:7331", "path": "direct", "relay": None})
    assert render.header(state) == " bob · online"


def test_a_new_key_under_a_verified_name_warns_loudly() -> None:
    from tests.tui.test_state import DAVE, contact
    state = loaded_state()
    state.upsert_contact(contact(BOB, "bob") | {"verified": True})
    state.select(BOB)
    assert render.header(state).endswith("· verified")
    state.apply({"type": "contact_request", "fingerprint": DAVE, "name": "bob (ABCDEFG)",
                 "note": "", "same_name_as": BOB, "same_name_verified": True})
    warning = state.notices[-1]
    assert warning.kind == "warning" and "NEW KEY" in warning.text and "VERIFIED" in warning.text


def test_missing_desktop_notifications_are_said_once(monkeypatch: object) -> None:
    import pytest

    from p2pchat.tui.notify import Notifier
    from tests.tui.test_state import CAROL, message
    mp = monkeypatch
    assert isinstance(mp, pytest.MonkeyPatch)
    mp.setenv("PATH", "/nonexistent")  # no notify-send
    state = loaded_state()
    state.select(BOB)
    notifier = Notifier(lambda text: None, bell=False, desktop=True)
    notifier.update(state)
    assert not state.notices  # nothing arrived yet: nothing to say
    state.apply(message(CAROL, "c1", "psst", author_name="carol"))
    notifier.update(state)
    state.apply(message(CAROL, "c2", "again", author_name="carol"))
    notifier.update(state)
    said = [n.text for n in state.notices if "desktop notifications" in n.text]
    assert len(said) == 1 and "notify-send is missing" in said[0]


def test_notices_go_when_out_of_date_and_come_once() -> None:
    import time

    from p2pchat.tui.news import group_key
    state = loaded_state()
    state.notice("info", "added bob; they see a request until they add you too",
                 key=f"pending:{BOB}")
    state.apply({"type": "link_up", "fingerprint": BOB, "name": "bob", "contact": True,
                 "address": "127.0.0.1:1"})
    assert not any("they see a request" in n.text for n in state.notices)
    # One removal, one notice: the command's and the node's event share a key.
    state.upsert_group({"group": "g1", "title": "climbing", "role": "owner"})
    state.notice("info", "removed bob from climbing", key=group_key("g1", "remove", "Bob"))
    state.apply({"type": "group_changed", "group": "g1", "title": "climbing", "role": "owner",
                 "change": "remove", "member": BOB, "member_name": "bob", "you": False})
    assert [n.text for n in state.notices].count("removed bob from climbing") == 1
    assert not any("was removed" in n.text for n in state.notices)
    # ... and the group's conversation has the line, where it happened.
    lines = [m for m in state.conversations["g1"].messages if m.system]
    assert [m.text for m in lines] == ["bob was removed from climbing"]
    state.select("g1")
    assert "— bob was removed from climbing" in text_of(render.history(state)[0])
    # Errors said long ago go when something new is typed; fresh ones stay.
    state.notice("error", "old mistake")
    state.drop_notices(kind="error", said_before=time.monotonic() - 20)
    assert any(n.text == "old mistake" for n in state.notices)
    state.drop_notices(kind="error", said_before=time.monotonic() + 1)
    assert not any(n.text == "old mistake" for n in state.notices)


def test_only_options_a_running_node_does_not_follow_are_reported() -> None:
    from p2pchat.tui.main import ignored_options
    # Only compared with what was typed, never dialled.
    status = {"listen": ["127.0.0.1:999"], "mdns": False, "presence": "public",
              "relays": [{"relay": "10.0.0.9:7400#ABC"}]}
    typed = {"--listen": ["127.0.0.1:999"], "--relay": ["10.0.0.9:7400"], "--no-mdns": True,
             "--presence": None, "--mdns-interface": None}
    assert ignored_options(typed, status) == []
    # a fresh port asked for is not taken by a running node (trial 5, 11)
    assert ignored_options(typed | {"--listen": ["127.0.0.1:0"]}, status) == ["--listen"]
    typed |= {"--relay": ["10.0.0.8:1"], "--presence": "private", "--listen": ["::1:5"]}
    assert ignored_options(typed, status) == ["--listen", "--relay", "--presence"]
    # --no-found-relays: followed by a node that uses none, else ignored (trial 11, B1)
    off = {"--no-found-relays": True}
    assert ignored_options(off, {**status, "found_relays": False}) == []
    assert ignored_options(off, {**status, "found_relays": True}) == ["--no-found-relays"]


def test_a_full_reread_decides_who_is_online() -> None:
    from tests.tui.test_state import CAROL, contact
    state = loaded_state()
    state.apply({"type": "link_down", "fingerprint": BOB, "name": "bob", "reason": "x"})
    state.set_contacts([contact(BOB, "bob", online=True), contact(CAROL, "carol")])
    assert not state.conversations[BOB].online  # a partial read: the later event stands
    state.set_contacts([contact(BOB, "bob", online=True), contact(CAROL, "carol")], fresh=True)
    assert state.conversations[BOB].online  # after a reconnection: the node's answer


def test_a_request_still_waiting_when_the_screen_starts_is_said_again() -> None:
    """Trial 9, B5: after a restart of the screen, a pending request from a NEW KEY under
    the name of a verified contact had only its "!" mark, no warning (README: requests and
    warnings stay until answered)."""
    from tests.tui.test_state import DAVE, contact

    verified = {**contact(BOB, "bob"), "verified": True}
    impostor = {**contact(DAVE, "bob (ABCDEFG)", state="request"), "same_name_as": BOB,
                "same_name_verified": True}
    state = loaded_state()
    state.set_contacts([verified, contact(CAROL_FP, "carol"), impostor], fresh=True)
    warnings = [n.text for n in state.notices if n.kind == "warning"]
    assert len(warnings) == 1 and "a NEW KEY, not the bob you VERIFIED" in warnings[0]
    state.set_contacts([verified, contact(CAROL_FP, "carol"), impostor], fresh=True)
    assert len([n for n in state.notices if n.kind == "warning"]) == 1  # said once
    state.set_contacts([verified, contact(CAROL_FP, "carol")])  # answered elsewhere
    assert not [n for n in state.notices if n.kind == "warning"]
