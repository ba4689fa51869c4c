"""Trial 13c (notes/s35/trial13c.md), what the chat screen says, with real nodes: why a contact's
node closes us unanswered when the cause is our own network (B3)."""

from __future__ import annotations

import pytest

from p2pchat.core.contact_words import unanswered
from tests.aio import until
from tests.integration.test_networks import CLASS_KEY, _join
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import addr, fp
from tests.tui.test_screen_trial8_reach import watched

pytestmark = pytest.mark.timeout(90)


async def test_our_own_network_is_said_as_the_reason_not_their_removing_us(
        make_local_node: MakeLocalNode) -> None:
    """B3: mallory, in network club, added alice (in no network, who never had her): the
    header said alice "may have removed you". Now it says mallory is in club and alice not."""
    alice, mallory = await make_local_node("alice"), await make_local_node("mallory")
    _join(mallory, CLASS_KEY, "club")
    chat = await watched(mallory)
    try:
        await chat.execute(f"/add {fp(alice)} alice")
        await chat.execute(f"/addr alice {addr(alice)}")
        conv = chat.state.conversations[fp(alice)]
        await until(lambda: "closes the connection unanswered" in conv.unreachable, 30,
                    "the reason on the screen")
        assert conv.unreachable == (
            "alice's node closes the connection unanswered: you are in network club and alice"
            " is not (or not yet) admitted to it; or they do not have you as a contact (not yet,"
            " removed or blocked)")
        assert "may have removed you" not in conv.unreachable
    finally:
        await chat.stop()


def test_the_reason_names_a_network_we_wait_to_join_and_several() -> None:
    """B3: the same words for a join that waits, and for two networks."""
    assert unanswered("bob", (), ["club"]).startswith(
        "bob's node closes the connection unanswered: you are waiting to join network club and"
        " bob is not (or not yet) admitted to it;")
    assert "you are in networks club, lab and bob" in unanswered("bob", ["club", "lab"])


@pytest.mark.parametrize("request_first", [False, True])
def test_the_new_key_warning_names_the_verified_contact_as_renamed(request_first: bool) -> None:
    """B9: after /rename bob "Bob B", the row still said "a NEW KEY, not the bob you VERIFIED":
    no contact was called bob any more. The warning and the request's page name "Bob B",
    whichever of the two the node lists first."""
    from tests.tui.test_state import BOB, DAVE, contact, loaded_state

    impostor = {**contact(DAVE, "bob (ABCDEFG)", state="request"), "same_name_as": BOB,
                "same_name_verified": True}
    state = loaded_state()
    state.set_contacts([{**contact(BOB, "bob"), "verified": True}, impostor], fresh=True)
    assert any("not the bob you VERIFIED" in n.text for n in state.notices)
    renamed = {**contact(BOB, "Bob B"), "verified": True}
    state.set_contacts([impostor, renamed] if request_first else [renamed, impostor])
    warnings = [n.text for n in state.notices if "NEW KEY" in n.text]
    assert len(warnings) == 1 and "a NEW KEY, not the Bob B you VERIFIED." in warnings[0]
    assert warnings[0].startswith("WARNING: bob (ABCDEFG) ")  # its own name, as the node set it
    assert state.conversations[DAVE].impostor_of == "Bob B"


async def test_group_create_with_filler_words_names_them_all_and_hints_without_them(
        make_local_node: MakeLocalNode) -> None:
    """B10: `/group create crew with bob and carol` said "'with' is not a contact (add and as a
    contact first (/add FINGERPRINT and) ...; or now without them: /group create "crew with"
    bob carol)": two words mixed in one sentence, and an odd name offered."""
    from tests.tui.test_screen_trial4_nodes import screen
    from tests.tui.test_screen_trial7 import texts, three

    alice, _, _ = await three(make_local_node)
    chat = await screen(alice)
    try:
        await chat.execute("/group create crew with bob and carol")
        assert alice.list_groups() == []
        assert texts(chat)[-1] == (
            "nothing created: 'with' and 'and' are not contacts (add them first (/add FINGERPRINT"
            " NAME), then invite them; or now without them: /group create crew bob carol)")
    finally:
        await chat.stop()


async def test_nearby_marks_a_stranger_under_your_own_name_or_a_contacts() -> None:
    """B15: bob's /nearby listed "3. bob  6MRPPSW-..." (another key, under bob's own name)
    unmarked. A stranger under your name, or a contact's, says it is another key."""
    from p2pchat.core.identity import Identity
    from p2pchat.tui.controller import Controller
    from tests.tui.test_screen_trial2 import NearbyBackend
    from tests.tui.test_state import BOB, contact

    dan, erin, eve = (Identity.from_seed(seed * 32).fingerprint for seed in (b"d", b"e", b"v"))
    backend = NearbyBackend()  # its node is called "me"
    backend.contact_list = [contact(BOB, "bob")]
    backend.nearby = [{"fingerprint": fp_, "name": name, "contact": fp_ == BOB}
                      for fp_, name in ((BOB, "bob"), (dan, "Me"), (erin, "bob"), (eve, "eve"))]
    chat = Controller(backend)
    await chat.start()
    try:
        await chat.execute("/nearby")
        page = chat.state.page
        assert page is not None
        rows = [line.split("  ")[1] for _, line in page.lines[:4]]
        assert rows == ["1. bob (contact)", "2. Me (not you: another key)",
                        "3. bob (not your contact bob: another key)", "4. eve"], page.lines
        await chat.execute("/peers")  # its "nearby:" lines say it too
        assert chat.state.page is not None
        near = [text.rsplit(" ", 2)[0] for _, text in chat.state.page.lines
                if text.startswith("nearby: ")]
        assert near == ["nearby: bob", "nearby: Me (not you: another key)",
                        "nearby: bob (not your contact bob: another key)", "nearby: eve"], near
    finally:
        await chat.stop()


async def test_one_join_is_one_entry_in_notices_updated_when_the_node_says_why_it_waits(
        ) -> None:
    """B13: one `/network join club PASS` gave two different answers in a row in /notices
    ("waiting for a member nearby to admit you; ..." then "waiting for a node of a network to
    be heard nearby (none is yet) ..."). The node's word updates the join's answer."""
    from p2pchat.tui.controller import Controller
    from tests.tui.test_controller import notices
    from tests.tui.test_screen_trial13_join import JoinBackend

    controller = Controller(JoinBackend())
    await controller.start()
    state = controller.state
    try:
        await controller.execute("/network join hikers some-passphrase")
        assert "joining hikers: waiting for a member nearby to admit you" in notices(controller)
        state.networks_waiting = ["hikers"]
        state.apply({"type": "admission_waiting", "network": "hikers", "reason": "none_heard",
                     "heard": 0, "limiting": 0})
        await controller.execute("/notices")
        assert state.page is not None
        joins = [text for _, text in state.page.lines if "joining hikers" in text]
        assert len(joins) == 1, state.page.lines
        assert joins[0].endswith(
            "joining hikers: waiting for a member nearby to admit you, and no node of a network"
            " is heard nearby yet: a member must run with discovery on; /network join hikers"
            " --via HOST:PORT PASSPHRASE asks one by its address")
        assert len([n for n in state.notices if n.key == "admission:hikers"]) == 1
    finally:
        await controller.stop()
