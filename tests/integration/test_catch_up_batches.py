"""A receiver that was away gets a backlog larger than one serving step, in order, once each,
with steps cut short by their byte budget as well as by their count (issue #13)."""

from __future__ import annotations

import pytest

from p2pchat.core.identity import fingerprint
from p2pchat.node import backlog
from tests.aio import until
from tests.local_nodes import MakeLocalNode


async def test_backlog_of_many_steps_arrives_in_order_once(make_local_node: MakeLocalNode,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    # Small steps so 60 messages take many: 7 by count, or fewer when 600 sealed bytes are
    # reached first (some texts below are long).
    monkeypatch.setattr(backlog, "BATCH", 7)
    monkeypatch.setattr(backlog, "BATCH_BYTES", 600)
    alice = await make_local_node("alice")
    bob = await make_local_node("bob")
    bob_port = bob.listen_addresses[0][1]
    bob_identity = bob.identity
    await bob.stop()
    await alice.add_contact(fingerprint(bob.key), "bob", [f"127.0.0.1:{bob_port}"])
    texts = [f"backlog {i} " + ("long " * 60 if i % 5 == 0 else "") for i in range(60)]
    for text in texts:
        result = await alice.send("bob", text)
        assert result["status"] == "queued"
    bob = await make_local_node("bob2", identity=bob_identity)
    await bob.add_contact(fingerprint(alice.key), "alice",
                          [f"127.0.0.1:{alice.listen_addresses[0][1]}"])

    def received() -> list[str]:
        return [m["text"] for m in bob.history("alice")]

    await until(lambda: len(received()) >= len(texts), 30, "the backlog")
    assert received() == texts
    await until(lambda: alice.history("bob")[-1]["status"] == "delivered", 30, "the receipts")
    assert [m["status"] for m in alice.history("bob")] == ["delivered"] * len(texts)
