"""Streaming an answer into the terminal without slowing decoding.

Textual's Markdown widget builds a widget per block and re-lays-out that tree
on every update; on a machine where llama.cpp's threads take every core, each
millisecond the UI spends is taken from decoding.  This package replaces it:

- :mod:`.stream_markdown`: one widget per answer segment that renders
  finished blocks once and re-renders only the open block at the end;
- :mod:`.markdown_blocks`: where a streamed block can no longer change;
- :mod:`.rich_markdown`: Rich's Markdown styled from the Textual theme;
- :mod:`.render_pacer`: when to render (a CPU-share budget, keys first);
- :mod:`.quiet_gc`: full garbage collections kept out of a turn and of a saved
  chat being drawn;
- :mod:`.startup_gc`: the collector paused while the program starts (the
  console script imports it first, so it imports nothing).

The private Textual names these rely on are overridden and listed in
:mod:`asynclm_tui.ui.textual_internals` (and nowhere else).
"""
