"""Chips land between tokens but are drawn where a reader expects them: a result
at the end of its sentence or line, the model's own call at least after the word."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from asynclm_tui.ui.streaming.stream_markdown import StreamingMarkdown
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Chip


class Host(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield AssistantEntry(1)


def layout(entry: AssistantEntry) -> list[str]:
    """The rendered answer in order: Markdown sources and ``<kind>`` for chips."""
    parts: list[str] = []
    for child in entry.children:
        if isinstance(child, Chip):
            parts.append(f"<{child.kind}>")
        elif isinstance(child, StreamingMarkdown) and child.source:
            parts.append(child.source.strip())
    return parts


async def stream(entry: AssistantEntry, script: list[str | tuple[str, ...]]) -> None:
    """Feed text pieces and chips (``(kind,)`` or ``(kind, "now")``) as the screen does."""
    for item in script:
        if isinstance(item, str):
            entry.add_raw(item)
            entry.add_text(item)
        else:
            entry.add_raw(f"[INTR] {item[0]} [END]")
            await entry.add_chip(item[0], "x", now=item[1:] == ("now",))


async def test_a_result_inside_a_word_is_drawn_after_the_word() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        await stream(
            entry,
            [
                "Echo",
                ("result",),
                "ing.",
                " Wa",
                ("result",),
                "iting",
                ".\n",
                "Done",
                ".",
                ("result",),
                " Bye.",
            ],
        )
        await entry.finish()
        assert layout(entry) == [
            "Echoing.",
            "<result>",
            "Waiting.",
            "<result>",
            "Done.",
            "<result>",
            "Bye.",
        ]
        # The raw CML view keeps the exact place where each result landed.
        assert entry.raw_text.startswith("Echo[INTR] result [END]ing. Wa[INTR]")


async def test_a_chip_between_words_is_placed_at_once() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        await stream(
            entry, ["One two ", ("call",), ("result",), "Echo said hi.", ("user",), "Coffee too."]
        )
        await entry.flush()
        assert layout(entry) == [
            "One two",
            "<call>",
            "<result>",
            "Echo said hi.",
            "<user>",
            "Coffee too.",
        ]


async def test_a_held_chip_is_not_lost_when_the_answer_ends_mid_word() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        await stream(entry, ["Stopp", ("result",), ("user",), "ed"])
        await entry.flush()
        assert layout(entry) == ["Stopped"]  # still inside the word
        await entry.finish()
        assert layout(entry) == ["Stopped", "<result>", "<user>"]
        await entry.add_chip("info", "after the end")  # e.g. a held call finishing later
        assert layout(entry) == ["Stopped", "<result>", "<user>", "<info>"]


async def test_a_trap_chip_shows_at_once_and_later_chips_follow_it() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        await stream(entry, ["Let me wa", ("trap", "now"), ("result",), "it."])
        assert layout(entry) == ["Let me wa", "<trap>", "<result>"]
        await entry.finish()
        assert layout(entry) == ["Let me wa", "<trap>", "<result>", "it."]


async def test_the_copied_answer_keeps_the_space_and_breaks_around_chips() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        # The held chip is placed by a flush that holds only the space after
        # the word (the screen flushes on a timer, so this happens at random).
        await stream(entry, ["Line", ("result",)])
        entry.add_text(" ")
        await entry.flush()
        await stream(entry, ["19 of it.", ("result",), "\n\n", ("result",), "Next part."])
        await entry.finish()
        assert layout(entry) == [
            "Line 19 of it.",
            "<result>",
            "<result>",
            "<result>",
            "Next part.",
        ]
        assert entry.markdown == "Line 19 of it.\n\nNext part."


async def test_a_result_mid_sentence_waits_for_the_sentence_to_end() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        await stream(
            entry,
            ["Let", ("result",), " me look", " that up.", " In Tokyo it is 14:01.", "\nMore"],
        )
        await entry.finish()
        assert layout(entry) == ["Let me look that up.", "<result>", "In Tokyo it is 14:01.\nMore"]
        # The raw view keeps where it really landed.
        assert entry.raw_text.startswith("Let[INTR] result [END] me look")


async def test_a_sentence_that_never_ends_lets_its_chip_in_after_a_while() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        words = [" word"] * 60  # 300 characters, no full stop
        await stream(entry, ["Start", ("result",), *words])
        await entry.flush()
        kinds = layout(entry)
        assert "<result>" in kinds and kinds[-1] != "<result>"


async def test_a_call_the_model_writes_mid_sentence_stays_after_its_word() -> None:
    async with Host().run_test() as pilot:
        entry = pilot.app.query_one(AssistantEntry)
        await stream(entry, ["I will ch", ("call",), "eck now. Done."])
        await entry.finish()
        assert layout(entry) == ["I will check", "<call>", "now. Done."]
