"""Groups between real node processes on 127.0.0.1 (mDNS off), driven through the CLI.

Waiting polls the control socket (a CLI call per poll would start a Python process each time,
which on 2 cores slows the nodes under test); what is asserted is read through the CLI."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from p2pchat.control_client import ControlClient
from tests.cli import assert_clean_failure
from tests.nodes import NodeProcess, wait_for

pytestmark = pytest.mark.timeout(180)

MakeNode = Callable[[str], NodeProcess]


def hub(owner: NodeProcess, *members: NodeProcess) -> None:
    """The owner knows where its members are; they know it only as a contact, and nothing of
    each other: they are not contacts, and no address of one ever reaches the other."""
    for m in members:
        owner.cli("contacts", "add", m.fingerprint, "--name", m.name, "--addr", m.addr,
                  check=True)
        m.cli("contacts", "add", owner.fingerprint, "--name", owner.name, check=True)


def api(node: NodeProcess, method: str, **params: Any) -> Any:
    with ControlClient(node.home) as client:
        return client.call(method, **params)


def group_view(node: NodeProcess, title: str) -> dict[str, Any] | None:
    return next((g for g in api(node, "groups.list") if g["title"] == title), None)


def ready(node: NodeProcess, owner: NodeProcess, title: str) -> bool:
    mine, theirs = group_view(node, title), group_view(owner, title)
    return bool(mine and theirs and mine["has_key"] and mine["epoch"] == theirs["epoch"])


def invited(node: NodeProcess, group: str) -> bool:
    return any(g["group"] == group and g["role"] == "invited"
               for g in node.json("group", "list", "--json"))


def texts(node: NodeProcess, group: str) -> list[str]:
    """What `log GROUP --json` shows."""
    return [m["text"] for m in node.log_json(group) if m.get("notice") != "membership"]


def has(node: NodeProcess, group: str, text: str) -> bool:
    return any(m["text"] == text for m in api(node, "log", **{"with": group}))


def start_group(a: NodeProcess, *members: NodeProcess, title: str = "club") -> str:
    hub(a, *members)
    group = a.json("group", "create", title)["group"]
    for m in members:
        a.cli("group", "invite", title, m.name, check=True)
    for m in members:  # each says yes (invitations wait for consent)
        wait_for(lambda m=m: invited(m, group), 15, f"{m.name}'s invitation")
        m.cli("group", "accept", group, check=True)
    wait_for(lambda: all(ready(m, a, title) for m in members), 15, "members to join")
    return str(group)


def test_members_who_cannot_reach_each_other_talk_through_the_owner(
        make_node: MakeNode) -> None:
    a, b, c = (make_node(n).start() for n in ("a", "b", "c"))
    start_group(a, b, c)
    joined = group_view(b, "club")
    assert joined is not None and joined["owner"] == a.fingerprint and joined["members"] == 3
    assert [g["title"] for g in b.json("group", "list")] == ["club"]
    assert "club" in b.cli("group", "list", check=True).stdout
    assert "(owner)" in b.cli("group", "members", "club", check=True).stdout
    members = {m["name"]: m for m in a.json("group", "members", "club")}
    assert set(members) == {"a", "b", "c"} and members["a"]["owner"] and members["b"]["online"]

    b.cli("send", "club", "from b", check=True)
    wait_for(lambda: has(c, "club", "from b"), 5, "b's message at c")
    c.cli("send", "club", "from c", check=True)
    wait_for(lambda: has(b, "club", "from c"), 5, "c's message at b")
    wait_for(lambda: has(a, "club", "from c"), 5, "c's message at a")
    for node in (a, b, c):
        assert Counter(texts(node, "club")) == {"from b": 1, "from c": 1}
    assert not any(p["fingerprint"] == c.fingerprint for p in b.json("peers")["links"])

    a.cli("group", "remove", "club", "c", check=True)
    wait_for(lambda: ready(b, a, "club"), 10, "b to hold the new epoch's key")
    wait_for(lambda: (group_view(c, "club") or {}).get("role") == "removed", 10, "c told")
    b.cli("send", "club", "after c left", check=True)
    wait_for(lambda: has(a, "club", "after c left"), 5, "b's message at a")
    b.cli("send", "club", "and again", check=True)
    wait_for(lambda: has(a, "club", "and again"), 5, "the next one at a")
    assert "after c left" not in texts(c, "club") and "and again" not in texts(c, "club")
    assert_clean_failure(c.cli("send", "club", "still here?"))


def test_kill_9_of_any_member_loses_and_doubles_nothing(make_node: MakeNode) -> None:
    a, b, c = (make_node(n).start() for n in ("a", "b", "c"))
    start_group(a, b, c)
    sent: list[str] = []
    failures: list[str] = []

    def talk() -> None:  # b writes all along; each send returns once it is on b's disk
        for i in range(16):
            proc = b.cli("send", "club", f"msg {i}")
            if proc.returncode == 0:
                sent.append(f"msg {i}")
            else:
                failures.append(proc.stderr)

    writer = threading.Thread(target=talk)
    writer.start()
    rng = random.Random(7)
    for victim in (a, c):  # the forwarder and a receiver die mid-stream
        count = len(sent)
        wait_for(lambda count=count: len(sent) > count, 30, "b to send a message")
        if rng.random() < 0.5:
            wait_for(lambda: len(sent) % 2 == 0, 30, "a random point")
        victim.kill()
        victim.start()
    writer.join(timeout=120)
    assert not writer.is_alive() and not failures, failures
    b.kill()  # and the writer itself, after its last send returned
    b.start()
    c.cli("send", "club", "c after all that", check=True)
    everything = set(sent) | {"c after all that"}
    for node in (a, b, c):
        wait_for(lambda node=node: everything <= {m["text"] for m in api(node, "log", **{
            "with": "club"})}, 30, f"{node.name} to hold everything")
    for node in (a, b, c):
        counts = Counter(m["id"] for m in node.log_json("club") if not m.get("notice"))
        assert set(Counter(texts(node, "club")).values()) == {1}
        assert len(counts) == len(everything) and set(counts.values()) == {1}


def test_a_groups_log_and_search_work_with_no_node_running(make_node: MakeNode) -> None:
    a, b = (make_node(n).start() for n in ("a", "b"))
    group = start_group(a, b)
    b.cli("send", "club", "minutes of the meeting", check=True)
    wait_for(lambda: has(a, "club", "minutes of the meeting"), 5, "b's message at a")
    a.cli("send", "club", "thanks", check=True)
    online = a.log_json("club")
    a.stop()

    # Read from the store alone: the state rebuilt from the op chain, the text opened with the
    # group key, the same answers as the running node gave.
    assert a.log_json("club") == online
    assert a.log_json(group) == online
    assert [m["text"] for m in online if not m.get("notice")] == [
        "minutes of the meeting", "thanks"]
    found = a.cli("search", "club", "MEETING", check=True).stdout
    assert "b: minutes of the meeting" in found and "thanks" not in found
    missing = a.cli("log", "nobody")
    assert_clean_failure(missing)
    assert "no contact or group named 'nobody'" in missing.stderr


def test_consent_ambiguity_and_forget_from_the_command_line(make_node: MakeNode) -> None:
    """Issue 22 from outside: the invitation waits for `group accept`; `send` to a name that is
    a contact's and a group's says which to pick; a left group is forgotten only on --yes."""
    a, b, c = (make_node(n).start() for n in ("a", "b", "c"))
    b.cli("contacts", "add", c.fingerprint, "--name", "club", check=True)  # a contact "club"
    group = start_group(a, b, title="club")  # and a group "club"
    sent = b.cli("send", "club", "which one?")
    assert sent.returncode != 0
    assert "#club" in sent.stderr and "@club" in sent.stderr and "ambiguous" in sent.stderr
    b.cli("send", "#club", "to the group", check=True)
    wait_for(lambda: has(a, group, "to the group"), 15, "the owner reads it")
    assert [m["text"] for m in b.log_json("@club")] == []
    b.cli("group", "leave", "#club", check=True)
    refused = b.cli("group", "forget", group)  # no terminal: not without --yes
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert any(g["group"] == group for g in b.json("group", "list", "--json"))
    b.cli("group", "forget", group, "--yes", check=True)
    assert not any(g["group"] == group for g in b.json("group", "list", "--json"))
    assert b.log_json("@club") == []
