"""What a turn is given (:class:`TurnPlan`) and what it counts (:class:`TurnStats`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.core.api.enums import Injection, StopReason
from asynclm_tui.core.cml.constrain import ToolShape
from asynclm_tui.core.decode.jump_forward import BlockMeter
from asynclm_tui.core.decode.mailbox import Policy
from asynclm_tui.core.settings.config import GenerationSettings


@dataclass(frozen=True)
class TurnPlan:
    """Everything fixed for one turn."""

    gen: GenerationSettings
    seed: int
    injection: Injection = Injection.KV
    shapes: dict[str, ToolShape] | None = None
    """Call grammars per tool; None: call blocks are not followed by a grammar."""
    mask_calls: bool = True
    """Sample call blocks under the grammar (``constrain_calls``); False: the
    grammar only follows what the model writes (for jump-forward)."""
    jump_forward: bool = False
    """Append what the grammar forces as one batch (jump-forward decoding)."""
    drafts: bool = False
    """Check drafted call text in the step's decode call (the backend verifies)."""
    request: str = ""
    """The user's message: arguments are drafted from it."""
    forced: list[int] | None = None
    """Teacher-forced tokens (a script); None: the model samples."""
    estimate: Callable[[str, tuple[Any, ...], Mapping[str, Any]], float] = (
        lambda name, args, kwargs: 0.0
    )
    """Expected duration of a call (tool, positional and keyword arguments),
    shown with it."""
    make_room: Callable[[int], bool] | None = None
    """Called when ``n`` more tokens would overflow the window; True once it
    made room (the oldest turns left the context, see context_window)."""
    wait_at_end_s: float | None = None
    """Most seconds the answer waits at its end for calls still running
    before it leaves them in the background (None: waits for all)."""
    policy_for: Callable[[str], Policy] = lambda name: Policy()
    """How a tool's results are delivered (``background``, ``deliver``...)."""


@dataclass
class TurnStats:
    """Counters for the ``done`` event."""

    n_generated: int = 0
    """Tokens the model wrote: sampled and grammar-forced."""
    n_forced: int = 0
    """Of those, appended by jump-forward without a decode step of their own."""
    n_drafted: int = 0
    """Of those, drafted and kept: sampled, but at a position of an earlier
    decode call (see :mod:`~asynclm_tui.core.decode.drafts`)."""
    n_injected: int = 0
    waited_s: float = 0.0
    reason: StopReason = StopReason.EOS
    text: list[str] = field(default_factory=list)
    blocks: BlockMeter = field(default_factory=BlockMeter)
    """Call blocks: tokens sampled and forced, time to write each."""
