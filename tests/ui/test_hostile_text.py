"""Escape and control sequences from outside (model text, tool results, errors,
file names, toasts) are shown on screen, never sent to the terminal as commands."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import _text, play, replay_app  # noqa: E402
from textual.widget import Widget  # noqa: E402

from asynclm_tui.core.api.display import visible  # noqa: E402
from asynclm_tui.core.api.enums import CallStatus, InterruptKind, Mode, StopReason  # noqa: E402
from asynclm_tui.core.api.events import (  # noqa: E402
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    ModelLoaded,
    Token,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.ui.screens.call_detail import CallDetailScreen  # noqa: E402

ESC = "\x1b"
SEQUENCES = {
    "osc52 clipboard": f"{ESC}]52;c;VE9PTFBXTg==\x07",
    "osc0 title": f"{ESC}]0;PWNED-TITLE\x07",
    "osc2 title, ST": f"{ESC}]2;PWNED-TITLE{ESC}\\",
    "osc8 link": f"{ESC}]8;;https://evil.example{ESC}\\click{ESC}]8;;{ESC}\\",
    "csi mouse on": f"{ESC}[?1000h",
    "csi colour": f"{ESC}[31mred{ESC}[0m",
    "csi clear": f"{ESC}[2J{ESC}[H",
    "dcs": f"{ESC}Pq#0;2;0;0;0{ESC}\\",
    "apc": f"{ESC}_Gf=100;payload{ESC}\\",
    "c1 csi": "\x9b?1000h",
    "c1 osc": "\x9d52;c;VE9PTFBXTg==\x9c",
    "every c0": "".join(chr(c) for c in range(0x20) if c not in (9, 10)) + "\x7f",
}
HOSTILE = " ".join(SEQUENCES.values())
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_every_control_character_gets_a_visible_stand_in_of_one_character() -> None:
    for name, sequence in SEQUENCES.items():
        shown = visible(sequence)
        assert not CONTROL.search(shown), name
        assert len(shown) == len(sequence), name  # offsets into the text stay valid
    assert visible("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


def drawn(widgets: list[Widget]) -> str:
    """Everything the widgets draw, as the segments handed to the terminal."""
    out = []
    for widget in widgets:
        if not widget.display or widget.size.height == 0:
            continue
        for y in range(widget.size.height):
            out.append("".join(segment.text for segment in widget.render_line(y)))
    return "\n".join(out)


EVENTS: list[Event] = [
    ModelLoaded(0.3, f"evil{ESC}]2;T{ESC}\\.gguf", 2048, 0, False, 100.0, 2, ("echo",)),
    TurnStarted(1.0, 1, Mode.ASYNC, f"hi {HOSTILE}"),
    *_text(1.1, f"Model says {HOSTILE}"),
    Token(1.5, "[CALL] e [HEAD] echo(text='x') [END]", ""),
    CallIssued(1.6, "e", "echo", (), {"text": HOSTILE}, True, 20.0),
    CallUpdated(1.6, "e", CallStatus.RUNNING),
    CallFinished(1.7, "e", True, 30.0, CallStatus.DONE, f"tool says {HOSTILE}"),
    Interrupt(1.8, "e", f"tool says {HOSTILE}", 40, 1.0, 1.0, InterruptKind.TOOL),
    TurnFailed(1.9, f"backend says {HOSTILE}"),
    TurnDone(2.0, StopReason.ERROR, 10, 10, 10, 20, 2048, 100.0, 100.0, 10.0, ""),
]


async def test_no_path_hands_a_control_character_to_the_terminal() -> None:
    app = replay_app(EVENTS)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        app.notify(f"toast {HOSTILE}", title=f"title {ESC}]2;T\x07")
        await pilot.pause()
        screen = drawn(list(app.screen.walk_children(Widget)))
        assert "Model says" in screen and "tool says" in screen
        assert not CONTROL.search(screen)
        toasts = [n.message + n.title for n in app._notifications]
        assert toasts and not any(CONTROL.search(t) for t in toasts)
        await pilot.press("ctrl+r")  # the raw CML view
        await pilot.pause()
        assert not CONTROL.search(drawn(list(app.screen.walk_children(Widget))))
        app.push_screen(CallDetailScreen(app.state.calls["e"]))
        await pilot.pause()
        detail = drawn(list(app.screen.walk_children(Widget)))
        assert "tool says" in detail and not CONTROL.search(detail)
