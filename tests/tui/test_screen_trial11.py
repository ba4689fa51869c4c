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


@pytest.mark.parametrize("line", ["/msg bob hello who?", "/msg nobody hello who?"])
async def test_a_command_refused_for_its_name_comes_back_as_typed(
        make_local_node: MakeLocalNode, line: str) -> None:
    """Trial 11: with a group called bob, `/msg bob hello who?` said it was ambiguous and the
    line was gone; so for a name nobody has."""
    from p2pchat.tui.backend import NodeBackend
    from tests.aio import until
    from tests.tui.test_screen import ENTER, running
    from tests.tui.test_screen_trial7 import texts

    alice, _ = await linked_pair(make_local_node, "alice", "bob")
    await alice.create_group("bob")
    async with running(NodeBackend(alice)) as (chat, keys):  # type: ignore[arg-type]
        keys.send_text(f"{line}{ENTER}")
        await until(lambda: chat.input.text == line, 10,
                    f"the line back in the input: {texts(chat.controller)}")
        said = texts(chat.controller)
        assert sum("ambiguous" in t or "/contacts" in t for t in said) == 1, said
        assert not any("not run" in t or "failed" in t for t in said), said
        assert not [m for m in alice.history("@bob") if "who?" in str(m.get("text"))]
        keys.send_text("\x15" * 3 + "/quit" + ENTER)
