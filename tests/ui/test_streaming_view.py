"""A streamed answer in the chat screen, fed engine events without a model."""

from __future__ import annotations

import re

from uiharness import SIZE, ui_settings

from asynclm_tui.core.api.events import Prefilled, Token, TurnStarted
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.streaming.stream_markdown import StreamingMarkdown

ANSWER = "\n\n".join(
    f"Paragraph {i} says a few words about lamps, lenses and the sea at night.\n"
    f"- item {i}a\n- item {i}b"
    for i in range(40)
)


async def test_a_streamed_answer_ends_at_the_bottom_line_of_the_transcript() -> None:
    # No blank lines are kept below the text for it to grow into: every frame
    # that adds a line scrolls by that line, whatever the cores.
    settings = ui_settings()
    engine = build_engine(settings, interactive=True)
    app = create_app(settings, engine, start_engine=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            chat, transcript = app.chat, app.chat.transcript
            await chat.apply(TurnStarted(1.0, 1, "async", "go"))
            await chat.apply(Prefilled(1.1, 10, 10, 5.0))
            checked = 0
            for i, word in enumerate(re.findall(r"\s*\S+", ANSWER)):
                await chat.apply(Token(2.0, word, word))
                if i % 6:
                    continue
                await chat.flush_now()  # a frame
                await pilot.pause()
                entry = transcript.current
                assert entry is not None
                md = entry.query_one(StreamingMarkdown)
                assert md.size.height == len(md._lines_at(md.content_size.width))
                assert md.render_line(md.size.height - 1).text.strip()  # no spare blank line
                if transcript.max_scroll_y > 0:
                    assert transcript.scroll_y == transcript.max_scroll_y  # following the text
                    checked += 1
            assert checked > 20
    finally:
        engine.close()
