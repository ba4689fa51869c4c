"""notes/s34/trial11.md on the chat screen: a quoted name is the name without its quotes
(`/rename carol "Carol S"` kept them), wherever a name is typed; a command refused for an
ambiguous or unknown name gives the typed line back; an open /receipts page follows receipts."""

from __future__ import annotations

import pytest

from p2pchat.core.typed_name import first_quoted, unquoted
from tests.local_nodes import MakeLocalNode
from tests.tui.test_screen_trial4_nodes import linked_pair, screen

pytestmark = pytest.mark.timeout(90)


def test_the_one_rule() -> None:
    assert unquoted('"Carol S"') == unquoted("'Carol S'") == unquoted(" Carol S ") == "Carol S"
    assert unquoted('"Carol" S') == '"Carol" S'  # not one quoted name: as typed
    assert unquoted('"Carol S') == '"Carol S'  # an unclosed quote stays
    assert first_quoted('"Carol S" Carol T') == ("Carol S", "Carol T")
    assert first_quoted("carol x") is None


async def test_quoted_names_are_read_without_their_quotes(
        make_local_node: MakeLocalNode) -> None:
    alice, carol = await linked_pair(make_local_node, "alice", "carol")
    chat = await screen(alice)
    try:
        await chat.execute('/rename carol "Carol S"')
        assert alice.db.contacts.get(carol.key).name == "Carol S"  # type: ignore[union-attr]
        await chat.execute("/rename 'Carol S' \"Carol T\"")
        assert alice.db.contacts.get(carol.key).name == "Carol T"  # type: ignore[union-attr]
        await chat.execute('/msg "Carol T" on my way')
        assert chat.state.current is not None and chat.state.current.name == "Carol T"
        asked: list[str] = []

        async def rename_self(name: str) -> dict[str, object]:
            asked.append(name)
            return {}
        chat.backend.rename_self = rename_self  # type: ignore[method-assign]
        await chat.execute('/nick "Alice L"')
        assert asked == ["Alice L"]
    finally:
        await chat.stop()
