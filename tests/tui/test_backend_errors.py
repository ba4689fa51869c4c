"""The in-process backend reports the node's refusals by the same codes as the control API."""

from __future__ import annotations

import pytest

from p2pchat.core.identity import Identity, fingerprint
from p2pchat.tui.backend import BackendError, NodeBackend
from tests.local_nodes import MakeLocalNode

pytestmark = pytest.mark.timeout(60)


async def test_a_bad_name_is_bad_name(make_local_node: MakeLocalNode) -> None:
    alice = await make_local_node("alice")
    backend = NodeBackend(alice)
    with pytest.raises(BackendError) as info:
        await backend.add_contact(fingerprint(Identity.generate().public_key), "bob\u202e", [])
    assert info.value.code == "bad_name" and "U+202E" in str(info.value)
    assert alice.list_contacts() == []
