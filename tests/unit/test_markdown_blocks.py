"""Splitting streamed Markdown into finished blocks and an open tail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asynclm_tui.ui.streaming.markdown_blocks import BlockSplitter

DOC = """\
## Heading
First paragraph,
still the first.

- item one
- item two

  continued item paragraph

```python
x = 1

y = 2
```

Last words"""


def split(pieces: list[str]) -> tuple[list[str], str]:
    splitter = BlockSplitter()
    blocks: list[str] = []
    for piece in pieces:
        blocks.extend(splitter.feed(piece))
    return blocks, splitter.tail


def test_blocks_close_only_when_the_next_one_starts() -> None:
    blocks, tail = split([DOC])
    assert blocks == [
        "## Heading\nFirst paragraph,\nstill the first.",
        "- item one\n- item two\n\n  continued item paragraph",
        "```python\nx = 1\n\ny = 2\n```",
    ]
    assert tail == "Last words"


def test_blank_line_inside_an_open_fence_does_not_split() -> None:
    blocks, tail = split(["```\ncode\n\nmore code\n\n", "Not after"])
    assert blocks == []
    assert tail.startswith("```\ncode\n\nmore code")


def test_a_block_stays_open_until_a_line_starts_at_the_margin() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("para one\n\n") == []
    assert splitter.feed("  indented\n\n") == []  # continues the block
    assert splitter.feed(" ") == []  # an indented line: still the same block
    assert splitter.feed("more\n\n") == []
    assert splitter.feed("N") == ["para one\n\n  indented\n\n more"]
    assert splitter.tail == "N"


@given(st.lists(st.integers(min_value=0, max_value=len(DOC)), max_size=12))
def test_any_split_of_the_stream_gives_the_same_blocks(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [DOC[a:b] for a, b in zip([0, *points], [*points, len(DOC)], strict=True)]
    assert split(pieces) == split([DOC])
