"""The behaviours the training set teaches: one generator each, and its share.

A generator is ``(ctx, index) -> Example | None`` (None: it could not make
one from this draw; the builder draws again).  A new behaviour is a new
generator registered here, not a rewrite of the others.  The next one planned
is calls left running in the background when an answer ends (say so, then
report the result in a turn started by it): it goes in a module of its own
beside ``gen_steer``, with its entry in :data:`MIX`.
"""

from __future__ import annotations

from collections.abc import Callable

from asynclm_tui.lab.train.example import Context, Example
from asynclm_tui.lab.train.gen_bfcl import bfcl, bfcl_sync
from asynclm_tui.lab.train.gen_chat import history
from asynclm_tui.lab.train.gen_steer import follow_up, steer_story, steer_tool
from asynclm_tui.lab.train.gen_tools import doc, failed, multi, none, none_doc, single

Generator = Callable[[Context, int], Example | None]

GENERATORS: dict[str, Generator] = {
    "single": single, "multi": multi, "failed": failed, "doc": doc, "none": none,
    "none_doc": none_doc, "steer_story": steer_story, "steer_tool": steer_tool,
    "follow_up": follow_up, "history": history, "bfcl": bfcl, "bfcl_sync": bfcl_sync,
}  # fmt: skip
"""Every behaviour, by the ``kind`` its examples carry."""

MIX: dict[str, float] = {
    "single": 0.16, "multi": 0.15, "failed": 0.04, "doc": 0.08, "none": 0.15, "none_doc": 0.03,
    "steer_story": 0.11, "steer_tool": 0.06, "follow_up": 0.03, "history": 0.09, "bfcl": 0.06,
    "bfcl_sync": 0.04,
}  # fmt: skip
"""Share of each behaviour among the examples."""
