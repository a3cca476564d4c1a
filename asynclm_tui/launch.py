"""The ``asynclm`` console script, started with the cyclic garbage collector paused.

Importing Textual, pydantic and typer and building the first screen allocate
hundreds of thousands of long-lived objects and almost no garbage, yet the
collector ran about 300 times before the first frame of a chat, twice over
every object (95 ms of a launch on a 2-vCPU VM; docs/sessions.md).  So
collection waits until the chat's first frame has reached the terminal, or
until any other command starts its work, and what start-up built is then
frozen (:func:`gc.freeze`): later full collections skip the modules, classes
and first widgets that live as long as the process.
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


def main() -> None:
    """Console-script entry point: ``asynclm``."""
    pause_collection()
    from asynclm_tui.cli import entry

    entry()
