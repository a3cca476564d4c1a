"""The console script pauses garbage collection for start-up, and every command resumes it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import atexit, gc, sys
sys.argv = ["asynclm", *sys.argv[1:]]
from asynclm_tui.cli import console
import asynclm_tui.cli.app as cli_app
real_entry = cli_app.entry
def entry():
    print("paused when the CLI starts:", not gc.isenabled(), file=sys.stderr)
    real_entry()
cli_app.entry = entry
atexit.register(
    lambda: print("at exit:", gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)
)
console.main()
"""


def probe(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_command_other_than_the_chat_collects_garbage_again() -> None:
    err = probe("tools", "list")
    assert "paused when the CLI starts: True" in err
    assert "at exit: True True" in err


def test_collection_is_not_touched_when_nothing_paused_it() -> None:
    import gc

    from asynclm_tui.ui.streaming.startup_gc import resume_collection

    frozen = gc.get_freeze_count()
    resume_collection()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_the_pause_comes_before_any_heavy_import() -> None:
    # The console script's own imports are the collector switch and nothing else:
    # typer, pydantic and Textual are imported after collection is paused.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import asynclm_tui.cli.console\n"
        "new = sorted(m for m in set(sys.modules) - before if not m.startswith('asynclm_tui'))\n"
        "print(','.join(new))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.strip().split(",")) <= {"", "__future__", "gc"}, done.stdout
