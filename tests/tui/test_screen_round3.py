"""The chat screen, round 2 of issue 23: what a newcomer's third trial hit, on a real ChatApp
fed real key bytes (the node is the controller tests' FakeBackend)."""

from __future__ import annotations

import pytest

from tests.aio import until
from tests.tui.test_controller import FakeBackend
from tests.tui.test_screen import ENTER, running
from tests.tui.test_state import BOB, CAROL, contact

pytestmark = pytest.mark.timeout(30)


async def test_the_block_question_names_a_suffixed_request_once() -> None:
    backend = FakeBackend()
    suffixed = f"bob ({CAROL[:7]})"  # a new key under bob's name, as the node names it
    backend.contact_list = [contact(BOB, "bob"), contact(CAROL, suffixed, state="request")]
    async with running(backend) as (chat, keys):
        keys.send_text(f"/block {CAROL}{ENTER}")
        await until(lambda: chat.confirm is not None, 10, "the question")
        assert chat.confirm is not None
        assert f"Block {suffixed}?" in chat.confirm[0], chat.confirm[0]
        keys.send_text(f"n{ENTER}")
        await until(lambda: chat.confirm is None, 10, "the answer")


def test_a_long_paste_is_split_at_line_ends() -> None:
    from p2pchat.core.messages import MAX_TEXT_BYTES
    from p2pchat.tui.commands import split_message

    lines = [f"line {i:04} " + "word " * 18 for i in range(200)]  # ~100 bytes a line
    pasted = "\n".join(lines)
    parts = split_message(pasted, MAX_TEXT_BYTES)
    assert len(parts) == 2
    assert all(len(p.encode()) <= MAX_TEXT_BYTES for p in parts)
    # Every line arrives whole, in order, in one part or the other.
    assert [line for part in parts for line in part.split("\n")] == lines
