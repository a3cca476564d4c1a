"""Copying: the last answer, code blocks, the mouse selection; clipboard or file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.selection import Selection

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import LOADED, _text, play, replay_app, settings  # noqa: E402
from uiharness import wait_until  # noqa: E402

from asynclm_tui.core.api.enums import CallStatus  # noqa: E402
from asynclm_tui.core.api.events import (  # noqa: E402
    CallIssued,
    CallUpdated,
    Event,
    Prefilled,
    Token,
    TurnStarted,
)
from asynclm_tui.ui.app import AsyncLMApp  # noqa: E402
from asynclm_tui.ui.clipboard import Clipboard, fenced_code, osc52_blocker  # noqa: E402
from asynclm_tui.ui.streaming.stream_markdown import COPY_LABEL, StreamingMarkdown  # noqa: E402

CODE = "Here is one:\n\n```python\nprint('hi')\n```\n\nand another:\n\n```sh\nls -l\n```\n\nDone."
TURN: list[Event] = [
    *LOADED,
    TurnStarted(1.0, 1, "async", "show me code"),
    Prefilled(1.1, 10, 10, 5.0),
    *_text(1.2, "Let me look."),
    Token(1.3, " [CALL] e [HEAD] echo(text='x') [END]", ""),
    CallIssued(1.3, "e", "echo", (), {"text": "x"}, True, 20.0),
    CallUpdated(1.3, "e", CallStatus.RUNNING),
    Token(1.4, " " + CODE, " " + CODE),
]
ANSWER = "Let me look. " + CODE


def copy_app(mode: str) -> AsyncLMApp:
    cfg = settings()
    cfg.ui.clipboard = mode  # type: ignore[assignment]
    return replay_app(TURN, cfg)


def saved_files() -> list[Path]:
    folder = Path(__import__("os").environ["XDG_DATA_HOME"]) / "asynclm" / "copied"
    return sorted(folder.glob("*.md")) if folder.is_dir() else []


def test_osc52_blockers() -> None:
    assert osc52_blocker({"TERM": "xterm-256color"}) is None
    assert "macOS Terminal" in (osc52_blocker({"TERM_PROGRAM": "Apple_Terminal"}) or "")
    assert osc52_blocker({"TMUX": "/tmp/x"}, lambda: "on") is None
    blocked = osc52_blocker({"TMUX": "/tmp/x"}, lambda: "external") or ""
    assert "set-clipboard is external" in blocked and "set -g set-clipboard on" in blocked
    assert osc52_blocker({"STY": "1.pts"}) is not None


def test_file_fallback_never_overwrites(tmp_path: Path) -> None:
    sent: list[str] = []
    board = Clipboard(sent.append, "file", folder=tmp_path)
    first = board.copy("one", "answer-1")
    second = board.copy("two", "answer-1")
    assert sent == ["one", "two"]  # the app's own clipboard still gets it
    assert first.path != second.path
    assert first.path is not None and first.path.read_text() == "one\n"
    assert "ui.clipboard is file" in first.notice("answer 1", "one")


def test_fenced_code() -> None:
    assert fenced_code(CODE) == [("python", "print('hi')\n"), ("sh", "ls -l\n")]
    assert fenced_code("no code here") == []


async def test_copy_last_answer_as_markdown_to_the_clipboard() -> None:
    app = copy_app("osc52")
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.clipboard != "", 5, "the copy")
        assert app.clipboard == ANSWER  # the chips are not part of it
        assert saved_files() == []


async def test_copy_falls_back_to_a_file() -> None:
    app = copy_app("file")
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: bool(saved_files()), 5, "the saved file")
        [path] = saved_files()
        assert path.read_text() == ANSWER + "\n"
        assert path.name.endswith("answer-1.md")


async def test_copy_code_key_steps_back_through_blocks() -> None:
    app = copy_app("osc52")
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.clipboard == "ls -l\n", 5, "the last block")
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.clipboard == "print('hi')\n", 5, "the block before")


async def test_each_code_block_has_a_copy_link() -> None:
    app = copy_app("osc52")
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        segment = app.chat.query(StreamingMarkdown).last()
        lines = [strip.text for strip in segment._lines_at(segment.content_size.width)]
        links = [y for y, line in enumerate(lines) if COPY_LABEL.strip() in line]
        assert len(links) == 2
        region = segment.content_region
        x = region.x + region.width - len(COPY_LABEL) // 2
        await pilot.click(offset=(x, region.y + links[0] - segment.scroll_offset.y))
        await wait_until(pilot, lambda: app.clipboard == "print('hi')\n", 5, "the copy")


async def test_mouse_selection_is_copied_with_ctrl_c() -> None:
    app = copy_app("osc52")
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        segment = app.chat.query(StreamingMarkdown).last()
        app.chat.selections = {segment: Selection(None, None)}  # everything in it
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: app.clipboard != "", 5, "the copy")
        assert "print('hi')" in app.clipboard and "Done." in app.clipboard


@pytest.mark.parametrize("key", ["f3", "f4"])
async def test_nothing_to_copy_says_so(key: str) -> None:
    app = replay_app(LOADED)
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        await pilot.press(key)
        await wait_until(
            pilot, lambda: any("No " in n.message for n in app._notifications), 5, "the notice"
        )
        assert app.clipboard == ""
