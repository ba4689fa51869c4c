"""Files in the chat screen: offers and progress in the conversation, /file, path completion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2pchat.tui import render
from p2pchat.tui.commands import parse
from p2pchat.tui.completing import completions
from p2pchat.tui.controller import Controller
from p2pchat.tui.files import parse_file, path_completions
from tests.aio import until
from tests.tui.test_controller import FakeBackend, notices
from tests.tui.test_render import text_of
from tests.tui.test_state import BOB, loaded_state

pytestmark = pytest.mark.timeout(30)

ID = "3f2a1b" + "0" * 26


def offer(**fields: Any) -> dict[str, Any]:
    return {"type": "file_offer", "id": ID, "name": "talk.mp4", "size": 80 * 2**20,
            "state": "offered", "direction": "in", "fingerprint": BOB, "peer": "bob",
            "received": 0, "path": "", "error": "", **fields}


def screen(state: Any) -> list[str]:
    return [text_of(row) for row in render.history_rows(state, 100)]


def test_an_offer_shows_in_its_conversation_with_how_to_answer_it() -> None:
    state = loaded_state()
    state.apply(offer())
    assert "bob offers talk.mp4 (80.0 MiB): /file accept 3f2a1b00" in state.notices[-1].text
    assert any("offers talk.mp4" in row and "/file decline 3f2a1b00" in row
               for row in screen(state))


def test_progress_draws_a_bar_and_the_end_is_told() -> None:
    state = loaded_state()
    state.apply(offer(type="file", state="receiving"))
    state.apply({"type": "file_progress", "id": ID, "received": 40 * 2**20})
    bar = next(row for row in screen(state) if "talk.mp4" in row)
    assert "[##########..........]  50%" in bar and "40.0 MiB/80.0 MiB" in bar
    state.apply(offer(type="file", state="done", received=80 * 2**20, path="/d/talk.mp4"))
    assert state.notices[-1].text == "talk.mp4 done: /d/talk.mp4"


def test_hostile_names_are_cleaned_before_the_screen() -> None:
    state = loaded_state()
    state.apply(offer(name="evil\x1b[2J\u202egnp.exe"))
    rows = screen(state)
    assert all("\x1b" not in row and "\u202e" not in row for row in rows)


@pytest.mark.parametrize(("rest", "parsed"), [
    ("~/a b.pdf", ("send", "~/a b.pdf")),
    ("accept 3f2a", ("accept", "3f2a")),
    ("cancel 3f2a", ("cancel", "3f2a")),
    ("list", ("list", "")),
    ("accept", ("send", "accept")),  # a file called "accept"
])
def test_parse_file(rest: str, parsed: tuple[str, str]) -> None:
    assert parse_file(rest) == parsed


def test_tab_completes_paths(tmp_path: Path) -> None:
    (tmp_path / "slides.pdf").write_bytes(b"x")
    (tmp_path / "slides-old").mkdir()
    (tmp_path / ".secret").write_bytes(b"x")
    typed = f"{tmp_path}/sl"
    assert path_completions(typed) == [f"{tmp_path}/slides-old/", f"{tmp_path}/slides.pdf"]
    assert path_completions(f"{tmp_path}/.") == [f"{tmp_path}/.secret"]
    state = loaded_state()
    got = completions(state, f"/file {typed}")
    assert (f"{tmp_path}/slides.pdf", -len(typed)) in got
    assert path_completions("/no/such/dir/x") == []


class FileBackend(FakeBackend):
    async def send_files(self, who: str, paths: list[str]) -> list[dict[str, Any]]:
        self.calls.append(("send_files", (who, paths)))
        return [offer(type="file", direction="out", name=Path(paths[0]).name, size=5)]

    async def file_action(self, action: str, id_text: str) -> dict[str, Any]:
        self.calls.append(("file_action", (action, id_text)))
        return offer(type="file", state="receiving")


async def test_file_sends_to_the_open_conversation_and_answers_offers(tmp_path: Path) -> None:
    backend = FileBackend()
    controller = Controller(backend)
    await controller.start()
    try:
        assert parse("/file x") is not None
        controller.submit(f"/file {tmp_path}/notes.txt")
        await until(lambda: any(c[0] == "send_files" for c in backend.calls), 10, "the send")
        assert ("send_files", (BOB, [f"{tmp_path}/notes.txt"])) in backend.calls
        controller.state.apply(offer())
        controller.submit("/file accept 3f2a")
        await until(lambda: any(c[0] == "file_action" for c in backend.calls), 10, "accept")
        assert ("file_action", ("accept", ID)) in backend.calls
        await until(lambda: "offered notes.txt" in notices(controller), 10, "the notice")
    finally:
        await controller.stop()
