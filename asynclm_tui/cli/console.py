"""The ``asynclm`` console script: the collector paused, then the command line.

Kept light on purpose: nothing is imported before collection is paused
(:mod:`asynclm_tui.ui.streaming.startup_gc`), and the command tree, typer
with it, only after.
"""

from __future__ import annotations

from asynclm_tui.ui.streaming.startup_gc import pause_collection


def main() -> None:
    """Console-script entry point: ``asynclm``."""
    pause_collection()
    from asynclm_tui.cli.app import entry

    entry()
