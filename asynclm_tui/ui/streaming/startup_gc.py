"""The cyclic garbage collector paused while the program starts.

Start-up (importing Textual, pydantic and typer, building the first screen)
allocates a great many long-lived objects and almost no garbage, so the
collections that would run meanwhile only walk those objects again and again
(docs/sessions.md has the measurements).  The console script pauses
collection before its first heavy import; it resumes once the chat's first
frame has reached the terminal, or when any other command starts its work,
and what start-up built is then frozen (:func:`gc.freeze`): later full
collections skip the modules, classes and first widgets that live as long
as the process.

The console script imports this before anything else, so it imports
nothing but :mod:`gc` (and its packages import nothing).
"""

from __future__ import annotations

import gc

_paused = False


def pause_collection() -> None:
    """Pause the cyclic collector for start-up (reference counting goes on)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collection() -> None:
    """End the start-up pause, once: freeze what exists and collect again.

    A no-op when :func:`pause_collection` did not pause it (tests, a library
    user, a second call).
    """
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
