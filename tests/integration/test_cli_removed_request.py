"""Issue 23 (trial B3, B4), node and CLI side: a contact we removed whose node still has us
asks to connect again at once (protocol.md 7.1: its node sends a ContactRequest on every link
where we do not know it). That request is kept under the name we last gave them, marked
`after_removal`, and the name the removal notice gave still finds the kept history."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from p2pchat.core.messages import ContactRequest
from tests.aio import until
from tests.cli import run
from tests.local_nodes import MakeLocalNode
from tests.nodes import NodeProcess, wait_for
from tests.tui.test_screen_trial4_nodes import linked_pair
from tests.tui.test_tmux import mutual


def _asking(node: NodeProcess) -> list[dict[str, object]]:
    return [c for c in node.json("contacts", "list") if c["state"] == "request"]


def _removed_carol_asks_again(alice: NodeProcess, carol: NodeProcess, said: str) -> str:
    """alice and carol linked; alice calls her "Carol S", writes `said`, removes her; carol's
    node, which still has alice, asks again. What `contacts remove` printed."""
    mutual(alice, carol, "alice", "carol")
    alice.cli("contacts", "rename", "carol", "Carol S", check=True)
    alice.cli("send", "Carol S", said, check=True)
    [since] = [c["since"] for c in alice.json("contacts", "list")]
    removed = alice.cli("contacts", "remove", "Carol S", check=True).stdout
    wait_for(lambda: bool(_asking(alice)), 20, "carol's node asking again")
    # The same conversation: its place in the chat's list stays (trial 14b, B4)
    assert [c["since"] for c in _asking(alice)] == [since]
    return removed


def test_a_removed_contact_asking_again_keeps_our_name_and_its_history(tmp_path: Path) -> None:
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        removed = _removed_carol_asks_again(alice, carol, "see you at the crag")
        # Linked when removed: her node still has us, and says so at once.
        assert "Carol S's node still has you as a contact" in removed, removed
        [request] = _asking(alice)
        assert request["name"] == "Carol S", request  # ours, not her announced "carol"
        assert request["after_removal"] is True, request
        for command in ("contacts", "peers"):  # not "asks to connect": their node does
            listed = alice.cli(command, check=True).stdout
            assert "still has you as a contact" in listed, listed
            assert "asks to connect" not in listed, listed
        for who in ("@Carol S", "Carol S", carol.fingerprint):
            log = alice.cli("log", who)
            assert log.returncode == 0, (who, log.stderr)
            assert "see you at the crag" in log.stdout, (who, log.stdout)
        accepted = alice.json("contacts", "accept", "Carol S")
        assert accepted["name"] == "Carol S" and accepted["state"] == "contact", accepted
        wait_for(lambda: any(c["online"] for c in alice.json("contacts", "list")), 20,
                 "linked again")
    finally:
        alice.close()
        carol.close()


def test_the_kept_name_finds_the_history_with_no_node_running(tmp_path: Path) -> None:
    """`log '@Carol S'` reads the store when no node runs: the waiting request has her name."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    carol = NodeProcess(tmp_path / "carol", "carol").start()
    try:
        _removed_carol_asks_again(alice, carol, "rope is in my car")
        alice.stop()
        log = run(alice.home, "log", "@Carol S")
        assert log.returncode == 0 and "rope is in my car" in log.stdout, log
    finally:
        alice.close()
        carol.close()


def test_a_removed_contact_not_linked_is_told_as_before(tmp_path: Path) -> None:
    """Not linked at the removal: nothing is known of their node; a stranger's request keeps
    its meaning (no `after_removal`)."""
    alice = NodeProcess(tmp_path / "alice", "alice").start()
    dave = NodeProcess(tmp_path / "dave", "dave").start()
    erin = NodeProcess(tmp_path / "erin", "erin").start()
    try:
        alice.cli("contacts", "add", dave.fingerprint, "--name", "dave", check=True)
        removed = alice.json("contacts", "remove", "dave")
        assert removed.get("they_have_you") is not True, removed
        erin.cli("contacts", "add", alice.fingerprint, "--name", "alice", "--addr", alice.addr,
                 check=True)
        wait_for(lambda: bool(_asking(alice)), 20, "erin's request")
        [request] = _asking(alice)
        assert request["name"] == "erin" and "after_removal" not in request, request
    finally:
        alice.close()
        dave.close()
        erin.close()


async def test_a_request_stored_under_its_own_name_still_leaves_the_history_to_log(
        make_local_node: MakeLocalNode) -> None:
    """A request stored before this fix is named as its sender calls itself ("carol"): the
    name the removal notice gave ("Carol S", the kept conversation's) still finds the
    history, and their own does too (it is the request's)."""
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    await alice.send("carol", "chalk bag?")
    await alice.rename_contact("carol", "Carol S")
    await alice.remove_contact("Carol S")
    await until(lambda: alice.db.contacts.get(carol.key) is not None, 20, "asking again")
    await alice.rename_contact("Carol S", "carol")  # as such a request was named
    for who in ("@Carol S", "Carol S", "carol"):
        assert [m["text"] for m in alice.history(who)] == ["chalk bag?"], who


async def test_their_new_nick_leaves_our_name_for_a_removed_contact(
        make_local_node: MakeLocalNode) -> None:
    """A waiting request follows its sender's renames (trial B14), but not ours for someone we
    removed: their node knocks again under its new nick and "Carol S" stays."""
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    await alice.rename_contact("carol", "Carol S")
    await alice.remove_contact("Carol S")
    await until(lambda: alice.db.contacts.get(carol.key) is not None, 20, "asking again")
    knock = SimpleNamespace(peer=SimpleNamespace(group_only=True), source="127.0.0.1")
    alice.trust.on_contact_request(knock, carol.key,  # type: ignore[arg-type]
                                   ContactRequest(name="Caz", note=""))
    assert alice.db.contacts.get(carol.key).name == "Carol S"  # type: ignore[union-attr]
